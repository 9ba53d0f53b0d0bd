/**
 * The registry: every lint rule, in the order reports list them (SARIF's rule
 * table). A new rule is a module beside this one (see ../index.ts), imported and listed here.
 */
import type { ModelRuleId } from '../model/statement-effect.ts';
import type { RuleModule } from '../rule.ts';
import { addCheckWithoutNotValid } from './add-check-without-not-valid.ts';
import { addColumnDefaultRewrite } from './add-column-default-rewrite.ts';
import { addColumnNotNullWithoutDefault } from './add-column-not-null-without-default.ts';
import { addColumnVolatileDefault } from './add-column-volatile-default.ts';
import { addForeignKeyWithoutNotValid } from './add-foreign-key-without-not-valid.ts';
import { addUniqueConstraintWithoutIndex } from './add-unique-constraint-without-index.ts';
import { alterColumnType } from './alter-column-type.ts';
import { autovacuumDisabled } from './autovacuum-disabled.ts';
import { cannotRunInTransaction } from './cannot-run-in-transaction.ts';
import { cluster } from './cluster.ts';
import { concurrentlyInTransaction } from './concurrently-in-transaction.ts';
import { createIndexNonConcurrently } from './create-index-non-concurrently.ts';
import { deleteWithoutWhere } from './delete-without-where.ts';
import { detachPartitionNonConcurrently } from './detach-partition-non-concurrently.ts';
import { dropColumn } from './drop-column.ts';
import { dropColumnWithDependents } from './drop-column-with-dependents.ts';
import { dropIndexNonConcurrently } from './drop-index-non-concurrently.ts';
import { dropNotNullOnKey } from './drop-not-null-on-key.ts';
import { dropSchemaCascade } from './drop-schema-cascade.ts';
import { dropTable } from './drop-table.ts';
import { enumValueUsedInTransaction } from './enum-value-used-in-transaction.ts';
import { forceRowLevelSecurity } from './force-row-level-security.ts';
import { identityWithoutRestart } from './identity-without-restart.ts';
import { invalidAllowComment } from './invalid-allow-comment.ts';
import { lockHeldDuringLongStep } from './lock-held-during-long-step.ts';
import { lockTable } from './lock-table.ts';
import { narrowingTypeChange } from './narrowing-type-change.ts';
import { opaqueStatement } from './opaque-statement.ts';
import { partitionWithDefault } from './partition-with-default.ts';
import { partitionedIndex } from './partitioned-index.ts';
import { policyWithoutRls } from './policy-without-rls.ts';
import { publicationWithoutReplicaIdentity } from './publication-without-replica-identity.ts';
import { refreshMaterializedViewNonConcurrently } from './refresh-materialized-view-non-concurrently.ts';
import { reindexNonConcurrently } from './reindex-non-concurrently.ts';
import { renameColumn } from './rename-column.ts';
import { renameEnumValue } from './rename-enum-value.ts';
import { renameTable } from './rename-table.ts';
import { replicaIdentityChange } from './replica-identity-change.ts';
import { rlsWithoutPolicy } from './rls-without-policy.ts';
import { setNotNull } from './set-not-null.ts';
import { tableRewrite } from './table-rewrite.ts';
import { tableScanUnderLock } from './table-scan-under-lock.ts';
import { transactionControl } from './transaction-control.ts';
import { truncate } from './truncate.ts';
import { updateWithoutWhere } from './update-without-where.ts';
import { vacuumFull } from './vacuum-full.ts';
import { validateInSameTransaction } from './validate-in-same-transaction.ts';

export const RULES = [
  dropTable,
  dropColumn,
  alterColumnType,
  addColumnNotNullWithoutDefault,
  setNotNull,
  renameTable,
  renameColumn,
  renameEnumValue,
  createIndexNonConcurrently,
  addForeignKeyWithoutNotValid,
  addCheckWithoutNotValid,
  vacuumFull,
  cluster,
  concurrentlyInTransaction,
  updateWithoutWhere,
  deleteWithoutWhere,
  addColumnVolatileDefault,
  addUniqueConstraintWithoutIndex,
  validateInSameTransaction,
  tableRewrite,
  tableScanUnderLock,
  addColumnDefaultRewrite,
  reindexNonConcurrently,
  refreshMaterializedViewNonConcurrently,
  dropIndexNonConcurrently,
  detachPartitionNonConcurrently,
  lockTable,
  truncate,
  dropSchemaCascade,
  cannotRunInTransaction,
  enumValueUsedInTransaction,
  lockHeldDuringLongStep,
  transactionControl,
  opaqueStatement,
  rlsWithoutPolicy,
  policyWithoutRls,
  forceRowLevelSecurity,
  replicaIdentityChange,
  publicationWithoutReplicaIdentity,
  dropColumnWithDependents,
  autovacuumDisabled,
  narrowingTypeChange,
  identityWithoutRestart,
  dropNotNullOnKey,
  partitionedIndex,
  partitionWithDefault,
  invalidAllowComment,
] as const satisfies readonly RuleModule[];

export type LintRuleId = (typeof RULES)[number]['id'];

/** Every rule the lock model names is registered: this fails to compile otherwise. */
const modelRulesRegistered: [Exclude<ModelRuleId, LintRuleId>] extends [never] ? true : never = true;
void modelRulesRegistered;
