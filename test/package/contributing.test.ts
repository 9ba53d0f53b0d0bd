/**
 * The README's "Developing rds-migrate" section, as a new contributor reads it in a fresh clone
 * after `npm ci`: every command it names must exist there. `dist/` is not built in a fresh
 * clone, so the package's own bin (`npx rds-migrate`) is not one of them; `npm run cli --` is.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  bin: Record<string, string>;
};

/** The text of the README's section under `heading`, up to the next section of that level. */
function readmeSection(heading: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${heading}\n`);
  expect(start, `README.md has a '${heading}' section`).toBeGreaterThan(-1);
  const end = readme.indexOf('\n## ', start + heading.length + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

const section = readmeSection('## Developing rds-migrate');
const matches = (pattern: RegExp) => [...new Set([...section.matchAll(pattern)].map((match) => match[1]))];

/** `npm run <script>`, `npm start`, `npm test`: the scripts named. */
const scripts = [
  ...matches(/\bnpm run (?:--silent )?([\w:-]+)/g),
  ...matches(/\bnpm (start|test)\b/g),
] as string[];
/** The words of each CLI command run through `npm run cli -- <command>`, up to its options. */
const cliCommands = [
  ...new Set(
    matches(/\bnpm run (?:--silent )?cli -- ((?:[a-z][\w-]* ?)+)/g).map((words) => String(words).trim()),
  ),
];
/** `npx <bin>`: binaries the section expects in node_modules/.bin. */
const binaries = matches(/\bnpx ([\w@./-]+)/g) as string[];

describe("the README's contributor commands, in a fresh clone after npm ci", () => {
  it('names the scripts it runs, and each is in package.json', () => {
    expect(scripts).toEqual(expect.arrayContaining(['start', 'test', 'cli']));
    expect(scripts.filter((script) => !(script in manifest.scripts))).toEqual([]);
  });

  it("runs the CLI from source (npm run cli --), never the package's own bin, which needs dist/", () => {
    expect(cliCommands).toEqual(expect.arrayContaining(['db start', 'db url', 'db psql', 'db stop']));
    const ownBins = Object.keys(manifest.bin);
    expect(binaries.filter((name) => ownBins.includes(name))).toEqual([]);
    expect(binaries.filter((name) => !existsSync(join(ROOT, 'node_modules', '.bin', name)))).toEqual([]);
  });

  it.each(cliCommands)('names a command the CLI has: %s', async (command) => {
    const words = command.split(' ');
    const help = await runCliCaptured([...words, '--help'], { env: {}, cwd: ROOT });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`Usage: rds-migrate ${command}`);
  });
});
