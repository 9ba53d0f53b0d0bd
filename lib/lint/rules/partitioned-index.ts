/**
 * partitioned-index: CREATE INDEX on a partitioned table without ON ONLY (it builds every
 * partition's index at once, and CONCURRENTLY is refused), and ADD CONSTRAINT ... USING INDEX on
 * one (refused): the recipes for plain tables do not apply.
 */
import { fromRangeVar, quoted } from '../model/relation-name.ts';
import {
  type RuleModule,
  type StatementHit,
  type StatementUnderCheck,
  steps,
  tableCommands,
} from '../rule.ts';

export const partitionedIndex = {
  id: 'partitioned-index',
  title: 'An index built on a partitioned table at once',
  why: 'CREATE INDEX on a partitioned table builds the index of every partition under locks that block writes to all of them; PostgreSQL refuses CONCURRENTLY and ADD CONSTRAINT ... USING INDEX on a partitioned table.',
  fix: steps(
    '1. CREATE INDEX parent_col ON ONLY parent (col); (an invalid index on the parent alone: instant)',
    '2. For each partition, in a migration with `transaction: false`: CREATE INDEX CONCURRENTLY part_col ON part (col);',
    '3. ALTER INDEX parent_col ATTACH PARTITION part_col; for each (the parent index becomes valid with the last one).',
    '4. A UNIQUE or PRIMARY KEY constraint follows the same recipe with unique indexes; ADD CONSTRAINT then finds them attached.',
  ),
  detect: { by: 'statement', check: partitionedBuild },
} as const satisfies RuleModule;

function partitionedBuild({ node, schema }: StatementUnderCheck): StatementHit[] {
  if ('IndexStmt' in node && node.IndexStmt.relation) {
    const table = fromRangeVar(node.IndexStmt.relation);
    // ON ONLY (inh left out by the parser) builds nothing: the first step of the recipe.
    if (!schema.facts.table(table)?.partitioned || node.IndexStmt.relation.inh !== true) return [];
    if (node.IndexStmt.concurrent) {
      return [
        {
          message: `CREATE INDEX CONCURRENTLY on partitioned table ${quoted(table)} fails: PostgreSQL cannot build it concurrently; build it ON ONLY the parent, CONCURRENTLY per partition, then ATTACH`,
        },
      ];
    }
    if (schema.createdHere(table) && schema.facts.children(table).every((child) => schema.createdHere(child)))
      return [];
    return [
      {
        message:
          `CREATE INDEX on partitioned table ${quoted(table)} builds it on every partition at once, blocking writes to all of them; ` +
          'build it ON ONLY the parent, CONCURRENTLY per partition, then ATTACH',
      },
    ];
  }
  return tableCommands(node, 'AT_AddConstraint').flatMap(({ table, command, part }) => {
    const constraint = command.def && 'Constraint' in command.def ? command.def.Constraint : undefined;
    if (!constraint?.indexname || !schema.facts.table(table)?.partitioned) return [];
    return [
      {
        part,
        message: `ADD CONSTRAINT ... USING INDEX ${quoted(constraint.indexname)} fails on partitioned table ${quoted(table)}: PostgreSQL does not support it there`,
      },
    ];
  });
}
