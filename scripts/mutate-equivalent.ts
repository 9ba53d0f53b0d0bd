/**
 * Equivalent mutants of `npm run mutate`: changes to the code that no behaviour can tell apart
 * (a lookup that always finds, an optimisation whose other branch gives the same answer, a line
 * that cannot be reached). Each is named by its file, a piece of the line it is on, the code
 * Stryker replaced and what it replaced it with, and says why no test can kill it. The run counts
 * them apart from the survivors, and says when an entry matches a killed mutant (then it was not
 * equivalent: delete it) or no mutant at all (the code moved on: delete or update it).
 *
 * Where every mutant of one kind on a line is equivalent, a comment in the source does the same:
 * `// Stryker disable next-line <Mutator>: <reason>` (lambda/failure.ts has two).
 */

export interface EquivalentMutant {
  readonly file: string;
  /** A piece of the source line the mutant is on, enough to tell the line apart. */
  readonly line: string;
  /** The code Stryker replaced, exactly. */
  readonly original: string;
  /** What it put instead, exactly as Stryker prints it. */
  readonly replacement: string;
  readonly reason: string;
}

const GRAPH = 'lib/engine/graph.ts';
const ALWAYS_FOUND = 'the revision is a migration of the graph here, so the lookup always finds it';
const UNREACHABLE =
  "unreachable: every revision Kahn's algorithm leaves over waits on another left over, so the walk always closes a loop";
const UNIQUE_IDS = 'revision ids are unique, so two ids are never equal';
const SORT_SIGN = 'reached only when a > b; a JavaScript sort reads a comparison only as below 0 or not';
const RELEASED_ONCE =
  'a revision both child and dependent of the one placed is released once either way: its wait count holds ' +
  'it once, and a second decrement takes it below 0, never back to 0';

export const EQUIVALENT_MUTANTS: readonly EquivalentMutant[] = [
  {
    file: GRAPH,
    line: 'this.dependentsOf = childrenIndex(',
    original: '[]',
    replacement: '["Stryker was here"]',
    reason: 'only the dependents of revisions are ever asked for, and no revision has that name',
  },
  {
    file: GRAPH,
    line: 'return dependents.length === 0 ? this.children(revision)',
    original: 'dependents.length === 0',
    replacement: 'false',
    reason: 'appending no dependents to the children gives the children',
  },
  ...[
    ['squash', 'squashed; only its last revision stays'],
    ['label', 'is also the id of revision'],
    ['other', 'is already the label of revision'],
  ].map(([key, line]) => ({
    file: GRAPH,
    line: line as string,
    original: `byRevision.get(${key})?.source`,
    replacement: `byRevision.get(${key}).source`,
    reason: ALWAYS_FOUND,
  })),
  ...['a', 'b'].flatMap((key) => [
    {
      file: GRAPH,
      line: `const s${key} = byRevision.get(${key})?.source ?? ''`,
      original: `byRevision.get(${key})?.source`,
      replacement: `byRevision.get(${key}).source`,
      reason: ALWAYS_FOUND,
    },
    {
      file: GRAPH,
      line: `const s${key} = byRevision.get(${key})?.source ?? ''`,
      original: "''",
      replacement: '"Stryker was here!"',
      reason: 'every migration has a source',
    },
  ]),
  {
    file: GRAPH,
    line: '!byRevision.get(revision)?.downRevisions.includes(next)',
    original: 'byRevision.get(revision)?.downRevisions',
    replacement: 'byRevision.get(revision).downRevisions',
    reason: ALWAYS_FOUND,
  },
  ...['!migration.dependsOn || migration.dependsOn.length === 0', 'migration.dependsOn.length === 0'].map(
    (original) => ({
      file: GRAPH,
      line: 'if (!migration.dependsOn || migration.dependsOn.length === 0) continue;',
      original,
      replacement: 'false',
      reason: 'resolving an empty depends_on gives back the same array, so the migration is kept as it is',
    }),
  ),
  {
    file: GRAPH,
    line: 'const names = migration.dependsOn ?? [];',
    original: '[]',
    replacement: '["Stryker was here"]',
    reason: 'only called for a migration with a depends_on',
  },
  {
    file: GRAPH,
    line: 'if (matches.length > 1) {',
    original: 'matches.length > 1',
    replacement: 'matches.length >= 1',
    reason: 'a single match returned on the line before',
  },
  {
    file: GRAPH,
    line: 'if (seen.has(revision)) continue;',
    original: 'seen.has(revision)',
    replacement: 'false',
    reason: 'a built graph has no cycle: walking a revision again adds nothing to the set',
  },
  {
    file: GRAPH,
    line: 'if (!list.includes(label)) list.push(label);',
    original: '!list.includes(label)',
    replacement: 'true',
    reason:
      "a label reaches a revision once: its owner's descendants and the line below the owner do not meet",
  },
  {
    file: GRAPH,
    line: 'if (parents.length !== 1 || parent === undefined) break;',
    original: 'parent === undefined',
    replacement: 'false',
    reason: 'with exactly one parent, the first is defined (the test is for the type checker)',
  },
  {
    file: GRAPH,
    line: 'for (const parent of parents.length < 2 ? parents : new Set(parents)) {',
    original: 'parents.length < 2',
    replacement: 'false',
    reason: 'a Set of no parent or one parent iterates the same revisions',
  },
  ...['true', 'false', 'next.length <= 2', 'next.length >= 2'].map((replacement) => ({
    file: GRAPH,
    line: 'for (const child of next.length < 2 ? next : new Set(next)) {',
    original: 'next.length < 2',
    replacement,
    reason: RELEASED_ONCE,
  })),
  {
    file: GRAPH,
    line: 'return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;',
    original: 'a < b',
    replacement: 'a <= b',
    reason: UNIQUE_IDS,
  },
  ...['true', 'false', 'a >= b', 'a <= b'].map((replacement) => ({
    file: GRAPH,
    line: 'return sa < sb ? -1 : sa > sb ? 1 : a < b ? -1 : a > b ? 1 : 0;',
    original: 'a > b',
    replacement,
    reason: `${UNIQUE_IDS}; ${SORT_SIGN}`,
  })),
  ...['true', 'released.length >= 0'].map((replacement) => ({
    file: GRAPH,
    line: 'if (released.length > 0) {',
    original: 'released.length > 0',
    replacement,
    reason: 'the ready list is kept sorted: sorting it again when nothing was released leaves it as it is',
  })),
  {
    file: GRAPH,
    line: 'if (!migration.dependsOn?.length && migration.downRevisions.length < 2) return migration.downRevisions;',
    original: '!migration.dependsOn?.length && migration.downRevisions.length < 2',
    replacement: 'false',
    reason: 'a Set of no parent or one parent and no dependencies holds the same revisions',
  },
  {
    file: GRAPH,
    line: 'is replaced by two squashes',
    original: 'byRevision.get(other)?.source',
    replacement: 'byRevision.get(other).source',
    reason: ALWAYS_FOUND,
  },
  {
    file: GRAPH,
    line: 'const path: Revision[] = [];',
    original: '[]',
    replacement: '["Stryker was here"]',
    reason: 'the positions seenAt records count the extra entry too, so the loop sliced out is the same',
  },
  {
    file: GRAPH,
    line: 'while (current !== undefined && !seenAt.has(current)) {',
    original: 'current !== undefined',
    replacement: 'true',
    reason: UNREACHABLE,
  },
  {
    file: GRAPH,
    line: 'if (current === undefined) return stuck.slice();',
    original: 'current === undefined',
    replacement: 'false',
    reason: UNREACHABLE,
  },
  {
    file: GRAPH,
    line: 'if (current === undefined) return stuck.slice();',
    original: 'stuck.slice()',
    replacement: 'stuck',
    reason: UNREACHABLE,
  },
  {
    file: 'lib/lint/model/lock-modes.ts',
    line: '(best, mode) => (best === undefined || strength(mode) > strength(best) ? mode : best)',
    original: 'best === undefined',
    replacement: 'false',
    reason: 'the strength of no mode is -1 (indexOf), below every mode, so the first mode wins either way',
  },
  {
    file: 'lib/lint/model/lock-modes.ts',
    line: '(best, mode) => (best === undefined || strength(mode) > strength(best) ? mode : best)',
    original: 'strength(mode) > strength(best)',
    replacement: 'strength(mode) >= strength(best)',
    reason: 'of two modes of equal strength, both are the same mode',
  },
  ...targetEquivalents(),
  ...planEquivalents(),
  ...rewriteRuleEquivalents(),
  ...deployEquivalents(),
];

/** lib/engine/target.ts: a step is never 0 (parseTarget refuses it), and a few forms that read alike. */
function targetEquivalents(): EquivalentMutant[] {
  const file = 'lib/engine/target.ts';
  const NEVER_ZERO = 'parseTarget refuses a step of 0, so a step is never 0 here';
  // One entry each for ParsedTarget's two forms and ResolvedTarget's two (their lines hold the same code).
  const UNDEFINED_BRANCH =
    'a branch key holding undefined reads as no branch everywhere it is read (branch === undefined), and JSON drops it';
  const mutant = (line: string, original: string, replacement: string, reason: string): EquivalentMutant => ({
    file,
    line,
    original,
    replacement,
    reason,
  });
  return [
    mutant(
      'const rest = at === -1 ? trimmed : trimmed.slice(at + 1);',
      'at === -1',
      'false',
      'slice(-1 + 1) is the whole text',
    ),
    mutant(
      'return at === -1 ? text : text.slice(at + 1);',
      'at === -1',
      'false',
      'slice(-1 + 1) is the whole text',
    ),
    mutant(
      'if (branch !== undefined && !NAME_PATTERN.test(branch)) throw malformed(text);',
      'branch !== undefined',
      'true',
      "the pattern accepts the text 'undefined' that test() makes of undefined",
    ),
    mutant(
      "const [, symbol = '', sign, digits = ''] = relative;",
      "''",
      '"Stryker was here!"',
      'both groups always take part in a match (possibly empty), so the defaults are never used',
    ),
    mutant('...(branch === undefined ? {} : { branch }),', 'branch === undefined', 'false', UNDEFINED_BRANCH),
    mutant(
      'branch === undefined ? { revisions } : { revisions, branch };',
      'branch === undefined',
      'false',
      UNDEFINED_BRANCH,
    ),
    mutant(
      "return confined(absolute(graph, target, target.symbol ?? '', branch, lineage));",
      "''",
      '"Stryker was here!"',
      'a target without steps always has a symbol',
    ),
    mutant(
      'if (target.steps > 0) return confined(orBase(',
      'target.steps > 0',
      'target.steps >= 0',
      NEVER_ZERO,
    ),
    mutant('`count from a revision instead (head${steps > 0', 'steps > 0', 'steps >= 0', NEVER_ZERO),
    mutant("if (steps > 0 && context.direction === 'down') {", 'steps > 0', 'steps >= 0', NEVER_ZERO),
    mutant("if (steps < 0 && context.direction === 'up') {", 'steps < 0', 'steps <= 0', NEVER_ZERO),
    mutant(
      'if (steps > 0) return withBranch([walkUp(graph, text, BASE, steps, lineage)], branch);',
      'steps > 0',
      'steps >= 0',
      NEVER_ZERO,
    ),
    mutant('if (steps > 0) return withBranch(orBase(walkUp(', 'steps > 0', 'steps >= 0', NEVER_ZERO),
    mutant('const step = ', 'steps > 0', 'steps >= 0', NEVER_ZERO),
    ...["{ direction: 'at' }", "'at'"].map((original) =>
      mutant(
        "resolveTarget(graph, text, context ?? { direction: 'at' })",
        original,
        original === "'at'" ? '""' : '{}',
        'without a context there are no current heads, and a step from them is refused before the direction is read',
      ),
    ),
    mutant(
      'const heads = revisions.every((revision) => graph.heads.includes(revision));',
      'revisions.every((revision) => graph.heads.includes(revision))',
      'revisions.some(revision => graph.heads.includes(revision))',
      'several revisions are all heads (heads, <branch>@heads) or none (the parents of a merge): never some',
    ),
    mutant(
      'return revision === BASE ? [] : [revision];',
      'revision === BASE',
      'false',
      'called only with a walk of 1 or more steps up, which never ends at base',
    ),
    mutant(
      'return revision === BASE ? [] : [revision];',
      '[]',
      '["Stryker was here"]',
      'called only with a walk of 1 or more steps up, which never ends at base',
    ),
  ];
}

/** lib/engine/plan.ts: the short cuts that return early with what the long way would give. */
function planEquivalents(): EquivalentMutant[] {
  const file = 'lib/engine/plan.ts';
  const mutant = (line: string, original: string, replacement: string, reason: string): EquivalentMutant => ({
    file,
    line,
    original,
    replacement,
    reason,
  });
  const FAST_PATH =
    'the short cut for a target applied already: the long way finds nothing to apply and walks no steps either';
  const NO_STEPS =
    'walk returns before this when there are no revisions, so there is always a last step here';
  const everyApplied = 'if (targets.every((revision) => applied.has(revision))) return walk(';
  return [
    mutant(everyApplied, 'targets.every((revision) => applied.has(revision))', 'false', FAST_PATH),
    mutant(everyApplied, '(revision) => applied.has(revision)', '() => undefined', FAST_PATH),
    mutant(everyApplied, "'up'", '""', 'a walk of no revisions never reads its direction'),
    mutant(
      "resolveTarget(graph, text, { current: known, direction: 'at' }),",
      "'at'",
      '""',
      "only 'up' and 'down' refuse a direction of step; any other word takes both, as 'at' does",
    ),
    mutant(
      'const wanted = graph.ancestors(target === BASE ? [] : [graph.resolve(target)]);',
      'target === BASE',
      'false',
      'base resolves to base, whose ancestors are none',
    ),
    mutant(
      'if (target === BASE) return new Set(applied);',
      'target === BASE',
      'false',
      'down to base the long way reverts what every base leads to: all that is applied',
    ),
    mutant(
      'if (heads.length === 0) return new Set();',
      'heads.length === 0',
      'false',
      'with no head, the set of the one head below is the same empty set',
    ),
    mutant(
      'so it has nothing there to take down',
      "'base'",
      '""',
      "unreachable for base: a branch's way down always reaches a base, so down to base always has a root on it",
    ),
    mutant(
      'if (revisions.length === 0) return { from: [...current], to: [...current], steps: [] };',
      'revisions.length === 0',
      'false',
      'the walk of no revisions gives the same plan: no steps, from and to the current heads',
    ),
    ...[
      ['steps.length > 0', 'true'],
      ['steps.length > 0', 'steps.length >= 0'],
      ['steps[steps.length - 1]?.headsAfter', 'steps[steps.length - 1].headsAfter'],
      ['[]', '["Stryker was here"]'],
      ['[...current]', '[]'],
    ].map(([original, replacement]) =>
      mutant(
        'const to = steps.length > 0 ? (steps[steps.length - 1]?.headsAfter ?? []) : [...current];',
        original as string,
        replacement as string,
        NO_STEPS,
      ),
    ),
    mutant(
      "throw new UnknownRevisionError(unknown, graph.headsOf(applied), CLI_RECOVERY, 'run');",
      "'run'",
      '""',
      "the message differs only for 'stamp'; any other word reads as a run",
    ),
  ];
}

/** lib/lint/model/rewrite-rules.ts: what the parser always gives, and checks a later line repeats. */
function rewriteRuleEquivalents(): EquivalentMutant[] {
  const file = 'lib/lint/model/rewrite-rules.ts';
  const mutant = (line: string, original: string, replacement: string, reason: string): EquivalentMutant => ({
    file,
    line,
    original,
    replacement,
    reason,
  });
  const EQUAL_RETURNED = 'equal modifiers returned true two lines up, so the lengths here differ';
  const ALWAYS_NAMED = 'the parser gives every column a type with at least one name';
  return [
    mutant(
      'if (to.modifiers.length === 0 && (from.modifiers.length === 0 ||',
      'from.modifiers.length === 0',
      'false',
      'two types without modifiers are equal modifiers, which the next line returns true for',
    ),
    mutant(
      "if (to.name === 'numeric') return toScale === fromScale && toLength >= fromLength;",
      'toLength >= fromLength',
      'toLength > fromLength',
      EQUAL_RETURNED,
    ),
    mutant(
      '  return toLength >= fromLength;',
      'toLength >= fromLength',
      'toLength > fromLength',
      EQUAL_RETURNED,
    ),
    mutant(
      'const field = inner.ColumnRef.fields?.at(-1);',
      'inner.ColumnRef.fields?.at',
      'inner.ColumnRef.fields.at',
      'the parser gives every column reference its fields',
    ),
    mutant(
      "return field !== undefined && 'String' in field && field.String.sval === column;",
      'field !== undefined',
      'true',
      'a column reference has at least one field',
    ),
    mutant(
      'const names = column.typeName?.names ?? [];',
      'column.typeName?.names',
      'column.typeName.names',
      ALWAYS_NAMED,
    ),
    mutant('const names = column.typeName?.names ?? [];', '[]', '["Stryker was here"]', ALWAYS_NAMED),
    mutant(
      "return names.length === 1 && SERIAL_TYPES.has(lastName(names) ?? '');",
      "''",
      '"Stryker was here!"',
      'a type name of one part is a String node, so it has a last name',
    ),
    mutant(
      'if (Array.isArray(tree)) return tree.flatMap(functionNames);',
      'Array.isArray(tree)',
      'false',
      'an array is an object whose values are its items: the object walk visits the same nodes',
    ),
    {
      file,
      line: '.FuncCall?.funcname?.at(-1);',
      original: '(tree as { FuncCall?: { funcname?: Node[] } }).FuncCall?.funcname?.at',
      replacement: '(tree as {\n  FuncCall?: {\n    funcname?: Node[];\n  };\n}).FuncCall?.funcname.at',
      reason: 'the parser gives every function call its name',
    },
  ];
}

/** lambda/deploy/: the deploy lifecycle's phases. */
function deployEquivalents(): EquivalentMutant[] {
  const NOTHING_TO_APPLY_HAS_NO_SNAPSHOT =
    'onEvent names a snapshot only for a plan with steps, and records a plan of none as done: a record with ' +
    "no steps has no snapshotId, so snapshotId ?? '' gives '' whatever this condition says";
  const snapshotIdLine = "SnapshotId: record.phase === 'done' && record.plan.length === 0 ? '' :";
  return [
    {
      file: 'lambda/deploy/answers.ts',
      line: "if (!isRecord(marker) || typeof marker.phase !== 'string' || !isDeployPhase(marker.phase)) {",
      original: "typeof marker.phase !== 'string'",
      replacement: 'false',
      reason:
        'isDeployPhase is false for any value not a phase name, a number or an object alike, so the marker is refused either way',
    },
    ...(
      [
        ["record.phase === 'done' && record.plan.length === 0", 'false'],
        ["record.phase === 'done'", 'true'],
        ["record.phase === 'done'", "record.phase !== 'done'"],
        ["'done'", '""'],
      ] as const
    ).map(([original, replacement]) => ({
      file: 'lambda/deploy/answers.ts',
      line: snapshotIdLine,
      original,
      replacement,
      reason: NOTHING_TO_APPLY_HAS_NO_SNAPSHOT,
    })),
    ...(
      [
        ['if (!found.rows[0]?.found) return 0;', 'found.rows[0]?.found', 'found.rows[0].found'],
        ['return Number(counted.rows[0]?.rows ?? 0);', 'counted.rows[0]?.rows', 'counted.rows[0].rows'],
      ] as const
    ).map(([line, original, replacement]) => ({
      file: 'lambda/deploy/plan.ts',
      line,
      original,
      replacement,
      reason: 'a SELECT of one expression with no FROM, or a count(*), gives exactly one row',
    })),
    {
      file: 'lambda/deploy/plan.ts',
      line: 'if (needed.length === 0) return graph;',
      original: 'needed.length === 0',
      replacement: 'false',
      reason:
        'called only for heads the bundle lacks: the first is recorded and needed, or the walk throws, so needed is never empty',
    },
    {
      file: 'lambda/deploy/is-complete.ts',
      line: '...(properties.lockRetries === undefined ? {} : { lockRetries: properties.lockRetries }),',
      original: 'properties.lockRetries === undefined',
      replacement: 'false',
      reason:
        'the run reads lockRetries as options.lockRetries ?? DEFAULT_LOCK_RETRIES: undefined is the default, as left out',
    },
    {
      file: 'lambda/deploy/is-complete.ts',
      line: '? []',
      original: '[]',
      replacement: '["Stryker was here"]',
      reason: 'a stopped run answers IsComplete false before the background runs are read',
    },
    {
      file: 'lambda/deploy/on-event.ts',
      line: '...(snapshot.retentionDays === undefined ? {} : { backupRetentionDays: snapshot.retentionDays }),',
      original: 'snapshot.retentionDays === undefined',
      replacement: 'false',
      reason: 'Deploys.insert stores a backupRetentionDays of undefined as NULL, as it stores one left out',
    },
    {
      file: 'lambda/deploy/is-complete.ts',
      line: 'deployed !== undefined && properties !== undefined && propertiesFingerprint(properties) === deployed;',
      original: 'deployed !== undefined',
      replacement: 'true',
      reason:
        'a properties fingerprint is always a string: without a deployed one, the comparison after it is false',
    },
    ...(
      [
        ['plan.steps.length > 0', 'true'],
        ['plan.steps.length > 0', 'plan.steps.length >= 0'],
      ] as const
    ).map(([original, replacement]) => ({
      file: 'lambda/deploy/snapshot.ts',
      line: 'if (!decision.take && plan.steps.length > 0 && retentionDays === 0) {',
      original,
      replacement,
      reason:
        'the retention is read only for a plan with steps: with none it is undefined, so retentionDays === 0 is false either way',
    })),
    {
      file: 'lambda/deploy/snapshot.ts',
      line: 'const longest = estimate.longest ?',
      original: "''",
      replacement: '"Stryker was here!"',
      reason:
        'reached only when the known steps took time, and a step that took time is the longest or one is longer',
    },
    {
      file: 'lambda/deploy/snapshot.ts',
      line: "? await runtime.snapshots.progress(record.snapshotId ?? '')",
      original: "''",
      replacement: '"Stryker was here!"',
      reason:
        "a request in its snapshot phase always has its snapshot's name: advance returns before without one",
    },
    {
      file: 'lambda/deploy/snapshot.ts',
      line: 'nextAttemptAt: record.nextAttemptAt?.toISOString(),',
      original: 'record.nextAttemptAt?.toISOString',
      replacement: 'record.nextAttemptAt.toISOString',
      reason: 'reached only when the attempt is not due, which needs a nextAttemptAt',
    },
    {
      file: 'lambda/deploy/snapshot.ts',
      line: "if (record.phase !== 'snapshot') return record;",
      original: "record.phase !== 'snapshot'",
      replacement: 'false',
      reason: "the next line returns the record too when its phase is not 'snapshot'",
    },
  ];
}
