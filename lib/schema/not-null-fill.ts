/**
 * A column wanted NOT NULL with no default needs a value in the rows that have none:
 * `create --autogenerate --fill <table>.<column>=<sql expr>` gives it, and the generated
 * migrations backfill it in batches before the NOT NULL. Without one, the database the command
 * points at is asked whether such rows exist; when they do (or it cannot tell), nothing is
 * written, rather than a migration that `up` reaches and fails at VALIDATE.
 */

import { UsageError } from '../engine/errors.ts';
import { escapeIdentifier } from '../engine/sql-quote.ts';
import type { Server } from '../local/server.ts';

/** The command-line flag, in messages and `--help`. */
export const FILL_FLAG = '--fill';

/** `schema.table.column` → the SQL expression its rows without a value get. */
export type Fills = ReadonlyMap<string, string>;

/** A column made NOT NULL with no default and no `--fill`: rows may have no value for it. */
export interface ValueNeeded {
  /** `schema.table`. */
  readonly table: string;
  readonly column: string;
  /** `added`: a new column (every existing row lacks it); `existing`: a nullable column made NOT NULL. */
  readonly kind: 'added' | 'existing';
}

/** Rows need a value the command was not given: the message names `--fill` with an example. */
export class FillNeededError extends UsageError {}

/**
 * `--fill` values (`users.score=0`, `billing.invoices.total=price * quantity`) by column, each
 * expression checked to be one expression (no second statement can hide in it).
 */
export async function parseFills(values: readonly string[]): Promise<Map<string, string>> {
  const fills = new Map<string, string>();
  for (const value of values) {
    const at = value.indexOf('=');
    const target = at < 0 ? '' : value.slice(0, at).trim();
    const expression = at < 0 ? '' : value.slice(at + 1).trim();
    const parts = target.split('.');
    if (parts.length < 2 || parts.length > 3 || parts.some((part) => part === '') || expression === '') {
      throw new UsageError(
        `${FILL_FLAG} ${value}: expected <table>.<column>=<sql expression>, e.g. ${FILL_FLAG} users.score=0 ` +
          `or ${FILL_FLAG} "billing.invoices.total=price * quantity"`,
      );
    }
    await assertOneExpression(value, expression);
    const key = parts.length === 2 ? `public.${target}` : target;
    if (fills.has(key)) throw new UsageError(`${FILL_FLAG} names ${target} twice: give it one value`);
    fills.set(key, expression);
  }
  return fills;
}

async function assertOneExpression(value: string, expression: string): Promise<void> {
  const { parse } = await import('libpg-query');
  const wrapped = `SELECT (${expression})`;
  const statements = await parse(wrapped).then(
    (tree) => tree.stmts ?? [],
    () => [],
  );
  const select = statements.length === 1 ? statements[0]?.stmt : undefined;
  const targets = select && 'SelectStmt' in select ? (select.SelectStmt.targetList?.length ?? 0) : 0;
  if (targets !== 1) {
    throw new UsageError(
      `${FILL_FLAG} ${value}: "${expression}" is not one SQL expression; quote it for the shell, ` +
        `e.g. ${FILL_FLAG} "users.score=coalesce(age, 0)"`,
    );
  }
}

/** A `--fill` that names no column this change makes NOT NULL: most likely a typo. */
export function assertFillsUsed(
  fills: Fills,
  used: ReadonlySet<string>,
  needed: readonly ValueNeeded[],
): void {
  const unused = [...fills.keys()].filter((key) => !used.has(key));
  if (unused.length === 0) return;
  const wanted = needed.map((each) => `${shortName(each.table)}.${each.column}`);
  const candidates =
    wanted.length > 0 ? `; the columns it makes NOT NULL without a value: ${wanted.join(', ')}` : '';
  throw new UsageError(
    `${FILL_FLAG} ${unused.map(shortName).join(', ')}: this change makes no such column NOT NULL${candidates}`,
  );
}

/**
 * SQL that gives `column` its value in the rows that have none, a batch of pages at a time, each
 * committed (no long transaction, no lock held across batches): for a migration with
 * `transaction: false`. Rows written while it runs are caught by a last pass.
 */
export function backfillSql(table: string, column: string, expression: string): string {
  const [schema, name] = splitTable(table);
  const target = `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`;
  const col = escapeIdentifier(column);
  const relation = `'${target.replace(/'/g, "''")}'`;
  const set = `UPDATE ${target} SET ${col} = (${expression})`;
  return `DO $fill$
DECLARE
  pages bigint := pg_relation_size(${relation}) / current_setting('block_size')::bigint;
  first_page bigint := 0;
BEGIN
  WHILE first_page <= pages LOOP
    ${set}
      WHERE ${col} IS NULL AND ctid >= format('(%s,0)', first_page)::tid
        AND ctid < format('(%s,0)', first_page + ${PAGES_PER_BATCH})::tid;
    COMMIT;
    first_page := first_page + ${PAGES_PER_BATCH};
  END LOOP;
  ${set} WHERE ${col} IS NULL;
END
$fill$;`;
}

/** 1,000 pages of 8 kB: 8 MB of table a batch. */
const PAGES_PER_BATCH = 1000;

/**
 * Which of `needed` the database the command points at may have rows without a value for: the
 * ones it has such rows for, and the ones it cannot tell (no such table there, or no connection).
 */
async function rowsWithoutValue(
  server: Server,
  needed: readonly ValueNeeded[],
): Promise<{
  readonly found: readonly ValueNeeded[];
  readonly unknown: readonly (ValueNeeded & { why: string })[];
}> {
  const found: ValueNeeded[] = [];
  const unknown: (ValueNeeded & { why: string })[] = [];
  let connection: Awaited<ReturnType<Server['connect']>>;
  try {
    connection = await server.connect();
  } catch (error) {
    const why = `cannot connect to ${server.target}: ${(error as Error).message}`;
    return { found, unknown: needed.map((each) => ({ ...each, why })) };
  }
  try {
    for (const each of needed) {
      const [schema, name] = splitTable(each.table);
      const target = `${escapeIdentifier(schema)}.${escapeIdentifier(name)}`;
      const present = await connection.db.query<{ table: string | null; column: boolean }>(
        `SELECT to_regclass($1)::text AS table,
                EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2
                        AND attnum > 0 AND NOT attisdropped) AS column`,
        [target, each.column],
      );
      const row = present.rows[0];
      if (!row?.table) {
        unknown.push({
          ...each,
          why: `${server.target} has no table ${shortName(each.table)} (not migrated to head?)`,
        });
        continue;
      }
      const lacking =
        each.kind === 'added' || !row.column
          ? `SELECT EXISTS (SELECT 1 FROM ${target}) AS any`
          : `SELECT EXISTS (SELECT 1 FROM ${target} WHERE ${escapeIdentifier(each.column)} IS NULL) AS any`;
      if ((await connection.db.query<{ any: boolean }>(lacking)).rows[0]?.any) found.push(each);
    }
  } finally {
    await connection.close();
  }
  return { found, unknown };
}

/**
 * Before anything is generated: refuses the run (FillNeededError) when a column added NOT NULL
 * may lack a value in the target's rows (it has rows, or cannot tell), or when an existing
 * column made NOT NULL has NULLs there; an existing column that cannot be checked gets a note.
 */
export async function valuesNeededNotes(
  server: Server,
  message: string,
  needed: readonly ValueNeeded[],
): Promise<{ kind: 'not-null-unchecked'; message: string }[]> {
  if (needed.length === 0) return [];
  const { found, unknown } = await rowsWithoutValue(server, needed);
  const refused = unknown.filter((each) => each.kind === 'added');
  if (found.length > 0 || refused.length > 0)
    throw new FillNeededError(fillNeededMessage(server.target, message, found, refused));
  return unknown.map((each) => ({
    kind: 'not-null-unchecked',
    message:
      `${describe(each)}, and whether rows have NULL there could not be checked (${each.why}): a database with ` +
      `such rows fails at VALIDATE, and nothing after it runs; give them a value with ${FILL_FLAG} ` +
      `${shortName(each.table)}.${each.column}=<sql expression>`,
  }));
}

/** The refusal: which columns need a value, why it is known or not, and the flag with an example. */
function fillNeededMessage(
  target: string,
  message: string,
  found: readonly ValueNeeded[],
  unknown: readonly (ValueNeeded & { why: string })[],
): string {
  const lines = [
    ...found.map((each) =>
      each.kind === 'added'
        ? `${describe(each)}: ${target} has rows in ${shortName(each.table)}, and none of them has a ${each.column}`
        : `${describe(each)}: ${target} has rows of ${shortName(each.table)} whose ${each.column} is NULL`,
    ),
    ...unknown.map((each) => `${describe(each)}: whether rows lack a value cannot be known: ${each.why}`),
  ];
  const all = [...found, ...unknown].sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  const example = all.map((each) => `${FILL_FLAG} ${nameOf(each)}=<sql expression>`).join(' ');
  const first = nameOf(all[0] as ValueNeeded);
  return (
    `a value is needed for rows that have none, or the migration fails at VALIDATE:\n  ${lines.sort().join('\n  ')}\n` +
    `say what those rows get, and run again:\n  rds-migrate create --autogenerate "${message}" ${example}\n` +
    `<sql expression>: a constant (${FILL_FLAG} ${first}=0, ${FILL_FLAG} "${first}='none'") or an expression over the ` +
    `row (${FILL_FLAG} "${first}=coalesce(other_column, 0)"); the generated migration fills those rows in batches ` +
    'before the NOT NULL. Or give the column a DEFAULT in the wanted schema. Nothing was written'
  );
}

function nameOf(each: ValueNeeded): string {
  return `${shortName(each.table)}.${each.column}`;
}

function describe(each: ValueNeeded): string {
  const what = each.kind === 'added' ? 'is added NOT NULL without a default' : 'is made NOT NULL';
  return `${shortName(each.table)}.${each.column} ${what}`;
}

function splitTable(table: string): [string, string] {
  const at = table.indexOf('.');
  return at < 0 ? ['public', table] : [table.slice(0, at), table.slice(at + 1)];
}

/** `public.users` as `users`; other schemas keep theirs. */
function shortName(name: string): string {
  return name.replace(/^public\./, '');
}
