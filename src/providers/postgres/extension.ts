// Kind `Extension`: an extension installed in one database, in a schema, at a version.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { compact, groupByDatabase, objectName, objectNameSchema, queryInDatabase, readBack, readOne } from "./common.js";
import { quoteIdentifier, quoteLiteral, sqlStateOf, type PostgresConnection } from "./connection.js";

export const extensionSpec = Type.Object(
  {
    name: objectNameSchema,
    database: Type.String({ minLength: 1, maxLength: 63 }),
    schema: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "Where its objects go; default: the extension's own choice." })),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "Default: the newest available; a change runs ALTER EXTENSION … UPDATE." })),
  },
  { additionalProperties: false },
);

export type ExtensionSpec = Static<typeof extensionSpec>;

interface ExtensionRow extends Record<string, unknown> {
  extname: string;
  schema: string;
  extversion: string;
}

const extensionQuery = `
  SELECT e.extname, n.nspname AS schema, e.extversion
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
  WHERE e.extname = ANY($1::text[])`;

async function readExtensions(connection: PostgresConnection, targets: readonly Target<ExtensionSpec>[]): Promise<Map<string, LiveObject>> {
  const live = new Map<string, LiveObject>();
  for (const [database, group] of groupByDatabase(targets)) {
    const rows = await queryInDatabase<ExtensionRow>(connection, database, extensionQuery, [group.map(objectName)]);
    if (rows === undefined) continue;
    const byName = new Map(rows.map((row) => [row.extname, row]));
    for (const target of group) {
      const row = byName.get(objectName(target));
      if (row !== undefined)
        live.set(target.address, {
          spec: compact({ name: target.spec.name, database, schema: row.schema, version: row.extversion }),
          outputs: { version: row.extversion },
        });
    }
  }
  return live;
}

export const extensionKind = defineKind<ExtensionSpec, PostgresConnection>({
  kind: "Extension",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  schema: extensionSpec,
  replaceOn: ["name", "database"],
  places: (spec) => ({ database: [spec.database] }),
  requires: (spec) => [`database:${spec.database}`, ...(spec.schema === undefined ? [] : [`schema:${spec.database}/${spec.schema}`])],
  list: readExtensions,
  read: readOne(readExtensions),
  async create(connection, target) {
    const { schema, version, database } = target.spec;
    await connection.query(
      database,
      `CREATE EXTENSION IF NOT EXISTS ${quoteIdentifier(objectName(target))}${schema === undefined ? "" : ` SCHEMA ${quoteIdentifier(schema)}`}${version === undefined ? "" : ` VERSION ${quoteLiteral(version)}`}`,
    );
    return readBack(readExtensions, connection, target, `extension "${objectName(target)}"`);
  },
  async update(connection, target, live) {
    const name = quoteIdentifier(objectName(target));
    const { schema, version, database } = target.spec;
    if (version !== undefined && version !== live.spec.version) await connection.query(database, `ALTER EXTENSION ${name} UPDATE TO ${quoteLiteral(version)}`);
    if (schema !== undefined && schema !== live.spec.schema) await connection.query(database, `ALTER EXTENSION ${name} SET SCHEMA ${quoteIdentifier(schema)}`);
    return readBack(readExtensions, connection, target, `extension "${objectName(target)}"`);
  },
  async delete(connection, target) {
    try {
      await connection.query(target.spec.database, `DROP EXTENSION IF EXISTS ${quoteIdentifier(objectName(target))}`);
    } catch (error) {
      if (sqlStateOf(error) !== "3D000") throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
