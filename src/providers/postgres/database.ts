// Kind `Database`: a database with its owner, encoding, locale and limits.
// It holds data, so it is only dropped or replaced with deletion-policy Delete.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { checkIdentifier, compact, liveTags, objectName, objectNameSchema, readOne, tagsSchema, writeTags } from "./common.js";
import { quoteIdentifier, quoteLiteral, type PostgresConnection } from "./connection.js";

export const databaseSpec = Type.Object(
  {
    name: objectNameSchema,
    owner: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })),
    encoding: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_]+$", description: "e.g. UTF8; fixed at creation." })),
    locale: Type.Optional(
      Type.String({ pattern: "^[A-Za-z0-9_.@-]+$", description: "Sets both LC_COLLATE and LC_CTYPE, e.g. C or en_US.UTF-8; fixed at creation." }),
    ),
    template: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "Database to copy; default template1. Only used at creation." })),
    connectionLimit: Type.Optional(Type.Integer({ minimum: -1 })),
    allowConnections: Type.Optional(Type.Boolean()),
    isTemplate: Type.Optional(Type.Boolean()),
    tags: tagsSchema,
  },
  { additionalProperties: false },
);

export type DatabaseSpec = Static<typeof databaseSpec>;

interface DatabaseRow extends Record<string, unknown> {
  datname: string;
  owner: string;
  encoding: string;
  datcollate: string;
  datctype: string;
  datconnlimit: number;
  datallowconn: boolean;
  datistemplate: boolean;
  comment: string | null;
}

const databaseQuery = `
  SELECT d.datname, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding, d.datcollate, d.datctype,
         d.datconnlimit, d.datallowconn, d.datistemplate, shobj_description(d.oid, 'pg_database') AS comment
  FROM pg_database d
  WHERE d.datname = ANY($1::text[])`;

function liveFromRow(row: DatabaseRow, target: Target<DatabaseSpec>): LiveObject {
  const desired = target.desired ?? target.spec;
  const encodingMatches =
    desired.encoding !== undefined && desired.encoding.replace(/[-_]/g, "").toUpperCase() === row.encoding.replace(/[-_]/g, "").toUpperCase();
  return {
    spec: compact({
      name: target.spec.name,
      owner: row.owner,
      encoding: encodingMatches ? desired.encoding : row.encoding,
      locale: row.datcollate === row.datctype ? row.datcollate : `${row.datcollate}/${row.datctype}`,
      // The template a database was copied from is not recorded by PostgreSQL.
      template: target.spec.template,
      connectionLimit: row.datconnlimit,
      allowConnections: row.datallowconn,
      isTemplate: row.datistemplate,
      tags: liveTags(row.comment),
    }),
    outputs: { name: row.datname },
  };
}

async function readDatabases(connection: PostgresConnection, targets: readonly Target<DatabaseSpec>[]): Promise<Map<string, LiveObject>> {
  const rows = await connection.read<DatabaseRow>(undefined, databaseQuery, [targets.map(objectName)]);
  const byName = new Map(rows.map((row) => [row.datname, row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byName.get(objectName(target));
    if (row !== undefined) live.set(target.address, liveFromRow(row, target));
  }
  return live;
}

async function reread(connection: PostgresConnection, target: Target<DatabaseSpec>): Promise<{ live: LiveObject; comment: string | null }> {
  const rows = await connection.query<DatabaseRow>(undefined, databaseQuery, [[objectName(target)]]);
  const row = rows[0];
  if (row === undefined) throw new Error(`database "${objectName(target)}" is missing right after it was written`);
  return { live: liveFromRow(row, target), comment: row.comment };
}

function settableOptions(spec: DatabaseSpec, only?: ReadonlySet<string>): string[] {
  const wanted = (field: string) => only === undefined || only.has(field);
  const options: string[] = [];
  if (spec.connectionLimit !== undefined && wanted("connectionLimit")) options.push(`CONNECTION LIMIT ${spec.connectionLimit}`);
  if (spec.allowConnections !== undefined && wanted("allowConnections")) options.push(`ALLOW_CONNECTIONS ${spec.allowConnections}`);
  if (spec.isTemplate !== undefined && wanted("isTemplate")) options.push(`IS_TEMPLATE ${spec.isTemplate}`);
  return options;
}

export const databaseKind = defineKind<DatabaseSpec, PostgresConnection>({
  kind: "Database",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  schema: databaseSpec,
  dataHolding: true,
  replaceOn: ["name", "encoding", "locale", "template"],
  tagField: "tags",
  validate(spec, name) {
    return checkIdentifier(spec.name ?? name, "/name");
  },
  provides: (spec, name) => [`database:${spec.name ?? name}`],
  places: (spec, name) => ({ database: [spec.name ?? name], ...(spec.owner === undefined ? {} : { role: [spec.owner] }) }),
  requires: (spec) => (spec.owner === undefined ? [] : [`role:${spec.owner}`]),
  list: readDatabases,
  read: readOne(readDatabases),
  async create(connection, target) {
    const spec = target.spec;
    const options = [
      ...(spec.owner === undefined ? [] : [`OWNER ${quoteIdentifier(spec.owner)}`]),
      ...(spec.template === undefined ? [] : [`TEMPLATE ${quoteIdentifier(spec.template)}`]),
      ...(spec.encoding === undefined ? [] : [`ENCODING ${quoteLiteral(spec.encoding)}`]),
      ...(spec.locale === undefined ? [] : [`LOCALE ${quoteLiteral(spec.locale)}`]),
      ...settableOptions(spec),
    ];
    // CREATE DATABASE cannot run inside a transaction; each pool query runs on its own.
    await connection.query(undefined, `CREATE DATABASE ${quoteIdentifier(objectName(target))}${options.length === 0 ? "" : ` WITH ${options.join(" ")}`}`);
    if (spec.tags !== undefined) await writeTags(connection, undefined, "DATABASE", quoteIdentifier(objectName(target)), spec.tags, null);
    return (await reread(connection, target)).live;
  },
  async update(connection, target, live) {
    const name = quoteIdentifier(objectName(target));
    const changed = new Set(
      Object.keys(target.spec).filter((field) => JSON.stringify(target.spec[field as keyof DatabaseSpec]) !== JSON.stringify(live.spec[field])),
    );
    if (changed.has("owner") && target.spec.owner !== undefined)
      await connection.query(undefined, `ALTER DATABASE ${name} OWNER TO ${quoteIdentifier(target.spec.owner)}`);
    const options = settableOptions(target.spec, changed);
    if (options.length > 0) await connection.query(undefined, `ALTER DATABASE ${name} WITH ${options.join(" ")}`);
    if (changed.has("tags") && target.spec.tags !== undefined) {
      await writeTags(connection, undefined, "DATABASE", name, target.spec.tags, (await reread(connection, target)).comment);
    }
    return (await reread(connection, target)).live;
  },
  async delete(connection, target) {
    await connection.releaseDatabase(objectName(target));
    await connection.query(undefined, `DROP DATABASE IF EXISTS ${quoteIdentifier(objectName(target))}`);
  },
  health(live) {
    return live.spec.allowConnections === false ? { status: "Degraded", message: "connections are not allowed" } : { status: "Healthy" };
  },
});
