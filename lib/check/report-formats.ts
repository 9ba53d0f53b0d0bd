/**
 * `check`'s findings where reviewers read them. `github`: one GitHub Actions workflow command per
 * problem (`::error file=…,line=…,title=<rule>::<message> fix: <recipe>`), so each shows on the
 * changed line of a pull request, then a summary line. `sarif`: a SARIF 2.1.0 log for
 * code-scanning upload, one rule entry per lint rule (its title, why and recipe) and per other
 * rule found, one result per problem.
 *
 * Files are named relative to the repository root (`root`: $GITHUB_WORKSPACE in a workflow), as
 * GitHub matches them against the pull request's files; check itself names them relative to the
 * working directory, which differs when the app lives in a subfolder.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { Log, ReportingDescriptor, Result } from 'sarif';
import { RELEASE } from '../engine/version.ts';
import { LINT_RULES } from '../lint/lint-rules.ts';
import { type CheckKind, type CheckProblem, type CheckReport, problemCount } from './check.ts';

interface Locating {
  /** Where check ran: the problems' files are relative to it. */
  readonly cwd: string;
  /** The repository root the files are named from. */
  readonly root: string;
}

/** A problem's file from the repository root, with forward slashes; undefined outside it. */
function fromRoot(file: string, where: Locating): string | undefined {
  const path = relative(where.root, resolve(where.cwd, file));
  if (path.startsWith('..') || isAbsolute(path)) return undefined;
  return path.split(sep).join('/');
}

// ---------------------------------------------------------------------------------------------
// GitHub Actions workflow commands

/** Message text of a workflow command: %, CR and LF escaped (a newline is %0A). */
function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value of a workflow command: also ':' and ','. */
function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

export function formatGithub(report: CheckReport, where: Locating): string {
  const lines: string[] = [];
  for (const problem of report.problems) {
    const file = problem.file === undefined ? undefined : fromRoot(problem.file, where);
    const properties = [
      file === undefined ? '' : `file=${escapeProperty(file)}`,
      file !== undefined && problem.line !== undefined ? `line=${problem.line}` : '',
      `title=${escapeProperty(problem.rule)}`,
    ].filter(Boolean);
    lines.push(`::error ${properties.join(',')}::${escapeData(annotationText(problem, file))}`);
  }
  for (const warning of report.warnings)
    lines.push(`::warning title=rds-migrate check::${escapeData(warning)}`);
  const heads = report.head ?? (report.heads.join(', ') || 'none');
  lines.push(
    `rds-migrate check: ${report.ok ? 'clean, no problems' : problemCount(report.problems)} in ` +
      `${report.revisions} migration${report.revisions === 1 ? '' : 's'} of ${report.migrationsDir} (head ${heads})`,
  );
  return lines.join('\n');
}

/** What the annotation says: the message, the revision, and the recipe to follow. */
function annotationText(problem: CheckProblem, file: string | undefined): string {
  const parts = [problem.message];
  if (problem.revision) {
    parts.push(`(revision ${problem.revision}${problem.section ? `, ${problem.section} section` : ''})`);
  }
  // Without a file GitHub shows the annotation on the run, not on a line: say which file.
  if (problem.file !== undefined && file === undefined) parts.push(`in ${problem.file}`);
  const text = parts.join(' ');
  return problem.fix ? `${text} fix: ${problem.fix}` : text;
}

// ---------------------------------------------------------------------------------------------
// SARIF 2.1.0

/** The package's page, whose README explains every rule and the CI recipe. */
const INFORMATION_URI = 'https://www.npmjs.com/package/rds-migrate';

const KIND_TITLES: Readonly<Record<CheckKind, string>> = {
  load: 'A migration file that cannot be read',
  graph: 'The revision graph',
  lint: 'An unsafe change',
  drift: 'An applied migration and its file disagree',
  'round-trip': 'The up/down/up round trip',
  'wanted-schema': "The wanted schema and head's",
  rehearsal: 'The pending plan rehearsed on a copy of real data',
  fleet: 'A database of the fleet',
};

function lintDescriptor(rule: (typeof LINT_RULES)[number]): ReportingDescriptor {
  return {
    id: rule.id,
    name: pascalCase(rule.id),
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.why },
    help: {
      text: `${rule.why}\n\nThe safe recipe:\n${rule.fix}`,
      markdown: `${rule.why}\n\n**The safe recipe**\n\n${rule.fix
        .split('\n')
        .map((line) => (/^\d+\. /.test(line) ? line : `\n${line}`))
        .join('\n')}`,
    },
    defaultConfiguration: { level: 'error' },
    properties: { tags: ['lint', 'postgresql', 'migrations'] },
  };
}

/** A rule of the graph, drift, round-trip, load or wanted-schema checks, as a finding names it. */
function checkDescriptor(problem: CheckProblem): ReportingDescriptor {
  const title = `${KIND_TITLES[problem.kind]}: ${problem.rule.replace(/-/g, ' ')}`;
  return {
    id: problem.rule,
    name: pascalCase(problem.rule),
    shortDescription: { text: title },
    help: { text: problem.fix ?? `${title}. The finding's message says what to do.` },
    defaultConfiguration: { level: 'error' },
    properties: { tags: [problem.kind, 'migrations'] },
  };
}

function pascalCase(id: string): string {
  return id.replace(/(^|-)([a-z0-9])/g, (_, __, letter: string) => letter.toUpperCase());
}

export function formatSarif(report: CheckReport, where: Locating): string {
  const rules: ReportingDescriptor[] = LINT_RULES.map(lintDescriptor);
  const index = new Map(rules.map((rule, at) => [rule.id, at]));
  for (const problem of report.problems) {
    if (index.has(problem.rule)) continue;
    index.set(problem.rule, rules.length);
    rules.push(checkDescriptor(problem));
  }
  const location = (file: string, line: number | undefined) => {
    const uri = fromRoot(file, where);
    if (uri === undefined) return undefined;
    return {
      physicalLocation: {
        artifactLocation: { uri, uriBaseId: '%SRCROOT%' },
        ...(line === undefined ? {} : { region: { startLine: line } }),
      },
    };
  };
  const results: Result[] = report.problems.map((problem) => {
    const here = problem.file === undefined ? undefined : location(problem.file, problem.line);
    const related = problem.related ? location(problem.related.file, problem.related.line) : undefined;
    const text = [
      problem.message,
      problem.revision
        ? `(revision ${problem.revision}${problem.section ? `, ${problem.section} section` : ''})`
        : '',
      problem.file !== undefined && here === undefined ? `in ${problem.file}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    return {
      ruleId: problem.rule,
      ruleIndex: index.get(problem.rule) as number,
      level: 'error',
      kind: 'fail',
      message: { text: problem.why ? `${text}\n${problem.why}` : text },
      ...(here ? { locations: [here] } : {}),
      ...(related
        ? {
            relatedLocations: [
              {
                id: 0,
                ...related,
                message: { text: `revision ${problem.related?.revision}, same transaction` },
              },
            ],
          }
        : {}),
      properties: {
        kind: problem.kind,
        ...(problem.revision ? { revision: problem.revision } : {}),
        ...(problem.lock ? { lock: problem.lock } : {}),
      },
    };
  });
  const log: Log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'rds-migrate',
            version: RELEASE,
            semanticVersion: RELEASE,
            informationUri: INFORMATION_URI,
            rules,
          },
        },
        automationDetails: { id: `rds-migrate-check/${report.migrationsDir}/` },
        originalUriBaseIds: { '%SRCROOT%': { uri: pathToUri(where.root) } },
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: report.warnings.map((warning) => ({
              level: 'warning' as const,
              message: { text: warning },
            })),
          },
        ],
        results,
        properties: {
          head: report.head,
          heads: report.heads,
          hash: report.hash,
          revisions: report.revisions,
        },
      },
    ],
  };
  return JSON.stringify(log, null, 2);
}

/** `file:///…/` for a folder, as SARIF's uriBaseIds want it (a trailing slash). */
function pathToUri(folder: string): string {
  const path = resolve(folder).split(sep).join('/');
  const absolute = path.startsWith('/') ? path : `/${path}`;
  return `file://${encodeURI(absolute.endsWith('/') ? absolute : `${absolute}/`)}`;
}
