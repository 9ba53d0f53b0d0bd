/**
 * The file a project keeps its rds-migrate settings in, by the one name every part reads it by:
 * the CLI and check (lib/local/project-config.ts) and the construct, whose synth-time check reads
 * it through the CLI (and so checks again when it changes).
 */
export const CONFIG_FILE = 'rds-migrate.config.json';
