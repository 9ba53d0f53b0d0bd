/**
 * The default name of the schema the history lives in, in a module of its own that loads
 * nothing: the CLI's --help and --version show it without loading the engine (history.ts
 * re-exports it for everyone else).
 */
export const DEFAULT_HISTORY_SCHEMA = 'rds_migrate';
