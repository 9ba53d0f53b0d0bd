/**
 * `npm run demo:fleet`: a fleet rollout on one machine. Twenty tenant databases on an embedded
 * PostgreSQL, rolled out by the state machine `cdk synth` writes for a FleetMigrations (run by a
 * local ASL interpreter) whose tasks call the real fleet function, with AWS faked:
 *   1. the first deploy brings every tenant to v1: a canary, a wave of 25% five at a time, the rest;
 *   2. a deploy of v2 whose canary fails (its tenant holds data the migration refuses): the
 *      rollout stops there, the canary's transaction rolled back, no other tenant touched; the
 *      stack rolls back and nothing needs reverting;
 *   3. the tenant fixed, the same deploy again: clean, every tenant at v2.
 * After each step, the per-target table `rds-migrate fleet status` prints.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { formatFleetStatus, readFleetStatus } from '../lib/cli/fleet-status.ts';
import { RevisionGraph } from '../lib/engine/graph.ts';
import { History } from '../lib/engine/history.ts';
import { loadMigrations } from '../lib/engine/loader.ts';
import { startEmbedded } from '../lib/local/embedded.ts';
import { LocalFleet } from '../test/fixtures/fleet/rollouts.ts';

const BUNDLES = join(import.meta.dirname, '..', 'test', 'fixtures', 'fleet');
const REV = { v1: 'f1ee70000001', v2: 'f1ee70000002' } as const;
const STAGES = [
  { name: 'canary', targets: 1 },
  { name: 'wave', percent: 25, maxConcurrency: 5 },
  { name: 'rest', maxConcurrency: 10 },
];
const TENANTS = Array.from({ length: 20 }, (_, index) => `tenant_${String(index + 1).padStart(2, '0')}`);

const say = (text: string) => process.stdout.write(`${text}\n`);
const root = await mkdtemp(join(tmpdir(), 'rds-migrate-demo-fleet-'));
const server = await startEmbedded({ dataDir: join(root, 'data'), throwaway: true, database: 'postgres' });
const admin = new pg.Client({ connectionString: server.url('postgres') });
let failed = false;
try {
  await admin.connect();
  for (const tenant of TENANTS) await admin.query(`CREATE DATABASE ${tenant}`);
  const fleet = new LocalFleet(server.url.bind(server), TENANTS, STAGES, join(BUNDLES, 'v1'));
  const table = async (bundle: string) => {
    const graph = RevisionGraph.from(await loadMigrations(join(BUNDLES, bundle)));
    const targets = TENANTS.map((name) => ({ name, url: server.url(name) }));
    say(formatFleetStatus(await readFleetStatus(targets, graph, new History(), 8)));
  };
  const step = async (
    title: string,
    run: () => Promise<{ status: string; reason?: string; data: Record<string, unknown> }>,
  ) => {
    say(`\n== ${title}`);
    const started = performance.now();
    const outcome = await run();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    say(`CloudFormation: ${outcome.status} in ${seconds} s`);
    if (outcome.reason) say(`  reason: ${outcome.reason}`);
    const data = Object.entries(outcome.data).map(([key, value]) => `${key}=${value}`);
    if (data.length > 0) say(`  data: ${data.join(' ')}`);
    const stages = fleet.rollouts.calls.filter((call) => call.includes('start target'));
    say(`  targets started, in order: ${stages.map((call) => call.split(' ').at(-1)).join(' ')}`);
    fleet.rollouts.calls.length = 0;
    say('');
    return outcome;
  };

  const created = await step('1. first deploy: every tenant to v1', () => fleet.deploy(REV.v1));
  await table('v1');
  failed ||= created.status !== 'SUCCESS';

  const canary = new pg.Client({ connectionString: server.url(TENANTS[0] as string) });
  await canary.connect();
  await canary.query('CREATE TABLE poison (id int)');
  fleet.bundle = join(BUNDLES, 'v2');
  const stopped = await step('2. deploy v2, whose canary fails', () => fleet.deploy(REV.v2, REV.v1));
  failed ||= stopped.status !== 'FAILED';
  fleet.bundle = join(BUNDLES, 'v1');
  const rolledBack = await step('   the stack rolls back (old code, old properties)', () =>
    fleet.deploy(REV.v1, REV.v2, true),
  );
  failed ||= rolledBack.status !== 'SUCCESS';
  await table('v2');

  await canary.query('DROP TABLE poison');
  await canary.end();
  fleet.bundle = join(BUNDLES, 'v2');
  const clean = await step('3. the canary fixed, deploy v2 again', () => fleet.deploy(REV.v2, REV.v1));
  failed ||= clean.status !== 'SUCCESS';
  await table('v2');
} finally {
  await admin.end().catch(() => undefined);
  await server.stop();
  await rm(root, { recursive: true, force: true });
}
say(
  failed
    ? 'the demo did not go as described'
    : 'done: a failing canary stopped the rollout with the rest untouched; the clean one rolled out',
);
process.exit(failed ? 1 : 0);
