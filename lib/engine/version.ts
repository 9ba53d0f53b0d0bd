/**
 * This release of rds-migrate, as package.json names it (a test keeps the two equal). Recorded in
 * the history with every log row and format upgrade, so a history says which releases wrote it.
 */
export const RELEASE = '0.2.0';
