import { App, Stack, Validations, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DatabaseMigrations } from '../lib/construct.ts';

const app = new App({ outdir: '/tmp/probe-out' });
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
const stack = new Stack(app, 'Probe', { env: { account: '123456789012', region: 'eu-west-1' } });
const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
const db = new rds.DatabaseInstance(stack, 'Db', {
  engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
  vpc, credentials: rds.Credentials.fromGeneratedSecret('postgres'), storageEncrypted: true,
});
const t0 = Date.now();
new DatabaseMigrations(stack, 'Migrations', { database: db, secret: db.secret!, vpc, migrationsDir: 'test/fixtures/construct/valid', snapshot: { retain: 5 } });
console.error('construct ms', Date.now() - t0);
const t1 = Date.now();
try { app.synth(); } catch (e) { console.error('SYNTH ERROR', (e as Error).message.slice(0, 3000)); }
console.error('synth ms', Date.now() - t1);
