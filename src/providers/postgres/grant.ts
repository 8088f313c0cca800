// Kind `Grant`: the privileges one role holds on a database, a schema, or
// tables / sequences / functions in a schema (named ones, or all of them),
// read from the ACLs with aclexplode in one query per database.

import { Type, type Static } from "@sinclair/typebox";
import { groupBy } from "../../sdk/group-by.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { queryInDatabase, readBack, readOne } from "./common.js";
import { quoteIdentifier, sqlStateOf, type PostgresConnection } from "./connection.js";
import { allPrivileges, expandPrivileges, invalidPrivileges, livePrivileges, privilegeSchema, type ObjectType } from "./privileges.js";

export const grantSpec = Type.Object(
  {
    role: Type.String({ minLength: 1, maxLength: 63, description: "The role receiving the privileges." }),
    database: Type.String({ minLength: 1, maxLength: 63, description: "The database (the target itself when objectType is database)." }),
    objectType: Type.Union([Type.Literal("database"), Type.Literal("schema"), Type.Literal("table"), Type.Literal("sequence"), Type.Literal("function")]),
    schema: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "Required unless objectType is database." })),
    objects: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 63 }), {
        minItems: 1,
        uniqueItems: true,
        description: "Tables, sequences or functions by name; omitted: ALL … IN SCHEMA.",
      }),
    ),
    privileges: Type.Array(privilegeSchema, { minItems: 1, uniqueItems: true }),
    withGrantOption: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type GrantSpec = Static<typeof grantSpec>;

interface AclRow extends Record<string, unknown> {
  /** The schema for tables, sequences and functions; the object's own name otherwise. */
  object_schema: string;
  object_name: string;
  grantee: string | null;
  privilege_type: string | null;
  is_grantable: boolean | null;
}

const relationKinds: Record<"table" | "sequence", { kinds: string; acl: string }> = {
  table: { kinds: "'r','p','v','m','f'", acl: "'r'" },
  sequence: { kinds: "'S'", acl: "'s'" },
};

/**
 * One catalog query for every object of one type in one database that any of
 * the grants covers: (object, grantee, privilege) rows from aclexplode, with
 * the built-in defaults where an ACL was never set.
 */
function aclQuery(objectType: ObjectType): string {
  switch (objectType) {
    case "database":
      return `SELECT d.datname AS object_schema, d.datname AS object_name, pg_get_userbyid(a.grantee) AS grantee, a.privilege_type, a.is_grantable
              FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a WHERE d.datname = ANY($1::text[])`;
    case "schema":
      return `SELECT n.nspname AS object_schema, n.nspname AS object_name, pg_get_userbyid(a.grantee) AS grantee, a.privilege_type, a.is_grantable
              FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE n.nspname = ANY($1::text[])`;
    case "function":
      return `SELECT n.nspname AS object_schema, p.proname AS object_name, pg_get_userbyid(a.grantee) AS grantee, a.privilege_type, a.is_grantable
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              LEFT JOIN LATERAL aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a ON true
              WHERE n.nspname = ANY($1::text[]) AND p.prokind = 'f'`;
    default: {
      const relation = relationKinds[objectType];
      return `SELECT n.nspname AS object_schema, c.relname AS object_name, pg_get_userbyid(a.grantee) AS grantee, a.privilege_type, a.is_grantable
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault(${relation.acl}, c.relowner))) a ON true
              WHERE n.nspname = ANY($1::text[]) AND c.relkind IN (${relation.kinds})`;
    }
  }
}

/** The name a grant's objects are looked up by: the database, or the schema. */
function scopeName(spec: GrantSpec): string {
  return spec.objectType === "database" ? spec.database : (spec.schema ?? "public");
}

/**
 * What the role holds on every covered object at once: a privilege counts
 * only if it is held on all of them (ALL TABLES IN SCHEMA means every table).
 */
function liveFromRows(rows: readonly AclRow[], target: Target<GrantSpec>): LiveObject | null {
  const spec = target.spec;
  const scope = scopeName(spec);
  const objects = new Map<string, Map<string, boolean>>();
  for (const row of rows) {
    if (row.object_schema !== scope || (spec.objects !== undefined && !spec.objects.includes(row.object_name))) continue;
    const held = objects.get(row.object_name) ?? new Map<string, boolean>();
    objects.set(row.object_name, held);
    if (row.grantee === spec.role && row.privilege_type !== null)
      held.set(row.privilege_type, (held.get(row.privilege_type) ?? false) || row.is_grantable === true);
  }
  if (spec.objects !== undefined) for (const name of spec.objects) if (!objects.has(name)) objects.set(name, new Map());
  const covered = [...objects.values()];
  // ALL … IN SCHEMA over an empty schema: nothing to hold, nothing missing.
  if (covered.length === 0) return spec.objectType === "database" || spec.objectType === "schema" ? null : { spec: { ...spec } };
  const common = (allPrivileges[spec.objectType] as readonly string[]).filter((privilege) => covered.every((held) => held.has(privilege)));
  if (common.length === 0) return null;
  const grantable = common.every((privilege) => covered.every((held) => held.get(privilege) === true));
  return {
    spec: {
      ...spec,
      privileges: livePrivileges(spec.objectType, spec.privileges, common),
      ...(spec.withGrantOption === undefined ? {} : { withGrantOption: grantable }),
    },
  };
}

async function readGrants(connection: PostgresConnection, targets: readonly Target<GrantSpec>[]): Promise<Map<string, LiveObject>> {
  const groups = groupBy(targets, (target) => `${target.spec.objectType === "database" ? "" : target.spec.database}\u0000${target.spec.objectType}`);
  const live = new Map<string, LiveObject>();
  // Every group at once: the reads into one database travel together.
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const first = group[0] as Target<GrantSpec>;
      const database = first.spec.objectType === "database" ? undefined : first.spec.database;
      const rows = await queryInDatabase<AclRow>(connection, database, aclQuery(first.spec.objectType), [
        [...new Set(group.map((target) => scopeName(target.spec)))],
      ]);
      for (const target of group) {
        const object = rows === undefined ? null : liveFromRows(rows, target);
        if (object !== null) live.set(target.address, object);
      }
    }),
  );
  return live;
}

function objectClause(spec: GrantSpec): string {
  const schema = quoteIdentifier(spec.schema ?? "public");
  switch (spec.objectType) {
    case "database":
      return `DATABASE ${quoteIdentifier(spec.database)}`;
    case "schema":
      return `SCHEMA ${schema}`;
    case "function":
      return spec.objects === undefined
        ? `ALL FUNCTIONS IN SCHEMA ${schema}`
        : `FUNCTION ${spec.objects.map((name) => `${schema}.${quoteIdentifier(name)}`).join(", ")}`;
    default: {
      const plural = spec.objectType === "table" ? "TABLES" : "SEQUENCES";
      return spec.objects === undefined
        ? `ALL ${plural} IN SCHEMA ${schema}`
        : `${spec.objectType.toUpperCase()} ${spec.objects.map((name) => `${schema}.${quoteIdentifier(name)}`).join(", ")}`;
    }
  }
}

async function writeGrant(connection: PostgresConnection, target: Target<GrantSpec>): Promise<LiveObject> {
  const spec = target.spec;
  const on = objectClause(spec);
  const grantee = quoteIdentifier(spec.role);
  const privileges = expandPrivileges(spec.objectType, spec.privileges).join(", ");
  const database = spec.objectType === "database" ? undefined : spec.database;
  await connection.transaction(database, [
    `REVOKE ALL ON ${on} FROM ${grantee}`,
    `GRANT ${privileges} ON ${on} TO ${grantee}${spec.withGrantOption === true ? " WITH GRANT OPTION" : ""}`,
  ]);
  return readBack(readGrants, connection, target, `the grant to "${spec.role}"`);
}

export const grantKind = defineKind<GrantSpec, PostgresConnection>({
  kind: "Grant",
  schema: grantSpec,
  ownsObjects: false,
  replaceOn: ["role", "database", "objectType", "schema", "objects"],
  validate(spec) {
    const problems = invalidPrivileges(spec.objectType, spec.privileges).map((privilege) => ({
      path: "/privileges",
      message: `${privilege} does not apply to a ${spec.objectType}`,
      hint: `privileges for a ${spec.objectType}: ${allPrivileges[spec.objectType].join(", ")} (or ALL)`,
    }));
    if (spec.objectType !== "database" && spec.schema === undefined)
      problems.push({ path: "/schema", message: `a ${spec.objectType} grant needs a schema`, hint: "set spec.schema" });
    if ((spec.objectType === "database" || spec.objectType === "schema") && spec.objects !== undefined) {
      problems.push({ path: "/objects", message: `objects only apply to tables, sequences and functions`, hint: "remove spec.objects" });
    }
    return problems;
  },
  places: (spec) => ({ database: [spec.database], role: [spec.role] }),
  requires: (spec) => [`role:${spec.role}`, `database:${spec.database}`, ...(spec.schema === undefined ? [] : [`schema:${spec.database}/${spec.schema}`])],
  list: readGrants,
  read: readOne(readGrants),
  create: writeGrant,
  update: (connection, target) => writeGrant(connection, target),
  async delete(connection, target) {
    const database = target.spec.objectType === "database" ? undefined : target.spec.database;
    try {
      await connection.query(database, `REVOKE ALL ON ${objectClause(target.spec)} FROM ${quoteIdentifier(target.spec.role)}`);
    } catch (error) {
      // The role, database or schema is already gone, and the privileges with it.
      if (!["3D000", "42704", "3F000", "42P01", "42883"].includes(sqlStateOf(error) ?? "")) throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
