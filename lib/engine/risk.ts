/**
 * What a plan could lose if it went wrong, step by step: the facts a snapshot policy decides on.
 * A step is risky when a transaction cannot take it back whole (it runs outside one, or its code
 * can do anything), when it removes or rewrites data (a drop, a type change, TRUNCATE, DELETE,
 * UPDATE), or when it cannot be reverted. Read from the PostgreSQL parse tree, not from text.
 */
import type { Migration, MigrationStep, Revision } from './migration.ts';
import type { Plan, PlanStep } from './plan.ts';

interface StepRisk {
  readonly revision: Revision;
  readonly direction: 'up' | 'down';
  /** Why the step is risky, one short phrase each; empty when it is not. */
  readonly reasons: readonly string[];
}

/** Objects whose DROP loses data (rows, a sequence's position, values of a type's columns). */
const DATA_OBJECTS = new Set([
  'OBJECT_TABLE',
  'OBJECT_SCHEMA',
  'OBJECT_SEQUENCE',
  'OBJECT_MATVIEW',
  'OBJECT_TYPE',
  'OBJECT_DOMAIN',
  'OBJECT_FOREIGN_TABLE',
]);

export async function planRisks(plan: Plan): Promise<StepRisk[]> {
  return Promise.all(plan.steps.map((step) => stepRisk(step)));
}

async function stepRisk(step: PlanStep): Promise<StepRisk> {
  const migration = step.migration;
  const work = step.direction === 'up' ? migration.up : migration.down;
  const reasons = [...structuralReasons(migration, step.direction), ...(await workReasons(work))];
  return { revision: step.revision, direction: step.direction, reasons };
}

function structuralReasons(migration: Migration, direction: 'up' | 'down'): string[] {
  const reasons: string[] = [];
  if (!migration.transaction) reasons.push('runs outside a transaction');
  if (migration.irreversible && direction === 'up') reasons.push(`irreversible (${migration.irreversible})`);
  // A down step takes back what its up step made, data included: always risky, whatever its SQL.
  if (direction === 'down') reasons.push('a down step, which removes what its migration made');
  return reasons;
}

async function workReasons(work: MigrationStep | undefined): Promise<string[]> {
  if (!work) return [];
  if (work.kind === 'code') return ['TypeScript code, which can change data'];
  if (work.sql.trim() === '') return [];
  const { parse } = await import('libpg-query');
  let tree: { stmts?: { stmt?: Record<string, unknown> }[] };
  try {
    tree = (await parse(work.sql)) as typeof tree;
  } catch {
    return ['SQL the parser cannot read'];
  }
  return [...new Set((tree.stmts ?? []).flatMap((entry) => statementReasons(entry.stmt ?? {})))];
}

function statementReasons(statement: Record<string, unknown>): string[] {
  const [kind] = Object.keys(statement);
  const node = (kind ? statement[kind] : {}) as Record<string, unknown>;
  switch (kind) {
    case 'DropStmt':
      return DATA_OBJECTS.has(String(node.removeType)) ? [`drops a ${objectName(node.removeType)}`] : [];
    case 'TruncateStmt':
      return ['TRUNCATE'];
    case 'DeleteStmt':
      return ['DELETE'];
    case 'UpdateStmt':
      return ['UPDATE'];
    case 'AlterTableStmt':
      return alterTableReasons(node);
    default:
      return [];
  }
}

function alterTableReasons(node: Record<string, unknown>): string[] {
  const commands = (node.cmds as { AlterTableCmd?: { subtype?: string } }[] | undefined) ?? [];
  return commands.flatMap(({ AlterTableCmd: command }) => {
    if (command?.subtype === 'AT_DropColumn') return ['drops a column'];
    if (command?.subtype === 'AT_AlterColumnType') return ['changes a column type'];
    return [];
  });
}

function objectName(removeType: unknown): string {
  return String(removeType)
    .replace(/^OBJECT_/, '')
    .replace(/_/g, ' ')
    .toLowerCase();
}
