/**
 * Every `--json` output keeps to its JSON Schema in schemas/: the schemas are what the output
 * types give (npm run schemas), and each command's real output, on the example app and a real
 * PostgreSQL, validates against its schema, undocumented fields included as failures. The
 * deployed function's answers (rds-migrate invoke) are validated the same way.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../lib/cli/program.ts';
import { generateSchemas, SCHEMAS_DIR, staleSchemas } from '../../scripts/json-schemas.ts';
import { cfnEvent, fakes, lambdaContext, REV, runProvider } from '../fixtures/handler/harness.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const repo = join(import.meta.dirname, '..', '..');
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats(ajv);
const validators = new Map<string, ValidateFunction>();

async function validator(name: string): Promise<ValidateFunction> {
  let validate = validators.get(name);
  if (!validate) {
    const schema = JSON.parse(await readFile(join(SCHEMAS_DIR, `${name}.schema.json`), 'utf8')) as object;
    validate = ajv.compile(schema);
    validators.set(name, validate);
  }
  return validate;
}

/** The schema's complaints about `value`, as readable lines (none: it keeps to the schema). */
async function violations(name: string, value: unknown): Promise<string[]> {
  const validate = await validator(name);
  if (validate(value)) return [];
  return (validate.errors ?? []).map(
    (error) => `${name}: ${error.instancePath || '/'} ${error.message} ${JSON.stringify(error.params)}`,
  );
}

describe('schemas/', () => {
  it('is what the output types give (run npm run schemas after changing one)', () => {
    const generated = generateSchemas();
    expect(staleSchemas(generated)).toEqual([]);
    expect([...generated.keys()].sort()).toEqual(
      [
        'backup-list',
        'backup',
        'check',
        'create-autogenerate',
        'current',
        'db-url',
        'diff',
        'doctor',
        'fleet-status',
        'heads',
        'history',
        'invoke',
        'restore',
        'run',
        'show',
        'squash',
        'status',
      ]
        .map((name) => `${name}.schema.json`)
        .sort(),
    );
  }, 30_000);
});

describe('every --json output keeps to its schema', () => {
  let database: TestDatabase;
  let project: string;
  const outputs = new Map<string, unknown[]>();

  beforeAll(async () => {
    database = await freshDatabase();
    project = await mkdtemp(join(tmpdir(), 'rds-migrate-json-'));
    await cp(join(repo, 'migrations'), join(project, 'migrations'), { recursive: true });
    await cp(join(repo, 'schema'), join(project, 'schema'), { recursive: true });
  });
  afterAll(async () => {
    await database.drop();
    await rm(project, { recursive: true, force: true });
  });

  /** Runs a command with --json and keeps its output under the schema's name. */
  async function json(schema: string, exit: number, ...argv: string[]): Promise<Record<string, unknown>> {
    const result = await runCliCaptured([...argv, '--json'], {
      env: { DATABASE_URL: database.url },
      cwd: project,
    });
    expect(result.code, `${argv.join(' ')}: ${result.stderr}`).toBe(exit);
    const value = JSON.parse(result.stdout) as Record<string, unknown>;
    outputs.set(schema, [...(outputs.get(schema) ?? []), value]);
    return value;
  }

  it('validates what each command prints, through a day of work on the example app', async () => {
    await json('status', EXIT.ok, 'status'); // nothing applied yet: all pending
    await json('run', EXIT.ok, 'up', 'head-1');
    await json('run', EXIT.ok, 'up');
    await json('status', EXIT.ok, 'status');
    await json('current', EXIT.ok, 'current');
    await json('history', EXIT.ok, 'history');
    await json('history', EXIT.ok, 'history', '--verbose');
    await json('show', EXIT.ok, 'show', 'head');
    await json('heads', EXIT.ok, 'heads');
    await json('check', EXIT.ok, 'check');
    await json('diff', EXIT.ok, 'diff');
    await json('doctor', EXIT.ok, 'doctor');
    const backup = await json('backup', EXIT.ok, 'backup');
    await json('backup-list', EXIT.ok, 'backup', 'list');
    await json('restore', EXIT.ok, 'restore', String(backup.id));
    await json('run', EXIT.ok, 'down', '-1');
    await json('run', EXIT.ok, 'stamp', 'head');
    await json('run', EXIT.ok, 'up'); // nothing to do
    await json('db-url', EXIT.failed, 'db', 'url'); // no embedded server in this project
    await json('squash', EXIT.ok, 'squash', '5a09c7d1e8b2', '--dry-run', '--drop-data');
    await json('fleet-status', EXIT.ok, 'fleet', 'status', database.url);
    await json('create-autogenerate', EXIT.ok, 'create', '--autogenerate', 'nothing changed');
    // A hand edit the migrations do not know of, then a wanted column: both reports have content.
    const connection = await database.connect();
    await connection.db.query('ALTER TABLE users ADD COLUMN nickname text');
    const diff = await json('diff', EXIT.failed, 'diff');
    expect(JSON.stringify(diff)).toContain('nickname');
    await connection.db.query('ALTER TABLE users DROP COLUMN nickname');
    const usersFile = join(project, 'schema', '010_users.sql');
    await writeFile(
      usersFile,
      (await readFile(usersFile, 'utf8')).replace(
        '  email_normalized text,\n',
        '  email_normalized text,\n  bio text,\n',
      ),
    );
    const created = await json('create-autogenerate', EXIT.ok, 'create', '--autogenerate', 'add bio');
    expect(JSON.stringify(created)).toContain('bio');

    const problems: string[] = [];
    for (const [name, values] of outputs) {
      for (const value of values) problems.push(...(await violations(name, value)));
    }
    expect(problems).toEqual([]);
    expect([...outputs.keys()].sort()).toEqual(
      ['backup', 'backup-list', 'check', 'create-autogenerate', 'current', 'db-url', 'diff', 'doctor']
        .concat(['fleet-status', 'heads', 'history', 'restore', 'run', 'show', 'squash', 'status'])
        .sort(),
    );
  }, 120_000);

  it('fails an output with a field its schema does not document, or a wrong type', async () => {
    const [history] = outputs.get('history') ?? [];
    expect(history).toBeDefined();
    expect(await violations('history', { ...(history as object), surprise: 1 })).toEqual([
      expect.stringContaining('must NOT have additional properties {"additionalProperty":"surprise"}'),
    ]);
    expect(await violations('current', { current: 'abc' })).toEqual([
      expect.stringContaining('/current must be array'),
    ]);
  });
});

describe("the deployed function's answers keep to schemas/invoke.schema.json", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await freshDatabase();
  });
  afterAll(async () => {
    await database.drop();
  });

  it('status, history, show, heads, up, down and stamp', async () => {
    const aws = fakes(database.url);
    const deployed = await runProvider(
      aws.handler('v1'),
      cfnEvent('cfn-create', { TargetRevision: REV.name }),
    );
    expect(deployed.status).toBe('SUCCESS');
    const answers: unknown[] = [];
    const invoke = async (payload: Record<string, unknown>) => {
      const answer = await aws.handler('v2')(payload, lambdaContext());
      answers.push(JSON.parse(JSON.stringify(answer)));
    };
    await invoke({ action: 'status' });
    await invoke({ action: 'history', limit: 5 });
    await invoke({ action: 'show', revision: REV.name });
    await invoke({ action: 'heads' });
    await invoke({ action: 'up', confirm: true, snapshot: false });
    await invoke({ action: 'down', revision: REV.name, confirm: true, snapshot: false });
    await invoke({ action: 'stamp', revision: 'head', confirm: true });
    const problems: string[] = [];
    for (const answer of answers) problems.push(...(await violations('invoke', answer)));
    expect(problems).toEqual([]);
    expect(answers.map((answer) => (answer as { action: string }).action)).toEqual([
      'status',
      'history',
      'show',
      'heads',
      'up',
      'down',
      'stamp',
    ]);
  }, 60_000);
});
