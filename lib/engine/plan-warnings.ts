/**
 * What a run says before it applies a plan, about migrations that run but look unfinished: an up
 * section with no statement (recorded as applied, changing nothing) and a migration with no down
 * step that does not say it is irreversible (a later `down` past it fails). They run anyway: an
 * empty migration may be a placeholder on purpose, and a down step may come in a later commit.
 */
import type { Plan } from './plan.ts';
import { hasStatements } from './statements.ts';

interface PlanWarning {
  readonly revision: string;
  readonly source: string;
  readonly message: string;
}

export async function planWarnings(plan: Plan): Promise<PlanWarning[]> {
  const warnings: PlanWarning[] = [];
  for (const step of plan.steps) {
    if (step.direction !== 'up') continue;
    const migration = step.migration;
    const about = { revision: step.revision, source: migration.source };
    // A merge joins branches and has nothing of its own to run.
    const merge = migration.downRevisions.length > 1;
    if (!merge && migration.up?.kind === 'sql' && !(await hasStatements(migration.up.sql))) {
      warnings.push({
        ...about,
        message:
          `${migration.source} has no statement in its up section: it is recorded as applied and changes nothing. ` +
          'Write its SQL under -- migrate:up (then rds-migrate down, and up again), or delete the file if it was made by mistake',
      });
    }
    if (!migration.down && !migration.irreversible) {
      warnings.push({
        ...about,
        message:
          `${migration.source} has no down step, so rds-migrate down (and a stack rollback) cannot go back past it. ` +
          "Add a '-- migrate:down' section (a down function in a TS migration), or say why it cannot be undone: " +
          "'-- irreversible: <why>' in the header (irreversible: '<why>' in a TS migration)",
      });
    }
  }
  return warnings;
}
