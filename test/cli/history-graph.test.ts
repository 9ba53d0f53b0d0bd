/**
 * `history --graph` and `history --format dot` on a history with two branches and a merge:
 *
 *   base <- a <- m
 *       \- b  -/
 *
 * first drawn from the graph alone, then from the CLI on a database where base and a are applied.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASCII, drawGraph, toDot, UNICODE } from '../../lib/cli/graph-drawing.ts';
import { EXIT } from '../../lib/cli/program.ts';
import { historyEntries } from '../../lib/cli/report.ts';
import { RevisionGraph } from '../../lib/engine/graph.ts';
import { runCliCaptured } from '../support/cli.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';
import { sqlMigration } from '../support/migrations.ts';

/** Each line's lanes and revision, without the padding and the description. */
function lanesOf(lines: readonly string[]): string[] {
  return lines.map((line) => line.replace(/\s+([a-z]\w*) {2}migration .*$/, ' $1'));
}

describe('drawing the revision graph', () => {
  const graph = RevisionGraph.from([
    sqlMigration('base', 'SELECT 1'),
    sqlMigration('a', 'SELECT 1', { parents: ['base'] }),
    sqlMigration('b', 'SELECT 1', { parents: ['base'] }),
    sqlMigration('m', 'SELECT 1', { parents: ['a', 'b'] }),
  ]);

  it('opens the merge into two lanes and joins them at the branch point, as git log --graph does', () => {
    const lines = drawGraph(historyEntries(graph, ['a']), ASCII);
    expect(lanesOf(lines)).toEqual(['o m', '|\\', '| o b', '@ | a', '|/', '* base']);
    // The descriptions line up after the widest lanes.
    expect(lines[0]).toBe('o    m  migration m  [head, pending]');
    expect(lines[3]).toBe('@ |  a  migration a  [current]');
    expect(lines.at(-1)).toBe('*    base  migration base  [applied]');
  });

  it('draws with box characters for a terminal', () => {
    const lines = lanesOf(drawGraph(historyEntries(graph, ['m']), UNICODE));
    expect(lines).toEqual(['◉ m', '│╲', '│ ● b', '● │ a', '│╱', '● base']);
  });

  it('gives Graphviz a node per revision and an edge per parent', () => {
    const dot = toDot(historyEntries(graph, ['a']));
    expect(dot).toMatch(/^digraph revisions \{/);
    for (const [child, parent] of [
      ['a', 'base'],
      ['b', 'base'],
      ['m', 'a'],
      ['m', 'b'],
    ]) {
      expect(dot).toContain(`"${child}" -> "${parent}";`);
    }
    expect(dot).toMatch(
      /"a" \[label="a\\nmigration a", style=filled, fillcolor="#9ecae1", tooltip="current"\]/,
    );
    expect(dot).toMatch(/"m" \[.*penwidth=2\];/);
  });

  it('keeps a second head in its own lane and walks a far lane home across underscores', () => {
    const branchy = RevisionGraph.from([
      sqlMigration('base', 'SELECT 1'),
      sqlMigration('a', 'SELECT 1', { parents: ['base'] }),
      sqlMigration('c', 'SELECT 1', { parents: ['a'] }),
      sqlMigration('h1', 'SELECT 1', { parents: ['c'] }),
      sqlMigration('h2', 'SELECT 1', { parents: ['base'] }),
      sqlMigration('h3', 'SELECT 1', { parents: ['a'] }),
      sqlMigration('m', 'SELECT 1', { parents: ['h1', 'h3'] }),
    ]);
    expect(lanesOf(drawGraph(historyEntries(branchy, ['a']), ASCII))).toEqual([
      'o m',
      '|\\',
      '| o h3',
      '| | o h2',
      'o | | h1',
      'o | | c',
      '|/  |',
      '@   | a',
      '|__/',
      '* base',
    ]);
  });
});

describe('rds-migrate history --graph', () => {
  let database: TestDatabase;
  let project: string;

  const header = (revision: string, parents: string, message: string) =>
    `-- revision: ${revision}\n-- down_revision: ${parents}\n-- message: ${message}\n\n`;

  beforeAll(async () => {
    database = await freshDatabase();
    project = await mkdtemp(join(tmpdir(), 'rds-migrate-graph-'));
    await mkdir(join(project, 'migrations'));
    const files: Record<string, string> = {
      '0001_base.sql': `${header('aaaa00000001', 'none', 'base step')}-- migrate:up\nCREATE TABLE t (id int);\n-- migrate:down\nDROP TABLE t;\n`,
      '0002_left.sql': `${header('aaaa00000002', 'aaaa00000001', 'left step')}-- migrate:up\nALTER TABLE t ADD COLUMN l int;\n-- migrate:down\nALTER TABLE t DROP COLUMN l;\n`,
      '0003_right.sql': `${header('aaaa00000003', 'aaaa00000001', 'right step')}-- migrate:up\nALTER TABLE t ADD COLUMN r int;\n-- migrate:down\nALTER TABLE t DROP COLUMN r;\n`,
      '0004_merge.sql': `${header('aaaa00000004', 'aaaa00000002, aaaa00000003', 'merge step')}-- migrate:up\n-- migrate:down\n`,
    };
    for (const [name, text] of Object.entries(files)) {
      await writeFile(join(project, 'migrations', name), text);
    }
  });
  afterAll(async () => {
    await database.drop();
    await rm(project, { recursive: true, force: true });
  });

  const cli = (terminal: boolean, ...argv: string[]) =>
    runCliCaptured(argv, { env: { DATABASE_URL: database.url }, cwd: project, terminal });

  it('marks applied, current and pending revisions, in ASCII when not on a terminal', async () => {
    expect((await cli(false, 'up', 'aaaa00000002')).code).toBe(EXIT.ok);
    const result = await cli(false, 'history', '--graph');
    expect(result.code).toBe(EXIT.ok);
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'o    aaaa00000004  merge step  [head, pending]',
      '|\\',
      '| o  aaaa00000003  right step  [pending]',
      '@ |  aaaa00000002  left step  [current]',
      '|/',
      '*    aaaa00000001  base step  [applied]',
    ]);
  });

  it('uses box characters on a terminal, and writes dot for Graphviz', async () => {
    const drawn = await cli(true, 'history', '--graph');
    expect(drawn.stdout.split('\n')[0]).toBe('○    aaaa00000004  merge step  [head, pending]');
    const dot = await cli(false, 'history', '--format', 'dot');
    expect(dot.stdout).toContain('"aaaa00000004" -> "aaaa00000003";');
    const wrong = await cli(false, 'history', '--format', 'svg');
    expect(wrong.code).toBe(EXIT.usage);
    expect(wrong.stderr).toContain('the one format is dot');
  });
});
