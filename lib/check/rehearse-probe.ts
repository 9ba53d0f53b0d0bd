/**
 * The rehearsal's instruments. `ProbedDatabase` is the Database the real runner drives: each
 * statement of the plan's migrations goes to the server on its own (a step's SQL otherwise travels
 * as one round trip), measured: its time, the rows it touched, the relation locks its session took
 * (pg_locks of its own backend, read inside the transaction) and the tables whose relfilenode it
 * changed (a rewrite). `LockWatcher` samples the rehearsal's backend from a second session: whether
 * it waits for a lock, on what, and who blocks it (rehearse-watcher.ts). The runner's bookkeeping
 * passes through as sent.
 */
import type { Database, QueryResult } from '../engine/database.ts';
import type { Revision } from '../engine/migration.ts';
import type { PlanStep } from '../engine/plan.ts';
import { splitIntoUnits } from '../engine/plan-run.ts';
import { type Statement, splitStatements } from '../engine/statements.ts';
import { sqlOf } from '../engine/step-runner.ts';
import type { FailedAt } from './rehearse-rows.ts';
import type { LockWait, LockWatcher } from './rehearse-watcher.ts';

/** A relation lock a statement's session took, and how long its transaction kept it. */
export interface TakenLock {
  readonly relation: string;
  readonly mode: string;
  /** From when the statement had it (its start, after any wait) to its transaction's end. */
  readonly heldMs?: number;
}

/** A relation whose storage a statement replaced: same oid, new relfilenode. */
export interface Rewrite {
  readonly relation: string;
  readonly relfilenodeBefore: number;
  readonly relfilenodeAfter: number;
}

export interface MeasuredStatement {
  readonly phase: 'up' | 'down';
  readonly revision: Revision;
  readonly source: string;
  /** The statement's line in the migration's file (SQL migrations). */
  readonly line?: number;
  /** The statement, or a TS migration's query, as sent (at most 300 characters). */
  readonly text: string;
  /** 1 the first time; 2 and on when the runner tried its unit again after a lock timeout. */
  readonly attempt: number;
  readonly durationMs: number;
  /** PostgreSQL's command tag: UPDATE, ALTER TABLE, CREATE INDEX. */
  readonly command?: string;
  /** Rows the statement touched, as PostgreSQL counts them (DML and SELECT; null for DDL). */
  readonly rows?: number | null;
  readonly locks: readonly TakenLock[];
  readonly rewrote: readonly Rewrite[];
  readonly waits: readonly LockWait[];
  /**
   * The statement failed: SQLSTATE, message and where PostgreSQL says (no DETAIL here: it is row
   * data, which only the rehearsal's failure carries).
   */
  readonly error?: FailedAt & { readonly message: string };
}

/** pg's Client tells where its session stands: 'I' idle, 'T' in a transaction, 'E' in a failed one. */
interface TransactionStatus {
  getTransactionStatus(): string | null;
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: unknown[]; rowCount: number | null; command: string }>;
}

/** The relation locks and relfilenodes a session sees, in one round trip. */
const SESSION_STATE_SQL = `SELECT
  (SELECT coalesce(json_agg(json_build_object('relation', coalesce(quote_ident(n.nspname) || '.' || quote_ident(c.relname), l.relation::text), 'mode', l.mode)), '[]')
     FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted
       AND coalesce(n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname <> $1, true)) AS locks,
  (SELECT coalesce(json_object_agg(c.oid::text, json_build_object('relation', quote_ident(n.nspname) || '.' || quote_ident(c.relname), 'relfilenode', c.relfilenode::int8)), '{}')
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname <> $1) AS files`;

type Files = Record<string, { relation: string; relfilenode: number }>;

/** Tables and materialized views by oid, with their relfilenode: what a rewrite changes. */
export async function relationFiles(db: Database, historySchema: string): Promise<Files> {
  const result = await db.query<{ files: Files }>(SESSION_STATE_SQL, [historySchema]);
  return result.rows[0]?.files ?? {};
}

/** Relations of `before` whose relfilenode differs in `after`. */
export function rewritesBetween(before: Files, after: Files): Rewrite[] {
  return Object.entries(after)
    .filter(([oid, now]) => before[oid] !== undefined && before[oid]?.relfilenode !== now.relfilenode)
    .map(([oid, now]) => ({
      relation: now.relation,
      relfilenodeBefore: Number(before[oid]?.relfilenode),
      relfilenodeAfter: Number(now.relfilenode),
    }));
}

interface PlannedStatement {
  readonly step: number;
  readonly text: string;
  readonly line: number;
}

interface Window {
  readonly statement: Mutable<MeasuredStatement>;
  readonly startedAt: number;
  readonly endedAt: number;
  /** Locks this statement took inside its transaction, held until that transaction's end. */
  readonly open: Mutable<TakenLock>[];
  /** When its transaction ended (committed or rolled back). */
  transactionEndedAt?: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * The runner's session, statement by statement where the plan's migrations speak. `phase` is set
 * before each run (up, then down) with the plan about to run.
 */
export class ProbedDatabase implements Database {
  readonly measured: Mutable<MeasuredStatement>[] = [];
  private readonly windows: Window[] = [];
  private planned: PlannedStatement[] = [];
  private steps: readonly PlanStep[] = [];
  private unitStart: number[] = [];
  private phase: 'up' | 'down' = 'up';
  /** The step whose work runs now (index into steps), -1 before the first. */
  private cursor = -1;
  /** A TS migration's or a lone step's work runs: its queries are measured as its statements. */
  private inLoneStep = false;
  private files: Files = {};
  private windowsInTransaction: Window[] = [];
  private seenLocks = new Set<string>();
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly client: TransactionStatus,
    private readonly inner: Database,
    private readonly historySchema: string,
  ) {}

  /** Readies the probe for a run of `steps` (one phase of the rehearsal). */
  async expect(phase: 'up' | 'down', steps: readonly PlanStep[]): Promise<void> {
    this.phase = phase;
    this.steps = steps;
    this.cursor = -1;
    this.inLoneStep = false;
    this.unitStart = [];
    let first = 0;
    for (const unit of splitIntoUnits(steps)) {
      for (let index = 0; index < unit.steps.length; index++) this.unitStart.push(first);
      first += unit.steps.length;
    }
    this.planned = [];
    for (const [index, step] of steps.entries()) {
      const work = step.direction === 'up' ? step.migration.up : step.migration.down;
      const statements: Statement[] = await splitStatements(sqlOf(step)).catch(() => []);
      for (const statement of statements) {
        const line = work?.kind === 'sql' ? work.line + statement.line - 1 : statement.line;
        this.planned.push({ step: index, text: statement.text, line });
      }
    }
    this.files = await relationFiles(this.inner, this.historySchema);
  }

  async query<T = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<QueryResult<T>> {
    // A unit's BEGIN travels with its first query (plan-run.ts).
    const lone = LONE_TIMEOUTS.test(text.replace(/^BEGIN;\n/, '').trim());
    if (lone) this.enterLoneStep();
    // The next SQL step's text also ends a TS migration's work (match() moves the cursor on).
    const sql = values === undefined || values.length === 0;
    if (sql && this.planned.some((statement) => text.includes(statement.text))) return this.split<T>(text);
    if (!lone && this.inLoneStep && this.endsLoneStep(text)) this.inLoneStep = false;
    if (!lone && this.inLoneStep) {
      const step = this.steps[this.cursor];
      if (step && (step.direction === 'up' ? step.migration.up : step.migration.down)?.kind === 'code')
        return this.measure<T>(text, values, { step: this.cursor, text, line: 0 });
    }
    return this.passThrough<T>(text, values);
  }

  private async passThrough<T>(text: string, values?: readonly unknown[]): Promise<QueryResult<T>> {
    if (/^\s*ROLLBACK\s*;?\s*$/i.test(text)) this.rewindToUnit();
    try {
      return await this.inner.query<T>(text, values);
    } finally {
      this.noteTransactionEnd();
    }
  }

  /** A text holding the plan's statements: each sent alone, in order, stopping at the first error. */
  private async split<T>(text: string): Promise<QueryResult<T>> {
    const parts = await splitStatements(text);
    // A multi-statement query outside a transaction is one implicit transaction: keep it one.
    const implicit =
      parts.length > 1 &&
      this.client.getTransactionStatus() === 'I' &&
      !/^BEGIN\b/i.test(parts[0]?.text ?? '');
    if (implicit) await this.inner.query('BEGIN');
    let last: QueryResult<T> = { rows: [], rowCount: null };
    try {
      for (const part of parts) {
        const planned = this.match(part.text);
        last = planned
          ? await this.measure<T>(part.text, undefined, planned)
          : await this.passThrough<T>(part.text);
      }
      if (implicit) await this.passThrough('COMMIT');
      return last;
    } catch (error) {
      if (implicit) await this.passThrough('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /** The planned statement this text is: the first at or after the current step, else the latest before (a retry). */
  private match(text: string): PlannedStatement | undefined {
    const candidates = this.planned.filter((statement) => statement.text === text);
    const ahead = candidates.find((statement) => statement.step >= Math.max(this.cursor, 0));
    const found = ahead ?? candidates[candidates.length - 1];
    if (found) {
      this.cursor = found.step;
      this.inLoneStep = false;
    }
    return found;
  }

  private async measure<T>(
    text: string,
    values: readonly unknown[] | undefined,
    planned: PlannedStatement,
  ): Promise<QueryResult<T>> {
    const step = this.steps[planned.step] as PlanStep;
    const key = `${this.phase}:${planned.step}:${planned.line}:${text}`;
    const attempt = (this.attempts.get(key) ?? 0) + 1;
    this.attempts.set(key, attempt);
    const statement: Mutable<MeasuredStatement> = {
      phase: this.phase,
      revision: step.revision,
      source: step.migration.source,
      ...(planned.line > 0 ? { line: planned.line } : {}),
      text: text.length > 300 ? `${text.slice(0, 297)}...` : text,
      attempt,
      durationMs: 0,
      locks: [],
      rewrote: [],
      waits: [],
    };
    this.measured.push(statement);
    const startedAt = performance.now();
    const open: Mutable<TakenLock>[] = [];
    try {
      const result = await this.client.query(text, values as unknown[] | undefined);
      statement.durationMs = roundMs(performance.now() - startedAt);
      statement.command = result.command;
      statement.rows = result.rowCount;
      const endedAt = performance.now();
      await this.afterStatement(statement, open);
      this.record({ statement, startedAt, endedAt, open });
      return { rows: result.rows as T[], rowCount: result.rowCount };
    } catch (error) {
      statement.durationMs = roundMs(performance.now() - startedAt);
      const fields = error as FailedAt & { message?: string };
      // Outside the plan's transaction the runner tries a statement with its progress record first,
      // and alone when PostgreSQL refuses it in a transaction block: only the run alone counts.
      if (fields.code === ACTIVE_SQL_TRANSACTION && !step.migration.transaction) {
        this.measured.splice(this.measured.indexOf(statement), 1);
        this.attempts.set(key, attempt - 1);
        throw error;
      }
      statement.error = {
        ...(fields.code ? { code: fields.code } : {}),
        message: String(fields.message ?? error),
        ...(fields.schema ? { schema: fields.schema } : {}),
        ...(fields.table ? { table: fields.table } : {}),
        ...(fields.column ? { column: fields.column } : {}),
      };
      this.record({ statement, startedAt, endedAt: performance.now(), open });
      throw error;
    } finally {
      this.noteTransactionEnd();
    }
  }

  /** The locks the statement took (new in its transaction) and the tables it rewrote. */
  private async afterStatement(statement: Mutable<MeasuredStatement>, open: Mutable<TakenLock>[]) {
    const state = await this.inner.query<{ locks: { relation: string; mode: string }[]; files: Files }>(
      SESSION_STATE_SQL,
      [this.historySchema],
    );
    const row = state.rows[0];
    const inTransaction = this.client.getTransactionStatus() === 'T';
    if (inTransaction) {
      for (const found of row?.locks ?? []) {
        // A relation gone by now (dropped, or a rewrite's transient one) is named if it was a table before.
        const relation = /^\d+$/.test(found.relation) ? this.files[found.relation]?.relation : found.relation;
        if (relation === undefined) continue;
        const lock = { relation, mode: found.mode };
        const id = `${lock.relation} ${lock.mode}`;
        if (this.seenLocks.has(id)) continue;
        this.seenLocks.add(id);
        open.push({ relation: lock.relation, mode: lock.mode });
      }
    }
    statement.locks = open;
    statement.rewrote = rewritesBetween(this.files, row?.files ?? {});
    this.files = row?.files ?? this.files;
  }

  private record(window: Window): void {
    this.windows.push(window);
    if (this.client.getTransactionStatus() !== 'I') this.windowsInTransaction.push(window);
  }

  /** Outside a transaction now: the locks taken in the one that ended are let go. */
  private noteTransactionEnd(): void {
    if (this.client.getTransactionStatus() !== 'I') return;
    const now = performance.now();
    for (const window of this.windowsInTransaction) window.transactionEndedAt = now;
    this.windowsInTransaction = [];
    this.seenLocks = new Set();
  }

  /**
   * Once the runs are over: each statement's lock waits from the watcher's samples, then how long
   * its locks were held, from when it had them (its start, after its wait) to its transaction's end.
   */
  finish(watcher: LockWatcher): void {
    for (const window of this.windows) {
      const { statement, startedAt, endedAt } = window;
      const wait = watcher.waitDuring(startedAt, endedAt, statement.durationMs);
      if (wait) statement.waits = [wait];
      if (window.open.length === 0 && statement.locks.length === 0) {
        const seen = watcher.locksDuring(startedAt, endedAt);
        if (seen.length > 0) statement.locks = seen;
      }
      const waited = wait?.waitedMs ?? 0;
      const until = window.transactionEndedAt;
      for (const lock of window.open) {
        if (until !== undefined) lock.heldMs = roundMs(Math.max(0, until - startedAt - waited));
      }
    }
  }

  /** A step whose timeouts are set alone: a TS migration's (or one outside a transaction) begins. */
  private enterLoneStep(): void {
    const next = this.steps.findIndex((step, index) => index > this.cursor && loneStep(step));
    if (next >= 0) this.cursor = next;
    this.inLoneStep = next >= 0;
  }

  /** The runner's own writes (its history) or a transaction's end close a TS migration's work. */
  private endsLoneStep(text: string): boolean {
    return (
      text.includes(`"${this.historySchema}".`) ||
      text.includes(`${this.historySchema}.`) ||
      /^\s*(COMMIT|ROLLBACK)\b/i.test(text)
    );
  }

  /** A unit rolled back (to be tried again): its steps run from its first. */
  private rewindToUnit(): void {
    if (this.cursor < 0) return;
    this.cursor = (this.unitStart[this.cursor] ?? 0) - 1;
    this.inLoneStep = false;
  }
}

/** `SET [LOCAL] lock_timeout = '…'; SET [LOCAL] statement_timeout = '…';` sent alone (step-sql.ts). */
const LONE_TIMEOUTS = /^SET (LOCAL )?lock_timeout = '[^']*'; SET (LOCAL )?statement_timeout = '[^']*';$/;

/** SQLSTATE 25001: "cannot run inside a transaction block". */
const ACTIVE_SQL_TRANSACTION = '25001';

function loneStep(step: PlanStep): boolean {
  const work = step.direction === 'up' ? step.migration.up : step.migration.down;
  return work?.kind === 'code' || !step.migration.transaction;
}

function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
