/**
 * The source tree's layering, as each part states it in its index.ts (lambda/ in its entry,
 * lambda/handler.ts; bin/ in bin/cli.ts), which this test reads: every import points down.
 *
 *   construct ──────────────────→ engine ←── lambda
 *   cli ─→ check ─→ local ──────→ engine
 *            ├────→ lint ───────→ engine        (cli may import schema, lint, local and engine too)
 *            └────→ schema ─→ lint, local, engine
 *
 * The engine imports nothing of lint, check, cli, local, construct or lambda; the linter (lint/)
 * imports the engine only, so check/ and cli/ use it and it uses neither; the schema tools
 * (schema/) import the engine, local/ and lint/, and check/ composes them; the deployed function
 * (lambda/) imports the engine only; nothing in lib/ imports lambda/. Packages are held to the
 * same: the engine never loads aws-cdk-lib or the embedded server, the construct never the CLI.
 * bin/ (the CLI's and the CDK app's entries) imports the CLI and the construct.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

const PARTS = [
  'engine',
  'lint',
  'schema',
  'check',
  'cli',
  'local',
  'construct',
  'lambda',
  'api',
  'bin',
] as const;
type Part = (typeof PARTS)[number];

/**
 * Where each part states what it may import and load, in its opening comment: its index.ts;
 * lambda/ has none, so its entry says it; bin/ holds the entries of the CLI and the CDK app.
 */
const STATEMENT: Readonly<Record<Part, string>> = {
  engine: 'lib/engine/index.ts',
  lint: 'lib/lint/index.ts',
  schema: 'lib/schema/index.ts',
  check: 'lib/check/index.ts',
  cli: 'lib/cli/index.ts',
  local: 'lib/local/index.ts',
  construct: 'lib/construct/index.ts',
  lambda: 'lambda/handler.ts',
  api: 'lib/index.ts',
  bin: 'bin/cli.ts',
};

interface StatedLayering {
  /** The parts it may import, itself included. */
  readonly imports: readonly Part[];
  /** The packages (beyond node:) it may load; `@scope/*` for a whole scope. */
  readonly loads: readonly string[];
}

const STATED =
  /Layering\b[^:]*, as test\/layering\.test\.ts reads it: may import ([^;]+); may load ([^.]+(?:\.[^\s.][^.]*)*)\./;

/** A part's stated layering, from the opening comment of its statement file. */
function statedLayering(part: Part): StatedLayering | undefined {
  const text = readFileSync(join(ROOT, STATEMENT[part]), 'utf8');
  const opening = /^(?:#![^\n]*\n)?\/\*\*([\s\S]*?)\*\//.exec(text)?.[1] ?? '';
  const match = STATED.exec(opening.replace(/\n\s*\* ?/g, ' '));
  if (!match) return undefined;
  const list = (words: string) =>
    words === 'nothing' || words === 'nothing else' ? [] : words.split(',').map((word) => word.trim());
  return { imports: [part, ...(list(match[1] ?? '') as Part[])], loads: list(match[2] ?? '') };
}

const LAYERING = Object.fromEntries(PARTS.map((part) => [part, statedLayering(part)])) as Readonly<
  Record<Part, StatedLayering | undefined>
>;
/** What each part may import, itself included, as it states. */
const MAY_IMPORT = Object.fromEntries(
  PARTS.map((part) => [part, LAYERING[part]?.imports ?? [part]]),
) as Readonly<Record<Part, readonly Part[]>>;
/** Packages (beyond node:) each part may load, as it states. */
const MAY_LOAD = Object.fromEntries(PARTS.map((part) => [part, LAYERING[part]?.loads ?? []])) as Readonly<
  Record<Part, readonly string[]>
>;

interface Import {
  readonly from: string;
  readonly specifier: string;
}

function partOf(path: string): Part | undefined {
  if (path === 'lib/index.ts') return 'api';
  if (path.startsWith('lambda/')) return 'lambda';
  if (path.startsWith('bin/')) return 'bin';
  const match = /^lib\/(engine|lint|schema|check|cli|local|construct)\//.exec(path);
  return match ? (match[1] as Part) : undefined;
}

function packageName(specifier: string): string {
  const [scope, name] = specifier.split('/');
  return specifier.startsWith('@') ? `${scope}/${name}` : (scope ?? specifier);
}

function mayLoad(part: Part, specifier: string): boolean {
  if (specifier.startsWith('node:')) return true;
  const name = packageName(specifier);
  return MAY_LOAD[part].some((allowed) =>
    allowed.endsWith('/*') ? name.startsWith(allowed.slice(0, -1)) : name === allowed,
  );
}

/** Every import that breaks the layering, as `from -> what` lines. */
function violations(imports: readonly Import[]): string[] {
  const found: string[] = [];
  for (const { from, specifier } of imports) {
    const part = partOf(from);
    if (!part) {
      found.push(
        `${from}: not in a part (lib/<engine|lint|schema|check|cli|local|construct>/, lambda/, bin/ or lib/index.ts)`,
      );
      continue;
    }
    if (!specifier.startsWith('.')) {
      if (!mayLoad(part, specifier)) found.push(`${from} -> package ${specifier}`);
      continue;
    }
    const target = normalize(join(dirname(from), specifier));
    const targetPart = partOf(target);
    if (!targetPart || !MAY_IMPORT[part].includes(targetPart)) found.push(`${from} -> ${target}`);
  }
  return found;
}

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(folder, name));
}

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g;

function importsOf(path: string): Import[] {
  const text = readFileSync(join(ROOT, path), 'utf8')
    // Template text (the TS migration template names 'rds-migrate') is not an import.
    .replace(/`[^`]*`/g, '``');
  return [...text.matchAll(IMPORT)].map((match) => ({
    from: path,
    specifier: (match[1] ?? match[2] ?? match[3]) as string,
  }));
}

const files = [...sourceFiles('lib'), ...sourceFiles('lambda'), ...sourceFiles('bin')];
const imports = files.flatMap(importsOf);

describe('the layering of lib/, lambda/ and bin/', () => {
  it.each(PARTS)('reads what %s may import and load from the part itself', (part) => {
    expect(
      LAYERING[part],
      `${STATEMENT[part]} states 'Layering, as test/layering.test.ts reads it: ...'`,
    ).toBeDefined();
    for (const imported of LAYERING[part]?.imports ?? []) expect(PARTS).toContain(imported);
  });

  it('has the parts state a direction: no two parts may import each other, and the engine nothing', () => {
    expect(MAY_IMPORT.engine).toEqual(['engine']);
    const upward: string[] = [];
    const reaches = (from: Part, to: Part, seen: Set<Part> = new Set()): boolean =>
      MAY_IMPORT[from].some(
        (next) => next !== from && (next === to || (!seen.has(next) && reaches(next, to, seen.add(next)))),
      );
    for (const part of PARTS) if (reaches(part, part)) upward.push(part);
    expect(upward).toEqual([]);
  });

  it('finds the imports it checks', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.length).toBeGreaterThan(200);
    expect(imports).toContainEqual({ from: 'lambda/handler.ts', specifier: '../lib/engine/graph.ts' });
  });

  it('keeps every import pointing down, and each part to its packages', () => {
    expect(violations(imports)).toEqual([]);
  });

  it('has no file in lib/ outside a part but the package entry', () => {
    expect(files.filter((file) => !partOf(file))).toEqual([]);
  });

  it('has no import cycle among the modules', () => {
    const edges = new Map<string, string[]>();
    for (const { from, specifier } of imports) {
      if (!specifier.startsWith('.')) continue;
      edges.set(from, [...(edges.get(from) ?? []), normalize(join(dirname(from), specifier))]);
    }
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') {
        cycles.push(
          [...path.slice(path.indexOf(file)), file].map((step) => relative('lib', step)).join(' -> '),
        );
        return;
      }
      state.set(file, 'visiting');
      for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('flags what it is there to flag', () => {
    expect(
      violations([
        { from: 'lib/engine/runner.ts', specifier: '../lint/lint.ts' },
        { from: 'lib/lint/lint.ts', specifier: '../check/check.ts' },
        { from: 'lib/lint/lint.ts', specifier: '../local/server.ts' },
        { from: 'lib/lint/lint.ts', specifier: 'pg' },
        { from: 'lib/schema/autogenerate.ts', specifier: '../check/check.ts' },
        { from: 'lib/schema/squash.ts', specifier: '../cli/program.ts' },
        { from: 'lib/check/check.ts', specifier: '@pgkit/migra' },
        { from: 'lib/engine/runner.ts', specifier: '../local/server.ts' },
        { from: 'lib/engine/runner.ts', specifier: '../../lambda/handler.ts' },
        { from: 'lambda/handler.ts', specifier: '../lib/cli/program.ts' },
        { from: 'lambda/handler.ts', specifier: '../lib/construct/index.ts' },
        { from: 'lib/construct/bundling.ts', specifier: '../cli/program.ts' },
        { from: 'lib/engine/loader.ts', specifier: 'aws-cdk-lib' },
        { from: 'lib/stray.ts', specifier: './engine/graph.ts' },
      ]),
    ).toHaveLength(14);
    expect(
      violations([
        { from: 'lib/cli/program.ts', specifier: '../check/check.ts' },
        { from: 'lib/check/check.ts', specifier: '../lint/lint.ts' },
        { from: 'lib/check/check.ts', specifier: '../schema/round-trip.ts' },
        { from: 'lib/schema/autogenerate.ts', specifier: '../lint/folder-lint.ts' },
        { from: 'lib/schema/shadow-schema.ts', specifier: '../local/server.ts' },
        { from: 'lib/schema/schema-diff.ts', specifier: '@pgkit/migra' },
        { from: 'lib/lint/lint.ts', specifier: '../engine/errors.ts' },
        { from: 'lambda/handler.ts', specifier: '@aws-sdk/client-rds' },
        { from: 'lib/construct/index.ts', specifier: '../engine/errors.ts' },
      ]),
    ).toEqual([]);
  });
});
