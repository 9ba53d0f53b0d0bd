/**
 * `rds-migrate fleet status`'s targets, as a user names them: connection strings, name=URL words,
 * a targets file; names unique, URLs refused without repeating a password. Reading the targets is
 * tested on the fleet's databases (test/lambda/fleet.test.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fleetDatabases } from '../../lib/cli/fleet-status.ts';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'rds-migrate-fleet-status-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('the targets of fleet status', () => {
  it('names a URL by its database, and takes name=URL words and a targets file after them', async () => {
    const file = join(folder, 'fleet.txt');
    await writeFile(
      file,
      '# tenants on the shared server\nglobex postgres://app:pw@tenants-1/globex\n\n  postgres://app@eu-db:5433/eu?sslmode=require  \n',
    );
    expect(
      await fleetDatabases(
        ['postgres://app:pw@tenants-1/acme?sslmode=require', 'us=postgres://app@us-db/app'],
        file,
      ),
    ).toEqual([
      { name: 'acme', url: 'postgres://app:pw@tenants-1/acme?sslmode=require' },
      { name: 'us', url: 'postgres://app@us-db/app' },
      { name: 'globex', url: 'postgres://app:pw@tenants-1/globex' },
      { name: 'eu', url: 'postgres://app@eu-db:5433/eu?sslmode=require' },
    ]);
  });

  it('tells apart two servers’ databases of one name by their server, and refuses one target given twice', async () => {
    expect(
      (await fleetDatabases(['postgres://app@eu-db/app', 'postgres://app@us-db:6432/app'], undefined)).map(
        (target) => target.name,
      ),
    ).toEqual(['eu-db:5432/app', 'us-db:6432/app']);
    await expect(fleetDatabases(['postgres://a@db/app', 'postgres://b@db/app'], undefined)).rejects.toThrow(
      /target db:5432\/app is given twice/,
    );
  });

  it('refuses what is not a PostgreSQL URL without repeating it, and an empty fleet with how to name one', async () => {
    const refused = fleetDatabases(['acme=mysql://root:s3cret@db/acme'], undefined);
    await expect(refused).rejects.toThrow(
      /argument 1 is not a PostgreSQL URL \(target acme\): write postgres:\/\//,
    );
    await expect(refused).rejects.toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
    const file = join(folder, 'bad.txt');
    await writeFile(file, 'acme postgres://db/acme extra\n');
    await expect(fleetDatabases([], file)).rejects.toThrow(
      /--targets .*bad.txt line 1: write a URL, or a name and a URL/,
    );
    await expect(fleetDatabases([], join(folder, 'missing.txt'))).rejects.toThrow(
      /cannot read it \(ENOENT\)/,
    );
    await expect(fleetDatabases([], undefined)).rejects.toThrow(/name the fleet: connection strings/);
  });
});
