/**
 * Drizzle models as SQL: drizzle-kit's own API (`drizzle-kit/api`) reads the models module's
 * exports into its snapshot, and writes the migration from an empty schema to them, which is
 * the CREATE SQL of the whole schema the models describe. drizzle-kit is an optional peer
 * dependency: it is looked up from the app first (its copy matches its drizzle-orm).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RdsMigrateError } from '../engine/errors.ts';
import { importModule } from '../engine/loader.ts';

type DrizzleKitApi = {
  generateDrizzleJson(imports: Record<string, unknown>): unknown;
  generateMigration(previous: unknown, current: unknown): Promise<string[]>;
};

/** drizzle-kit is not installed where the app or rds-migrate can load it. */
class DrizzleKitMissingError extends RdsMigrateError {
  override readonly name = 'DrizzleKitMissingError';
}

/** The models file cannot be loaded, or drizzle-kit cannot read it. */
class DrizzleModelsError extends RdsMigrateError {
  override readonly name = 'DrizzleModelsError';
}

/** The statements that build the schema of the Drizzle models in `file` on an empty database. */
export async function drizzleSchemaSql(file: string, cwd: string): Promise<string[]> {
  const api = await loadDrizzleKit(cwd);
  let models: Record<string, unknown>;
  try {
    models = { ...((await importModule(file)) as Record<string, unknown>) };
  } catch (error) {
    throw new DrizzleModelsError(
      `cannot load the Drizzle models ${file}: ${(error as Error).message}; ` +
        'it must be a module that exports the tables (pgTable), enums and views of the schema',
    );
  }
  try {
    return await api.generateMigration(api.generateDrizzleJson({}), api.generateDrizzleJson(models));
  } catch (error) {
    throw new DrizzleModelsError(
      `drizzle-kit cannot turn the models of ${file} into SQL: ${(error as Error).message}`,
    );
  }
}

async function loadDrizzleKit(cwd: string): Promise<DrizzleKitApi> {
  const fromApp = resolveFrom(cwd, 'drizzle-kit/api');
  try {
    const loaded = (await import(fromApp ? pathToFileURL(fromApp).href : 'drizzle-kit/api')) as
      | DrizzleKitApi
      | { default: DrizzleKitApi };
    const api = 'generateDrizzleJson' in loaded ? loaded : loaded.default;
    if (typeof api?.generateDrizzleJson !== 'function')
      throw new Error('drizzle-kit/api has no generateDrizzleJson');
    return api;
  } catch (error) {
    throw new DrizzleKitMissingError(
      `the wanted schema is Drizzle models, which needs drizzle-kit (0.31 or later) and drizzle-orm in the app: ` +
        `npm i -D drizzle-kit drizzle-orm (${(error as Error).message})`,
    );
  }
}

function resolveFrom(cwd: string, specifier: string): string | undefined {
  try {
    return createRequire(join(cwd, 'package.json')).resolve(specifier);
  } catch {
    return undefined;
  }
}
