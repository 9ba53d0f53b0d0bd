/**
 * The committed snapshot of the integration tests, in integ-runner's layout
 * (`integ.lifecycle.ts.snapshot/`: manifest.json, integ.json, each stack's template and asset
 * manifest; no asset folders, no construct tree), and the comparison integ-runner makes: every
 * test case's stacks, template by template, with asset hashes replaced by placeholders, so a
 * change to the function's code alone is no change, while a change to any resource is.
 * Assertion stacks are left out, as integ-runner does: each assertion carries a timestamp.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const SNAPSHOT_DIR = join(import.meta.dirname, 'integ.lifecycle.ts.snapshot');

/** The assembly's files a snapshot keeps. */
const KEPT = /^(manifest\.json|integ\.json|cdk\.out|.+\.template\.json|.+\.assets\.json)$/;

/** Replaces `snapshotDir` with the files of `assemblyDir` a snapshot keeps. */
export function writeSnapshot(assemblyDir: string, snapshotDir: string = SNAPSHOT_DIR): void {
  rmSync(snapshotDir, { recursive: true, force: true });
  mkdirSync(snapshotDir, { recursive: true });
  for (const name of readdirSync(assemblyDir)) {
    if (KEPT.test(name)) copyFileSync(join(assemblyDir, name), join(snapshotDir, name));
  }
}

export interface IntegTestCase {
  readonly stacks: readonly string[];
  readonly assertionStack?: string;
  readonly assertionStackName?: string;
  readonly stackUpdateWorkflow?: boolean;
  readonly cdkCommandOptions?: {
    readonly deploy?: {
      readonly enabled?: boolean;
      readonly expectError?: boolean;
      readonly expectedMessage?: string;
    };
    readonly destroy?: { readonly enabled?: boolean };
  };
}

/** The test cases of an assembly or snapshot, by name, in the order they run. */
export function testCases(dir: string): Record<string, IntegTestCase> {
  return (
    JSON.parse(readFileSync(join(dir, 'integ.json'), 'utf8')) as { testCases: Record<string, IntegTestCase> }
  ).testCases;
}

interface AssemblyManifest {
  readonly artifacts: Record<
    string,
    {
      readonly type: string;
      readonly properties?: { readonly templateFile?: string; readonly file?: string };
    }
  >;
}

/** Each test case stack's template, asset hashes replaced, by artifact id. */
export function comparableTemplates(dir: string): Record<string, unknown> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as AssemblyManifest;
  const stacks = new Set(Object.values(testCases(dir)).flatMap((testCase) => testCase.stacks));
  const templates: Record<string, unknown> = {};
  for (const id of stacks) {
    const templateFile = manifest.artifacts[id]?.properties?.templateFile;
    if (!templateFile) throw new Error(`${dir}: integ.json names stack ${id}, which manifest.json lacks`);
    const template = JSON.parse(readFileSync(join(dir, templateFile), 'utf8'));
    templates[id] = withoutAssetHashes(template, assetIds(dir, manifest, id));
  }
  return templates;
}

/** The ids (content hashes) of the assets a stack's asset manifest lists. */
function assetIds(dir: string, manifest: AssemblyManifest, stackId: string): string[] {
  const file = manifest.artifacts[`${stackId}.assets`]?.properties?.file;
  if (!file || !existsSync(join(dir, file))) return [];
  const assets = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
    files?: Record<string, unknown>;
    dockerImages?: Record<string, unknown>;
  };
  return [...Object.keys(assets.files ?? {}), ...Object.keys(assets.dockerImages ?? {})];
}

function withoutAssetHashes(template: unknown, ids: readonly string[]): unknown {
  const replace = (text: string) =>
    ids.reduce((out, id, index) => out.replaceAll(id, `Asset${index + 1}`), text);
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return replace(value);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [replace(key), walk(item)]));
    }
    return value;
  };
  return walk(template);
}
