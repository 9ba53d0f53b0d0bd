/**
 * `npm run schemas`: the JSON Schemas of every `--json` output, in schemas/, generated from the
 * types the commands print (lib/cli/json-output.ts) and, for `invoke`, the deployed function's
 * answer (lambda/invoke.ts). `--check` writes nothing and exits 1 when a schema is out of date.
 * A test runs the same comparison, so a change to an output's shape shows in review as a change
 * to its schema.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGenerator, type Definition, type Schema } from 'ts-json-schema-generator';

const root = join(import.meta.dirname, '..');
export const SCHEMAS_DIR = join(root, 'schemas');

/** The command line each schema is the output of. */
const COMMANDS: Readonly<Record<string, string>> = {
  check: 'rds-migrate check --json (or --format json), and rds-migrate fleet check --json',
  history: 'rds-migrate history --json',
  show: 'rds-migrate show <revision> --json',
  heads: 'rds-migrate heads --json',
  status: 'rds-migrate status --json',
  current: 'rds-migrate current --json',
  run: 'rds-migrate up --json, down --json and stamp --json',
  diff: 'rds-migrate diff --json',
  'create-autogenerate': 'rds-migrate create --autogenerate --json',
  doctor: 'rds-migrate doctor --json',
  'db-url': 'rds-migrate db url --json',
  'backup-list': 'rds-migrate backup list --json',
  backup: 'rds-migrate backup --json',
  restore: 'rds-migrate restore <name> --json',
  squash: 'rds-migrate squash <revision> --json',
  'fleet-status': 'rds-migrate fleet status --json',
  invoke: 'rds-migrate invoke <action> --json, and aws lambda invoke on the deployed function',
};

function generator(path: string) {
  return createGenerator({
    path: join(root, path),
    tsconfig: join(root, 'tsconfig.json'),
    type: '*',
    // tsc checks these types already (npm run typecheck).
    skipTypeCheck: true,
    // An undocumented field fails validation: the schema must grow with the output.
    additionalProperties: false,
    expose: 'export',
    topRef: true,
    jsDoc: 'extended',
    sortProps: true,
  });
}

/** The definitions `start` reaches, by name. */
function reachable(definitions: Record<string, Definition>, start: unknown): Record<string, Definition> {
  const found: Record<string, Definition> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        const name = decodeURIComponent(value.replace('#/definitions/', ''));
        if (found[name] === undefined && definitions[name] !== undefined) {
          found[name] = definitions[name];
          visit(definitions[name]);
        }
      } else visit(value);
    }
  };
  visit(start);
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => a.localeCompare(b)));
}

function schemaFile(name: string, body: Definition, definitions: Record<string, Definition>): string {
  const { description, ...shape } = body;
  const schema = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: COMMANDS[name],
    ...(description ? { description } : {}),
    ...shape,
    definitions: reachable(definitions, shape),
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

/** Every schema file's name and text. */
export function generateSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  const cli = generator('lib/cli/json-output.ts').createSchema('JsonOutputs') as Schema;
  const definitions = (cli.definitions ?? {}) as Record<string, Definition>;
  const outputs = definitions.JsonOutputs?.properties as Record<string, Definition>;
  for (const [name, body] of Object.entries(outputs)) {
    if (COMMANDS[name] === undefined)
      throw new Error(`scripts/json-schemas.ts: no command line for '${name}'`);
    if (name === 'invoke') continue;
    files.set(`${name}.schema.json`, schemaFile(name, body, definitions));
  }
  const lambda = generator('lambda/invoke.ts').createSchema('InvokeResult') as Schema;
  const lambdaDefinitions = (lambda.definitions ?? {}) as Record<string, Definition>;
  files.set(
    'invoke.schema.json',
    schemaFile(
      'invoke',
      {
        description: "The deployed function's answer to a manual invoke, one shape per action.",
        $ref: '#/definitions/InvokeResult',
      },
      lambdaDefinitions,
    ),
  );
  return files;
}

/** Schema files that differ from what the types give, or are missing, or are left over. */
export function staleSchemas(generated: Map<string, string>): string[] {
  const stale: string[] = [];
  for (const [file, text] of generated) {
    const path = join(SCHEMAS_DIR, file);
    if (!existsSync(path) || readFileSync(path, 'utf8') !== text) stale.push(file);
  }
  if (existsSync(SCHEMAS_DIR)) {
    for (const file of readdirSync(SCHEMAS_DIR)) if (!generated.has(file)) stale.push(file);
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const generated = generateSchemas();
  if (process.argv.includes('--check')) {
    const stale = staleSchemas(generated);
    if (stale.length > 0) {
      console.error(`out of date in schemas/: ${stale.join(', ')}; run npm run schemas`);
      process.exit(1);
    }
    console.error(`schemas/: ${generated.size} schemas, up to date`);
  } else {
    rmSync(SCHEMAS_DIR, { recursive: true, force: true });
    mkdirSync(SCHEMAS_DIR);
    for (const [file, text] of generated) writeFileSync(join(SCHEMAS_DIR, file), text);
    console.error(`wrote ${generated.size} schemas to schemas/`);
  }
}
