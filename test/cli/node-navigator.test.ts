/**
 * The command line defines `navigator` on Node 20 as later Node does, so that loading pg does not
 * load all of fetch to learn it is not in a Cloudflare Worker (issue 32).
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defineNodeNavigator } from '../../lib/cli/node-navigator.ts';

const run = promisify(execFile);

describe('the navigator of the command line', () => {
  it('is defined where Node has none, as Node 21 and later define it', () => {
    const global: { navigator?: { userAgent: string } } = {};
    defineNodeNavigator(global, '20.19.0');
    expect(global.navigator?.userAgent).toBe('Node.js/20');
  });

  it('leaves a navigator that is there alone', () => {
    const own = { userAgent: 'Node.js/22' };
    const global = { navigator: own };
    defineNodeNavigator(global, '22.1.0');
    expect(global.navigator).toBe(own);
  });

  it('keeps pg from loading fetch when it loads', async () => {
    const pgPath = createRequire(import.meta.url).resolve('pg');
    const module = new URL('../../lib/cli/node-navigator.ts', import.meta.url).pathname;
    const script = (define: boolean) =>
      `${define ? `(await import(${JSON.stringify(module)})).defineNodeNavigator();` : ''}
       const { createRequire } = await import('node:module');
       createRequire(import.meta.url)(${JSON.stringify(pgPath)});
       console.log(process.moduleLoadList.some((name) => name.includes('undici')));`;
    const loadsFetch = async (define: boolean) =>
      (
        await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script(define)])
      ).stdout.trim();
    expect(await loadsFetch(true)).toBe('false');
    // Where Node has no navigator of its own, pg without ours does load it: what this is for.
    if (Number(process.versions.node.split('.')[0]) < 21) expect(await loadsFetch(false)).toBe('true');
  });
});
