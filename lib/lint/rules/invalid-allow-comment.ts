/** invalid-allow-comment: found by lint.ts as it reads `-- rds-migrate:allow` comments (allowCommentProblem). */
import { type RuleModule, steps } from '../rule.ts';

export const invalidAllowComment = {
  id: 'invalid-allow-comment',
  title: 'Allow comment without a reason, with an unknown rule, or not above a statement',
  why: 'An exemption must name the rule it lifts and say why, so a reviewer can judge it; a malformed one exempts nothing.',
  fix: steps(
    '1. Write `-- rds-migrate:allow <rule-id> <reason>` directly above the statement (no blank line between).',
    '2. One comment per rule; the rule id is one of LINT_RULES.',
  ),
  detect: { by: 'allow comments' },
  checksDownSections: true,
} as const satisfies RuleModule;
