/**
 * `check`'s "the wanted schema and the migrations agree": head's schema (the migrations run on
 * a shadow database) diffed with the schema the app wants (schema/ or the Drizzle models). A
 * difference means someone changed one without the other: `create --autogenerate` writes the
 * migrations that close it.
 */
import type { Database } from '../engine/database.ts';
import type { RevisionGraph } from '../engine/graph.ts';
import type { History } from '../engine/history.ts';
import type { Revision } from '../engine/migration.ts';
import type { Server } from '../local/server.ts';
import { differences, inspectSchema, type SchemaInspection } from './schema-diff.ts';
import { buildMigratedSchema, withShadowDatabase } from './shadow-schema.ts';
import { buildWantedSchema, type WantedSchema, wantedSchemaSql } from './wanted-schema.ts';

interface SchemaAgreement {
  readonly wanted: string;
  /** The statements that would take head's schema to the wanted one; empty when they agree. */
  readonly statements: readonly string[];
}

interface SchemaAgreementOptions {
  readonly wanted: WantedSchema;
  readonly cwd: string;
  readonly heads?: readonly Revision[];
  readonly history: History;
  readonly args?: Readonly<Record<string, string>>;
  readonly actor: string;
  /** Head's schema, already read (the round trip's scratch database ends at the heads). */
  readonly head?: SchemaInspection;
}

export async function checkSchemaAgreement(
  server: Server,
  graph: RevisionGraph,
  options: SchemaAgreementOptions,
  onLeftover?: (message: string) => void,
): Promise<SchemaAgreement> {
  const exclude = { excludeSchemas: [options.history.schema] };
  const purpose = 'check (the wanted schema and the migrations agree)';
  const pieces = await wantedSchemaSql(options.wanted.source, options.cwd);
  const wantedSchema = withShadowDatabase(
    server,
    purpose,
    async (shadow) => {
      await buildWantedSchema(shadow.db, pieces);
      return inspectSchema(shadow.db, exclude);
    },
    onLeftover,
  );
  const headSchema = options.head
    ? Promise.resolve(options.head)
    : withShadowDatabase(
        server,
        purpose,
        async (shadow) => {
          await buildMigratedSchema(shadow.db, graph, options);
          return inspectSchema(shadow.db, exclude);
        },
        onLeftover,
      );
  const [wanted, head] = await Promise.all([wantedSchema, headSchema]);
  return { wanted: options.wanted.label, statements: await differences(head, wanted) };
}

/** Head's schema as the diff library reads it, from a database at the heads. */
export function inspectHead(db: Database, history: History): Promise<SchemaInspection> {
  return inspectSchema(db, { excludeSchemas: [history.schema] });
}
