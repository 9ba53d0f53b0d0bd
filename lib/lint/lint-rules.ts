/**
 * The rules of the unsafe-change linter, as findings and reports read them: each one's id, what it
 * means, and the safe recipe to use instead. Each rule is a module in rules/ (its metadata and
 * how it is found), registered in rules/index.ts.
 */

import type { LintRule } from './rule.ts';
import { type LintRuleId, RULES } from './rules/index.ts';

export type { LintRuleId };

/** The rules' metadata, in registration order. */
export const LINT_RULES: readonly LintRule[] = RULES.map(({ id, title, why, fix }) => ({
  id,
  title,
  why,
  fix,
}));

/** Rules an allow comment may name: all but the check of allow comments themselves. */
export const ALLOWABLE_RULE_IDS: ReadonlySet<string> = new Set(
  RULES.filter((rule) => rule.detect.by !== 'allow comments').map((rule) => rule.id),
);

/** Rules that also judge down sections: PostgreSQL refuses those statements either way. */
export const DOWN_SECTION_RULE_IDS: ReadonlySet<string> = new Set(
  RULES.filter((rule) => 'checksDownSections' in rule && rule.checksDownSections).map((rule) => rule.id),
);

const RULES_BY_ID: ReadonlyMap<string, LintRule> = new Map(LINT_RULES.map((rule) => [rule.id, rule]));

export function lintRule(id: LintRuleId): LintRule {
  const rule = RULES_BY_ID.get(id);
  if (!rule) throw new RangeError(`no lint rule '${id}'`);
  return rule;
}
