// Kind `Schema`: a schema inside one database, with its owner and tags. It
// holds tables, so it is only dropped with deletion-policy Delete.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import {
  checkIdentifier,
  compact,
  groupByDatabase,
  liveTags,
  objectName,
  objectNameSchema,
  queryInDatabase,
  readBack,
  readOne,
  tagsSchema,
  writeTags,
} from "./common.js";
import { quoteIdentifier, sqlStateOf, type PostgresConnection } from "./connection.js";

export const schemaSpec = Type.Object(
  {
    name: objectNameSchema,
    database: Type.String({ minLength: 1, maxLength: 63, description: "The database the schema lives in." }),
    owner: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    tags: tagsSchema,
  },
  { additionalProperties: false },
);

export type SchemaSpec = Static<typeof schemaSpec>;

interface SchemaRow extends Record<string, unknown> {
  nspname: string;
  owner: string;
  comment: string | null;
}

const schemaQuery = `
  SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, obj_description(n.oid, 'pg_namespace') AS comment
  FROM pg_namespace n
  WHERE n.nspname = ANY($1::text[])`;

async function readSchemas(connection: PostgresConnection, targets: readonly Target<SchemaSpec>[]): Promise<Map<string, LiveObject>> {
  const live = new Map<string, LiveObject>();
  for (const [database, group] of groupByDatabase(targets)) {
    const rows = await queryInDatabase<SchemaRow>(connection, database, schemaQuery, [group.map(objectName)]);
    if (rows === undefined) continue;
    const byName = new Map(rows.map((row) => [row.nspname, row]));
    for (const target of group) {
      const row = byName.get(objectName(target));
      if (row === undefined) continue;
      live.set(target.address, {
        spec: compact({ name: target.spec.name, database, owner: row.owner, tags: liveTags(row.comment) }),
        outputs: { name: row.nspname, database },
      });
    }
  }
  return live;
}

async function currentComment(connection: PostgresConnection, target: Target<SchemaSpec>): Promise<string | null> {
  const rows = await connection.query<SchemaRow>(target.spec.database, schemaQuery, [[objectName(target)]]);
  return rows[0]?.comment ?? null;
}

export const schemaKind = defineKind<SchemaSpec, PostgresConnection>({
  kind: "Schema",
  outputs: (spec, name) => ({ name: spec.name ?? name, database: spec.database }),
  schema: schemaSpec,
  dataHolding: true,
  replaceOn: ["name", "database"],
  tagField: "tags",
  validate(spec, name) {
    return checkIdentifier(spec.name ?? name, "/name");
  },
  places: (spec) => ({ database: [spec.database], ...(spec.owner === undefined ? {} : { role: [spec.owner] }) }),
  provides: (spec, name) => [`schema:${spec.database}/${spec.name ?? name}`],
  requires: (spec) => [`database:${spec.database}`, ...(spec.owner === undefined ? [] : [`role:${spec.owner}`])],
  list: readSchemas,
  read: readOne(readSchemas),
  async create(connection, target) {
    const name = quoteIdentifier(objectName(target));
    const owner = target.spec.owner === undefined ? "" : ` AUTHORIZATION ${quoteIdentifier(target.spec.owner)}`;
    await connection.query(target.spec.database, `CREATE SCHEMA ${name}${owner}`);
    if (target.spec.tags !== undefined) await writeTags(connection, target.spec.database, "SCHEMA", name, target.spec.tags, null);
    return readBack(readSchemas, connection, target, `schema "${objectName(target)}"`);
  },
  async update(connection, target, live) {
    const name = quoteIdentifier(objectName(target));
    if (target.spec.owner !== undefined && target.spec.owner !== live.spec.owner) {
      await connection.query(target.spec.database, `ALTER SCHEMA ${name} OWNER TO ${quoteIdentifier(target.spec.owner)}`);
    }
    if (target.spec.tags !== undefined && JSON.stringify(target.spec.tags) !== JSON.stringify(live.spec.tags)) {
      await writeTags(connection, target.spec.database, "SCHEMA", name, target.spec.tags, await currentComment(connection, target));
    }
    return readBack(readSchemas, connection, target, `schema "${objectName(target)}"`);
  },
  async delete(connection, target) {
    try {
      await connection.query(target.spec.database, `DROP SCHEMA IF EXISTS ${quoteIdentifier(objectName(target))}`);
    } catch (error) {
      if (sqlStateOf(error) !== "3D000") throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
