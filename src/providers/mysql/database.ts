// Kind `Database`: a MariaDB database with its character set, collation and a
// comment carrying Plumb's tags. It holds data, so it is only dropped or
// replaced with deletion-policy Delete.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { checkName, readBack, readOne, tagsSchema } from "./common.js";
import { quoteIdentifier, quoteLiteral, type MysqlConnection } from "./connection.js";

export const databaseSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "Default metadata.name." })),
    characterSet: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_]{1,32}$", description: "e.g. utf8mb4; default the server's." })),
    collation: Type.Optional(Type.String({ pattern: "^[A-Za-z0-9_]{1,64}$", description: "e.g. utf8mb4_unicode_ci; default the character set's." })),
    tags: tagsSchema,
  },
  { additionalProperties: false },
);

export type DatabaseSpec = Static<typeof databaseSpec>;

interface SchemaRow extends Record<string, unknown> {
  SCHEMA_NAME: string;
  DEFAULT_CHARACTER_SET_NAME: string;
  DEFAULT_COLLATION_NAME: string;
  SCHEMA_COMMENT: string | null;
}

const commentPrefix = "plumb: ";

export function databaseName(target: Target<DatabaseSpec>): string {
  return target.spec.name ?? target.name;
}

function tagsFrom(comment: string | null): Record<string, string> | undefined {
  if (comment === null || !comment.startsWith(commentPrefix)) return undefined;
  try {
    const parsed = JSON.parse(comment.slice(commentPrefix.length)) as unknown;
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, string>) : undefined;
  } catch {
    return undefined;
  }
}

async function readDatabases(connection: MysqlConnection, targets: readonly Target<DatabaseSpec>[]): Promise<Map<string, LiveObject>> {
  const rows = await connection.query<SchemaRow>(
    "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)",
    [targets.map(databaseName)],
  );
  const byName = new Map(rows.map((row) => [row.SCHEMA_NAME, row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byName.get(databaseName(target));
    if (row === undefined) continue;
    const tags = tagsFrom(row.SCHEMA_COMMENT);
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: row.SCHEMA_NAME }),
        characterSet: row.DEFAULT_CHARACTER_SET_NAME,
        collation: row.DEFAULT_COLLATION_NAME,
        ...(tags === undefined ? {} : { tags }),
      },
      outputs: { name: row.SCHEMA_NAME },
    });
  }
  return live;
}

function options(spec: DatabaseSpec, only?: ReadonlySet<string>): string {
  const wanted = (field: string) => only === undefined || only.has(field);
  const parts: string[] = [];
  if (spec.characterSet !== undefined && wanted("characterSet")) parts.push(`CHARACTER SET ${spec.characterSet}`);
  if (spec.collation !== undefined && wanted("collation")) parts.push(`COLLATE ${spec.collation}`);
  if (spec.tags !== undefined && wanted("tags")) parts.push(`COMMENT ${quoteLiteral(commentPrefix + JSON.stringify(spec.tags))}`);
  return parts.join(" ");
}

export const databaseKind = defineKind<DatabaseSpec, MysqlConnection>({
  kind: "Database",
  schema: databaseSpec,
  dataHolding: true,
  replaceOn: ["name"],
  tagField: "tags",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", 64, "database"),
  places: (spec, name) => ({ database: [spec.name ?? name] }),
  provides: (spec, name) => [`database:${spec.name ?? name}`],
  list: readDatabases,
  read: readOne(readDatabases),
  async create(connection, target) {
    const clause = options(target.spec);
    await connection.statements([`CREATE DATABASE ${quoteIdentifier(databaseName(target))}${clause === "" ? "" : ` ${clause}`}`]);
    return readBack(readDatabases, connection, target, `database "${databaseName(target)}"`);
  },
  async update(connection, target, live) {
    const changed = new Set(
      Object.keys(target.spec).filter((field) => JSON.stringify(target.spec[field as keyof DatabaseSpec]) !== JSON.stringify(live.spec[field])),
    );
    // A new character set without a collation takes that set's default collation, as the server does.
    if (changed.has("characterSet") && target.spec.collation !== undefined) changed.add("collation");
    const clause = options(target.spec, changed);
    if (clause !== "") await connection.statements([`ALTER DATABASE ${quoteIdentifier(databaseName(target))} ${clause}`]);
    return readBack(readDatabases, connection, target, `database "${databaseName(target)}"`);
  },
  async delete(connection, target) {
    await connection.statements([`DROP DATABASE IF EXISTS ${quoteIdentifier(databaseName(target))}`]);
  },
});
