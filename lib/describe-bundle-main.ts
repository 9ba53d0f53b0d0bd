/**
 * `node --import tsx lib/describe-bundle-main.ts <migrationsDir>`: prints the folder's
 * `BundleDescription` as JSON, or the engine's message on stderr with exit code 1. The CDK
 * construct runs it in a child process because construct constructors are synchronous.
 */
import { describeBundle } from './bundle.ts';

const directory = process.argv[2];
if (!directory) {
  process.stderr.write('usage: describe-bundle-main.ts <migrationsDir>\n');
  process.exit(2);
}

try {
  process.stdout.write(`${JSON.stringify(await describeBundle(directory))}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
