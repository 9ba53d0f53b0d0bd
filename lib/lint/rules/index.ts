/**
 * The registry: every lint rule, in the order reports list them (SARIF's rule table) and a
 * statement's findings come in. A new rule is a module beside this one (see ../index.ts),
 * registered by one line here: the entry is its import, so there is no second list to keep.
 */
import type { ModelRuleId } from '../model/statement-effect.ts';
import type { RuleModule } from '../rule.ts';

export const RULES = [
  (await import('./drop-table.ts')).dropTable,
  (await import('./drop-column.ts')).dropColumn,
  (await import('./alter-column-type.ts')).alterColumnType,
  (await import('./add-column-not-null-without-default.ts')).addColumnNotNullWithoutDefault,
  (await import('./set-not-null.ts')).setNotNull,
  (await import('./rename-table.ts')).renameTable,
  (await import('./rename-column.ts')).renameColumn,
  (await import('./rename-enum-value.ts')).renameEnumValue,
  (await import('./create-index-non-concurrently.ts')).createIndexNonConcurrently,
  (await import('./add-foreign-key-without-not-valid.ts')).addForeignKeyWithoutNotValid,
  (await import('./add-check-without-not-valid.ts')).addCheckWithoutNotValid,
  (await import('./vacuum-full.ts')).vacuumFull,
  (await import('./cluster.ts')).cluster,
  (await import('./concurrently-in-transaction.ts')).concurrentlyInTransaction,
  (await import('./update-without-where.ts')).updateWithoutWhere,
  (await import('./delete-without-where.ts')).deleteWithoutWhere,
  (await import('./add-column-volatile-default.ts')).addColumnVolatileDefault,
  (await import('./add-unique-constraint-without-index.ts')).addUniqueConstraintWithoutIndex,
  (await import('./validate-in-same-transaction.ts')).validateInSameTransaction,
  (await import('./table-rewrite.ts')).tableRewrite,
  (await import('./table-scan-under-lock.ts')).tableScanUnderLock,
  (await import('./add-column-default-rewrite.ts')).addColumnDefaultRewrite,
  (await import('./reindex-non-concurrently.ts')).reindexNonConcurrently,
  (await import('./refresh-materialized-view-non-concurrently.ts')).refreshMaterializedViewNonConcurrently,
  (await import('./drop-index-non-concurrently.ts')).dropIndexNonConcurrently,
  (await import('./detach-partition-non-concurrently.ts')).detachPartitionNonConcurrently,
  (await import('./lock-table.ts')).lockTable,
  (await import('./truncate.ts')).truncate,
  (await import('./drop-schema-cascade.ts')).dropSchemaCascade,
  (await import('./cannot-run-in-transaction.ts')).cannotRunInTransaction,
  (await import('./enum-value-used-in-transaction.ts')).enumValueUsedInTransaction,
  (await import('./lock-held-during-long-step.ts')).lockHeldDuringLongStep,
  (await import('./transaction-control.ts')).transactionControl,
  (await import('./opaque-statement.ts')).opaqueStatement,
  (await import('./rls-without-policy.ts')).rlsWithoutPolicy,
  (await import('./policy-without-rls.ts')).policyWithoutRls,
  (await import('./force-row-level-security.ts')).forceRowLevelSecurity,
  (await import('./replica-identity-change.ts')).replicaIdentityChange,
  (await import('./publication-without-replica-identity.ts')).publicationWithoutReplicaIdentity,
  (await import('./drop-column-with-dependents.ts')).dropColumnWithDependents,
  (await import('./autovacuum-disabled.ts')).autovacuumDisabled,
  (await import('./narrowing-type-change.ts')).narrowingTypeChange,
  (await import('./identity-without-restart.ts')).identityWithoutRestart,
  (await import('./drop-not-null-on-key.ts')).dropNotNullOnKey,
  (await import('./partitioned-index.ts')).partitionedIndex,
  (await import('./partition-with-default.ts')).partitionWithDefault,
  (await import('./invalid-allow-comment.ts')).invalidAllowComment,
] as const satisfies readonly RuleModule[];

export type LintRuleId = (typeof RULES)[number]['id'];

/** The ids the lock model names are exactly the rules registered as found by it: this fails to compile otherwise. */
type LockModelRuleId = Extract<(typeof RULES)[number], { detect: { by: 'lock model' } }>['id'];
type Disagreeing = Exclude<ModelRuleId, LockModelRuleId> | Exclude<LockModelRuleId, ModelRuleId>;
const modelRulesAgree: [Disagreeing] extends [never] ? true : never = true;
void modelRulesAgree;
