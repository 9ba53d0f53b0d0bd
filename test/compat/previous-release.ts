/**
 * The previous release of rds-migrate, as users got it: its tarball, built from the commit the
 * release was tagged at (`npm ci` + `npm pack` in a copy of that tree), then unpacked. The
 * handler is the tarball's prebuilt `dist/handler/index.mjs`; the CLI is the tarball's
 * `dist/bin/cli.js`, its dependencies resolved from the build's node_modules. Built once per
 * commit into node_modules/.cache, so a second run on this machine reuses it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The release before this one: bump when a release is tagged (and say so in CHANGELOG.md). */
export const PREVIOUS_RELEASE = {
  version: '0.1.0',
  tag: 'v0.1.0',
  commit: '4e87c8380b3a742bf3d82c6b567c611362eb2b7f',
  historyFormat: 1,
} as const;

const ROOT = join(import.meta.dirname, '..', '..');

export interface BuiltRelease {
  readonly version: string;
  /** The unpacked tarball (`package/`). */
  readonly packageDir: string;
  /** `dist/handler/index.mjs` of the tarball. */
  readonly handlerModule: string;
  /** argv that runs the tarball's CLI with `node`. */
  readonly cli: readonly string[];
}

function run(command: string, args: readonly string[], cwd: string): string {
  return execFileSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_loglevel: 'error' },
    timeout: 180_000,
    killSignal: 'SIGKILL',
  });
}

/** npm has been seen to stall on a cache hit here: a stalled install is killed and tried once more. */
function runRetried(command: string, args: readonly string[], cwd: string): string {
  try {
    return run(command, args, cwd);
  } catch {
    return run(command, args, cwd);
  }
}

export function buildPreviousRelease(): BuiltRelease {
  const { commit, version } = PREVIOUS_RELEASE;
  const cache = join(ROOT, 'node_modules', '.cache', 'rds-migrate-releases', commit);
  const packageDir = join(cache, 'package');
  const ready = join(cache, 'ready');
  if (!existsSync(ready)) {
    try {
      run('git', ['cat-file', '-e', `${commit}^{commit}`], ROOT);
    } catch {
      throw new Error(
        `the previous release's commit ${commit} (rds-migrate ${version}) is not in this clone; ` +
          'fetch the full history (git fetch --unshallow) to run the compatibility test',
      );
    }
    rmSync(cache, { recursive: true, force: true });
    const source = join(cache, 'source');
    mkdirSync(source, { recursive: true });
    const archive = join(cache, 'source.tar');
    run('git', ['archive', '--format=tar', '-o', archive, commit], ROOT);
    run('tar', ['-xf', archive, '-C', source], cache);
    runRetried('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], source);
    run('npm', ['pack', '--pack-destination', cache], source);
    const tarball = readdirSync(cache).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack of rds-migrate ${version} wrote no tarball in ${cache}`);
    run('tar', ['-xzf', join(cache, tarball), '-C', cache], cache);
    // The tarball's code with its dependencies, as an install would give it.
    symlinkSync(join(source, 'node_modules'), join(packageDir, 'node_modules'));
    writeFileSync(ready, `${version} ${commit}\n`);
  }
  return {
    version,
    packageDir,
    handlerModule: join(packageDir, 'dist', 'handler', 'index.mjs'),
    cli: [join(packageDir, 'dist', 'bin', 'cli.js')],
  };
}
