/**
 * Adding a lint rule touches one new file, lib/lint/rules/<rule-id>.ts, plus its one line in
 * lib/lint/rules/index.ts (issue 27). These hold the tree to that: every module of rules/ is
 * registered under its file's name, the registry's entry is the module's import, and no other
 * file imports a rule or lists rule ids, so there is no second list to update.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../../lib/lint/rules/index.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const RULES_FOLDER = 'lib/lint/rules';
const REGISTRY = `${RULES_FOLDER}/index.ts`;
const SELF = 'test/lint/rule-registry.test.ts';

/** The modules of rules/ but the registry, by name without `.ts`. */
const ruleModules = readdirSync(join(ROOT, RULES_FOLDER))
  .filter((name) => name.endsWith('.ts') && name !== 'index.ts')
  .map((name) => name.replace(/\.ts$/, ''))
  .sort();
const registeredIds = RULES.map((rule) => rule.id as string);

function sourceFiles(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(folder, name));
}

const SPECIFIER = /\bfrom\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)|\bimport\s+'([^']+)'/g;

/** The modules of rules/ (not the registry) a file imports, as paths from the repository root. */
function ruleModulesImported(file: string, text = readFileSync(join(ROOT, file), 'utf8')): string[] {
  return [...text.matchAll(SPECIFIER)]
    .map((match) => (match[1] ?? match[2] ?? match[3]) as string)
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => normalize(join(dirname(file), specifier)))
    .filter((target) => dirname(target) === RULES_FOLDER && target !== REGISTRY);
}

/** Three or more rule ids in a row, separated only by `|`, commas and white space: a union or a list of rules. */
function ruleIdLists(text: string): string[] {
  const id = `'(?:${registeredIds.join('|')})'`;
  const list = new RegExp(`${id}(?:[\\s|,]+${id}){2,}`, 'g');
  return [...text.matchAll(list)].map((match) => match[0].replace(/\s+/g, ' '));
}

describe('the lint rule registry (lib/lint/rules/index.ts)', () => {
  it('registers every module of rules/, each under its file name, once', () => {
    expect(ruleModules.length).toBeGreaterThan(40);
    expect([...registeredIds].sort()).toEqual(ruleModules);
    expect(new Set(registeredIds).size).toBe(registeredIds.length);
  });

  it('registers each rule by one line, its import, and nothing else there names a rule module', () => {
    const registry = readFileSync(join(ROOT, REGISTRY), 'utf8').split('\n');
    const entries = registry.filter((line) => line.includes("import('./"));
    expect(entries).toHaveLength(RULES.length);
    for (const [at, line] of entries.entries()) {
      const id = registeredIds[at] ?? '';
      expect(line).toMatch(new RegExp(`^ {2}\\(await import\\('\\./${id}\\.ts'\\)\\)\\.\\w+,$`));
    }
    const staticImports = registry.filter((line) => /^import .* from '\.\/[\w-]+\.ts';$/.test(line));
    expect(staticImports).toEqual([]);
  });

  it('is the only importer of a rule module in lib/, lambda/, bin/ and test/', () => {
    const importers = ['lib', 'lambda', 'bin', 'test']
      .flatMap(sourceFiles)
      .filter((file) => file !== REGISTRY && file !== SELF && ruleModulesImported(file).length > 0);
    expect(importers).toEqual([]);
  });

  it('is the only list of rules: no other source file writes three rule ids in a row', () => {
    const lists = ['lib', 'lambda', 'bin']
      .flatMap(sourceFiles)
      .filter((file) => dirname(file) !== RULES_FOLDER)
      .flatMap((file) =>
        ruleIdLists(readFileSync(join(ROOT, file), 'utf8')).map((list) => `${file}: ${list}`),
      );
    expect(lists).toEqual([]);
  });

  it('flags what it is there to flag', () => {
    expect(ruleIdLists("type Id =\n  | 'drop-table'\n  | 'truncate'\n  | 'cluster';")).toHaveLength(1);
    expect(ruleIdLists("new Set(['drop-table', 'truncate', 'cluster'])")).toHaveLength(1);
    expect(ruleIdLists("['drop-table', 'truncate']")).toEqual([]);
    expect(
      ruleModulesImported('lib/lint/lint.ts', "import { truncate } from './rules/truncate.ts';"),
    ).toEqual(['lib/lint/rules/truncate.ts']);
    expect(
      ruleModulesImported('test/lint/x.test.ts', "await import('../../lib/lint/rules/cluster.ts')"),
    ).toEqual(['lib/lint/rules/cluster.ts']);
    expect(ruleModulesImported('lib/lint/lint.ts', "import { RULES } from './rules/index.ts';")).toEqual([]);
  });
});
