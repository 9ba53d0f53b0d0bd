/**
 * Autogenerate from Drizzle models (drizzle-kit's API turns them into SQL): the corpus cases
 * Drizzle can express, as a chain of model files (test/fixtures/autogen/drizzle/), each step
 * generated on top of the last, then checked against the same models.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DraftRole } from '../../lib/schema/safe-migrations.ts';
import { AutogenProject, problemsBesidesAwaitingReasons } from './autogen-harness.ts';

const models = (step: string) =>
  `drizzle:${fileURLToPath(new URL(`../fixtures/autogen/drizzle/${step}.ts`, import.meta.url))}`;

interface Step {
  readonly file: string;
  readonly roles: readonly DraftRole[];
  /** `--rename old=new`. */
  readonly renames?: readonly string[];
  /** `--fill table.column=expr`. */
  readonly fills?: readonly string[];
  readonly awaiting?: readonly string[];
  /** Findings kept with no allow line (a rename's). */
  readonly findings?: readonly string[];
  readonly contains?: readonly string[];
  readonly review?: RegExp;
}

const STEPS: readonly Step[] = [
  { file: '01_users', roles: ['schema'] },
  {
    file: '02_posts',
    roles: ['schema'],
    contains: ['create table "public"."posts"', 'REFERENCES users(id)'],
  },
  { file: '03_columns', roles: ['schema'], contains: ['add column "score" integer not null default 0'] },
  {
    file: '04_index_unique',
    roles: ['indexes', 'finish'],
    contains: ['CREATE INDEX CONCURRENTLY IF NOT EXISTS users_name', 'UNIQUE using index "users_email_key"'],
  },
  {
    file: '05_check',
    roles: ['schema', 'finish'],
    contains: ['not valid', 'validate constraint "users_age_check"'],
  },
  {
    file: '06_column_changes',
    roles: ['schema', 'finish'],
    contains: ['set data type character varying(100);', 'set default 10', 'alter column "name" set not null'],
  },
  { file: '07_enum', roles: ['schema'], contains: ['create type "public"."mood" as enum'] },
  { file: '08_enum_value', roles: ['schema'], contains: ["add value 'meh' after 'happy'"] },
  {
    file: '09_view_sequence',
    roles: ['schema'],
    contains: ['create sequence "public"."order_numbers"', 'view'],
  },
  {
    file: '10_rename_drop_index',
    roles: ['schema', 'indexes'],
    renames: ['users.bio=about'],
    findings: ['rename-column'],
    contains: ['RENAME COLUMN "bio" TO "about";', 'DROP INDEX CONCURRENTLY IF EXISTS "public"."users_name"'],
  },
  {
    file: '11_not_null_column',
    roles: ['schema', 'finish'],
    fills: ["users.plan='free'"],
    contains: ['add column "plan" text;', `SET "plan" = ('free')`],
  },
  {
    file: '12_drop_table',
    roles: ['schema'],
    awaiting: ['drop-table'],
    contains: ['drop table "public"."posts"'],
  },
];

let project: AutogenProject;
/** Allow lines awaiting a reason in the folder so far, and findings kept: each step's stay until a person decides. */
const awaitingSoFar: string[] = [];
const keptSoFar: string[] = [];
beforeAll(async () => {
  project = await AutogenProject.create();
});
afterAll(async () => {
  await project.remove();
});

describe('create --autogenerate from Drizzle models', () => {
  // The steps build on each other: one project, in order.
  for (const step of STEPS) {
    it(`${step.file}: generates, lints and round-trips, and head then matches the models`, async () => {
      const report = await project.autogenerate(
        step.file.slice(3).replace(/_/g, ' '),
        models(step.file),
        { renames: step.renames },
        step.fills,
      );
      expect(report.status).toBe('written');
      expect(report.wanted).toMatch(/^drizzle:.*\.ts$/);
      expect(report.files.map((file) => file.role)).toEqual(step.roles);
      const rules = (kind: string) =>
        report.review.flatMap((item) => (item.kind === kind && item.rule ? [item.rule] : [])).sort();
      const awaiting = rules('allow-line');
      expect(awaiting).toEqual([...(step.awaiting ?? [])].sort());
      expect(rules('finding')).toEqual([...(step.findings ?? [])].sort());
      awaitingSoFar.push(...awaiting);
      keptSoFar.push(...rules('finding'));
      const text = (await Promise.all(report.files.map((file) => project.text(file.file)))).join('\n');
      for (const fragment of step.contains ?? []) expect(text).toContain(fragment);
      if (step.review) expect(report.review.map((item) => item.message).join('\n')).toMatch(step.review);
      const check = await project.check(models(step.file));
      expect(check.checks.wantedSchema).toMatchObject({ status: 'ok' });
      expect(check.checks.roundTrip.status).toBe('ok');
      expect(problemsBesidesAwaitingReasons(check, awaitingSoFar, keptSoFar)).toEqual([]);
    });
  }

  it('has nothing to generate when head matches the models, and writes no file', async () => {
    const report = await project.autogenerate('nothing', models('12_drop_table'));
    expect(report).toMatchObject({ status: 'nothing-to-generate', files: [] });
  });

  it('passes check once the allow lines have reasons, but for the findings kept for a person', async () => {
    const decided = await project.checkWithReasons();
    expect(decided.problems.map((problem) => problem.rule)).toEqual(keptSoFar);
  });
});
