/**
 * `npm run build` (and `prepack`): what the package ships, in dist/.
 * - dist/lib, dist/bin: ES modules and .d.ts of the engine, the construct and the CLI, compiled
 *   by tsc from lib/ and bin/cli.ts (plain `node` runs them; no TypeScript loader);
 * - dist/handler: the deployed function, bundled once here from lambda/handler.ts, the way
 *   aws-cdk-lib ships its own custom-resource handlers prebuilt.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildHandler } from '../lib/construct/bundling.ts';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const started = Date.now();

rmSync(dist, { recursive: true, force: true });
const tsc = join(root, 'node_modules', '.bin', 'tsc');
execFileSync(tsc, ['-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
chmodSync(join(dist, 'bin', 'cli.js'), 0o755);
buildHandler(join(root, 'lambda', 'handler.ts'), join(dist, 'handler'));

console.error(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
