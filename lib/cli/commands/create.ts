/**
 * `rds-migrate create`: a new empty SQL or TS migration on top of the head, or with
 * `--autogenerate` the migrations from head's schema to the wanted one (check/autogenerate.ts).
 * A table or column that disappears while one of its shape appears is a rename or a drop and an
 * add: `--rename` and `--drop-add` say which, else the person at the terminal is asked, else
 * nothing is written (check/rename-decisions.ts).
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { createMigration } from '../../engine/authoring.ts';
import { GraphError, UsageError } from '../../engine/errors.ts';
import type { RevisionGraph } from '../../engine/graph.ts';
import { FILL_FLAG, parseFills } from '../../schema/not-null-fill.ts';
import { DROP_ADD_FLAG, RENAME_FLAG } from '../../schema/rename-decisions.ts';
import { type CommandContext, example, type Session } from '../session.ts';

// What only --autogenerate uses, loaded when it runs: the schema tools and the linter they bring.
const autogeneration = () => import('../../schema/autogenerate.ts');
const wantedSchemas = () => import('../../schema/wanted-schema.ts');
// Loaded when create runs, not to define it: report.ts brings the engine's readers of background runs
// and schema drift.
const reports = () => import('../report.ts');

const MERGE_HINT = 'rds-migrate merge -m "merge heads"';

/**
 * A new migration has exactly one parent: with several heads, the user names it or merges first.
 * (The graph's own message offers 'heads', which means something only to up and stamp.)
 */
function assertOneParent(graph: RevisionGraph, head: string | undefined): void {
  if (head === 'heads') {
    throw new UsageError(
      `create builds on one parent: name it with --head <rev> (rds-migrate heads lists them), or join the heads first with ${MERGE_HINT}`,
    );
  }
  if (head === undefined && graph.heads.length > 1) {
    throw new GraphError(
      'multiple-heads',
      `the folder has ${graph.heads.length} heads (${graph.heads.join(', ')}): name the parent with --head <rev>, ` +
        `or join them first with ${MERGE_HINT}`,
      graph.heads,
    );
  }
}

interface CreateOptions {
  ts?: boolean;
  head?: string;
  autogenerate?: boolean;
  wantedSchema?: string;
  rename: string[];
  dropAdd: string[];
  fill: string[];
  json?: boolean;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerCreate(program: Command, { io, session }: CommandContext): void {
  example(
    program
      .command('create')
      .description(
        'write a new migration on top of the current head: empty, or with --autogenerate the one(s) that take ' +
          "head's schema to the schema the app wants",
      )
      .argument('<message...>', 'what the migration does; names the file')
      .option('--ts', 'a TypeScript migration (code, ctx.batch for data) instead of SQL')
      .option('--head <rev>', 'the parent to build on when the folder has several heads')
      .option(
        '--autogenerate',
        "generate the migration(s) from the difference between head's schema and the wanted schema, rewritten to " +
          'the safety rules and verified (round trip, empty diff after) on shadow databases of the server',
      )
      .option(
        '--wanted-schema <source>',
        'with --autogenerate: a folder of CREATE statements applied in name order, or drizzle:<models file> ' +
          '(default: "wantedSchema" of rds-migrate.config.json, else schema/)',
      )
      .option(
        `${RENAME_FLAG} <old=new>`,
        'with --autogenerate: a table or column that disappears is renamed to one that appears, not dropped and ' +
          'added (repeatable): posts=articles, users.name=users.full_name (or users.name=full_name), ' +
          'billing.invoices.total=amount',
        collect,
        [],
      )
      .option(
        `${DROP_ADD_FLAG} <old=new>`,
        'with --autogenerate: that pair really is a drop and an add, not a rename (repeatable); the drop ' +
          'awaits a reason on its allow line. Without either flag a terminal is asked about each pair, and ' +
          'with no terminal nothing is written',
        collect,
        [],
      )
      .option(
        `${FILL_FLAG} <table.column=expr>`,
        'with --autogenerate: the value rows without one get when a column is made NOT NULL without a default ' +
          '(repeatable): users.score=0, "users.plan=\'free\'", "billing.invoices.total=price * quantity". The ' +
          'migration fills them in batches before the NOT NULL. Without it, when the database has such rows (or ' +
          'cannot tell), nothing is written',
        collect,
        [],
      )
      .option('--json', 'with --autogenerate: print the report as JSON')
      .action(async (words: string[], options: CreateOptions, command: Command) => {
        const s = session(command);
        const graph = await s.graphOrEmpty();
        assertOneParent(graph, options.head);
        const message = words.join(' ');
        if (options.autogenerate) {
          await createAutogenerated(s, graph, message, options, io.cwd);
          return;
        }
        if (
          options.wantedSchema !== undefined ||
          options.json ||
          options.rename.length > 0 ||
          options.dropAdd.length > 0 ||
          options.fill.length > 0
        )
          throw new UsageError(
            `--wanted-schema, ${RENAME_FLAG}, ${DROP_ADD_FLAG}, ${FILL_FLAG} and --json go with --autogenerate`,
          );
        const { revisionList } = await reports();
        const created = await createMigration(graph, {
          directory: s.migrationsDir,
          message,
          kind: options.ts ? 'ts' : 'sql',
          head: options.head,
        });
        s.print(
          `created ${relative(io.cwd, created.path)} (revision ${created.revision}, on ${revisionList(created.downRevisions)})`,
        );
      }),
    '  $ rds-migrate create "add user profile table"\n  $ rds-migrate create --ts "backfill normalized price"\n' +
      '  $ rds-migrate create --head 3f2a "fix on the billing branch"   # several heads: name the parent\n' +
      '  $ rds-migrate create --autogenerate "add profile image to users"   # from schema/\n' +
      '  $ rds-migrate create --autogenerate "add orders" --wanted-schema drizzle:src/db/schema.ts\n' +
      '  $ rds-migrate create --autogenerate "rename name" --rename users.name=users.full_name   # keeps the data\n' +
      '  $ rds-migrate create --autogenerate "articles" --rename posts=articles --rename posts.body=articles.text\n' +
      '  $ rds-migrate create --autogenerate "new name" --drop-add users.name=users.full_name   # really drop it\n' +
      '  $ rds-migrate create --autogenerate "score required" --fill users.score=0   # NOT NULL: rows without one get 0\n' +
      '  $ rds-migrate create --autogenerate "plan required" --fill "users.plan=coalesce(legacy_plan, \'free\')"\n' +
      '  $ rds-migrate create --autogenerate "add orders" --json | jq .review',
  );
}

async function createAutogenerated(
  s: Session,
  graph: RevisionGraph,
  message: string,
  options: CreateOptions,
  cwd: string,
): Promise<void> {
  if (options.ts) throw new UsageError('--autogenerate writes SQL migrations: leave out --ts');
  // Before the server is reached: a malformed --fill is said at once.
  await parseFills(options.fill);
  const [{ autogenerate, formatAutogenerate }, { findWantedSchema }] = await Promise.all([
    autogeneration(),
    wantedSchemas(),
  ]);
  const wanted = await findWantedSchema({ option: options.wantedSchema, cwd });
  if (!wanted) {
    throw new UsageError(
      'create --autogenerate compares head with the schema the app wants, and none is configured: create schema/ ' +
        'with its CREATE statements, or name one with --wanted-schema <folder|drizzle:file> or "wantedSchema" in ' +
        'rds-migrate.config.json',
    );
  }
  const confirm = s.io.confirm;
  const report = await s.withServer((server) =>
    autogenerate({
      server,
      graph,
      migrationsDir: s.migrationsDir,
      cwd,
      message,
      wanted,
      head: options.head,
      history: s.history,
      args: s.args,
      actor: s.actor,
      renames: { renames: options.rename, dropAdds: options.dropAdd },
      fills: options.fill,
      ...(confirm ? { askRename: (_pair, question) => confirm(question) } : {}),
    }),
  );
  if (options.json) s.printJson('create-autogenerate', report);
  else s.print(formatAutogenerate(report));
}
