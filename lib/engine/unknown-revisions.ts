/**
 * A database whose current revisions include ones the migrations at hand lack: a migration file
 * deleted after it was applied, or the database migrated from another git branch. Nothing can be
 * planned from there; Alembic's way out is `stamp --purge <revision>`, which forgets the current
 * revisions and records the one named. Here: what is unknown, where to recover to, and the error
 * that names the command.
 */
import { GraphError } from './errors.ts';
import type { RevisionGraph } from './graph.ts';
import type { HistoryState } from './history.ts';
import type { Revision } from './migration.ts';

/**
 * How the caller names the migrations and the purge in messages: the CLI's folder and command,
 * or the deployed function's bundle and payload.
 */
export interface RecoveryWords {
  /** Where the migrations come from, e.g. `migrations/` or `this function's bundle`. */
  readonly migrations: string;
  /** What a stamp adds to purge: `--purge`, or `"purge": true`. */
  readonly purgeFlag: string;
  /** The command that purges and records `targets` (empty: base). */
  purgeCommand(targets: readonly string[]): string;
}

/** The CLI's words, with the default folder. */
export const CLI_RECOVERY: RecoveryWords = cliRecovery('migrations/');

/** The CLI's words for a migrations folder as the user names it (`-d db/migrations`). */
export function cliRecovery(folder: string, directoryOption = ''): RecoveryWords {
  return {
    migrations: folder,
    purgeFlag: '--purge',
    purgeCommand: (targets) =>
      `rds-migrate${directoryOption} stamp --purge ${targets.length === 0 ? 'base' : targets.join(' ')}`,
  };
}

/**
 * The deployed function's words: its bundle, and the manual invoke that purges (a write, so
 * behind "confirm" and the construct's opt-in like every other).
 */
export const FUNCTION_RECOVERY: RecoveryWords = {
  migrations: "this function's bundle",
  purgeFlag: '"purge": true',
  purgeCommand: (targets) =>
    `the invoke {"action":"stamp","revision":"${targets.length === 0 ? 'base' : targets.join(' ')}","purge":true,"confirm":true}`,
};

/** The current revisions no migration in `graph` defines. */
export function unknownHeads(graph: RevisionGraph, heads: readonly Revision[]): Revision[] {
  return heads.filter((revision) => !graph.has(revision));
}

/**
 * What a purge should most likely record: the newest revisions of `graph` that are applied by
 * the log's account (and the current heads it knows). After a deleted head file, its parent;
 * after a switch of branch, the revision both branches share; empty for base.
 */
export function recoveryTarget(
  graph: RevisionGraph,
  state: Pick<HistoryState, 'heads' | 'checksums'>,
): Revision[] {
  const applied = [...state.heads, ...state.checksums.keys()].filter((revision) => graph.has(revision));
  return graph.headsOf(graph.ancestors(applied));
}

/**
 * A database at revisions the migrations lack cannot be planned from (a deleted file, another
 * branch's revisions): the error names the purge that recovers, or, for a stamp (`stampTargets`,
 * as typed), that it needs `--purge`.
 */
export function assertHeadsKnown(
  graph: RevisionGraph,
  state: Pick<HistoryState, 'heads' | 'checksums'>,
  words: RecoveryWords,
  stampTargets?: readonly string[],
): void {
  const unknown = unknownHeads(graph, state.heads);
  if (unknown.length === 0) return;
  if (stampTargets) throw new UnknownRevisionError(unknown, stampTargets, words, 'stamp');
  throw new UnknownRevisionError(unknown, recoveryTarget(graph, state), words, 'run');
}

/**
 * The database is at revisions the migrations lack. For `up`, `down` and the like the message
 * names the purge that recovers; for a stamp without `--purge`, that it needs one.
 */
export class UnknownRevisionError extends GraphError {
  constructor(
    readonly unknown: readonly Revision[],
    /** What `stamp --purge` should record: the user's stamp target, or {@link recoveryTarget}. */
    readonly recoverTo: readonly string[],
    words: RecoveryWords,
    asked: 'run' | 'stamp',
  ) {
    super('unknown-revision', unknownMessage(unknown, recoverTo, words, asked), [...unknown]);
  }
}

function unknownMessage(
  unknown: readonly Revision[],
  recoverTo: readonly string[],
  words: RecoveryWords,
  asked: 'run' | 'stamp',
): string {
  const plural = unknown.length > 1;
  const it = plural ? 'them' : 'it';
  const at =
    `the database is at revision${plural ? 's' : ''} ${unknown.join(', ')} ` +
    `(${plural ? 'revisions' : 'a revision'} no file in ${words.migrations} has; a deleted migration, or another branch's)`;
  const command = words.purgeCommand(recoverTo);
  if (asked === 'stamp') {
    return `${at}, which a stamp cannot move from without forgetting ${it}; add ${words.purgeFlag}: ${command}`;
  }
  const recorded =
    recoverTo.length === 0
      ? 'base (the log says nothing here is applied)'
      : `${recoverTo.join(', ')}, the newest revision${recoverTo.length > 1 ? 's' : ''} here the log says ` +
        `${recoverTo.length > 1 ? 'are' : 'is'} applied`;
  return (
    `${at}, so nothing can be planned from there. Run from the code that has ${it}, or go on from this ` +
    `folder: ${command} forgets ${it} and records ${recorded}; the schema stays as it is (undo by hand ` +
    `what ${it} changed, if need be); then run this again`
  );
}
