/**
 * The program loads only the command module the command line names: --version loads none, a
 * command its own, --help (or a word it does not know, so commander can suggest one) all of them.
 * No database: these read the program, not what its commands do.
 */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_MODULES } from '../../lib/cli/program.ts';
import type { CliIo, CommandContext } from '../../lib/cli/session.ts';
import { runCliCaptured } from '../support/cli.ts';

const io: CliIo = { stdout: () => undefined, stderr: () => undefined, env: {}, cwd: '/' };

async function commandsFor(...argv: string[]): Promise<string[]> {
  return (await buildProgram(io, argv)).commands.map((command) => command.name());
}

describe('the program', () => {
  it('names each module by the commands it registers, every command once', async () => {
    const context = { io, session: () => undefined } as unknown as CommandContext;
    for (const module of COMMAND_MODULES) {
      const alone = new Command();
      (await module.load())(alone, context);
      expect(alone.commands.map((command) => command.name())).toEqual(module.commands);
    }
    const all = COMMAND_MODULES.flatMap((module) => module.commands);
    expect(await commandsFor('--help')).toEqual(all);
    expect(new Set(all).size).toBe(all.length);
  });

  it('loads only the module of the command named, past global options and their values', async () => {
    expect(await commandsFor('heads')).toEqual(['history', 'show', 'heads']);
    expect(await commandsFor('-d', 'db/migrations', '--schema', 'app', '-x', 'k=v', 'status')).toEqual([
      'status',
      'current',
    ]);
    expect(await commandsFor('--schema=app', '-ddb', '--lock-wait', '5', 'up', '--sql')).toEqual([
      'up',
      'down',
      'stamp',
    ]);
    expect(await commandsFor('--version')).toEqual([]);
    expect(await commandsFor('-V')).toEqual([]);
  });

  it('loads them all for help, for a command it does not know, and for nothing at all', async () => {
    const all = COMMAND_MODULES.flatMap((module) => module.commands);
    expect(await commandsFor('help', 'status')).toEqual(all);
    expect(await commandsFor('stauts')).toEqual(all);
    expect(await commandsFor()).toEqual(all);
    expect(await commandsFor('--version', '--help')).toEqual(all);
  });

  it('still prints the release, suggests a command, and shows a command’s own help', async () => {
    expect(await runCliCaptured(['--version'], { env: {}, cwd: '/' })).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^\d+\.\d+\.\d+\n$/),
    });
    expect(await runCliCaptured(['stauts'], { env: {}, cwd: '/' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('(Did you mean status?)'),
    });
    const help = await runCliCaptured(['heads', '--help'], { env: {}, cwd: '/' });
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: rds-migrate heads') });
  });
});
