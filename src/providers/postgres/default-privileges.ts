// Kind `DefaultPrivileges`: privileges a role gets on objects another role
// creates in the future (ALTER DEFAULT PRIVILEGES), read from pg_default_acl.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { groupByDatabase, queryInDatabase, readBack, readOne } from "./common.js";
import { quoteIdentifier, sqlStateOf, type PostgresConnection } from "./connection.js";
import { allPrivileges, expandPrivileges, invalidPrivileges, livePrivileges, privilegeSchema } from "./privileges.js";

const objectTypes = { table: "r", sequence: "S", function: "f", schema: "n" } as const;
const plural = { table: "TABLES", sequence: "SEQUENCES", function: "FUNCTIONS", schema: "SCHEMAS" } as const;

export const defaultPrivilegesSpec = Type.Object(
  {
    role: Type.String({ minLength: 1, maxLength: 63, description: "The role receiving the privileges." }),
    owner: Type.String({ minLength: 1, maxLength: 63, description: "The role whose future objects this applies to." }),
    database: Type.String({ minLength: 1, maxLength: 63 }),
    schema: Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "Only objects created in this schema; omitted: everywhere." })),
    objectType: Type.Union([Type.Literal("table"), Type.Literal("sequence"), Type.Literal("function"), Type.Literal("schema")]),
    privileges: Type.Array(privilegeSchema, { minItems: 1, uniqueItems: true }),
    withGrantOption: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type DefaultPrivilegesSpec = Static<typeof defaultPrivilegesSpec>;

interface DefaultAclRow extends Record<string, unknown> {
  owner: string;
  schema: string | null;
  objtype: string;
  grantee: string;
  privilege_type: string;
  is_grantable: boolean;
}

const defaultAclQuery = `
  SELECT pg_get_userbyid(d.defaclrole) AS owner, n.nspname AS schema, d.defaclobjtype::text AS objtype,
         pg_get_userbyid(a.grantee) AS grantee, a.privilege_type, a.is_grantable
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
  WHERE pg_get_userbyid(d.defaclrole) = ANY($1::text[])`;

async function readDefaults(connection: PostgresConnection, targets: readonly Target<DefaultPrivilegesSpec>[]): Promise<Map<string, LiveObject>> {
  const live = new Map<string, LiveObject>();
  for (const [database, group] of groupByDatabase(targets)) {
    const rows = await queryInDatabase<DefaultAclRow>(connection, database, defaultAclQuery, [[...new Set(group.map((target) => target.spec.owner))]]);
    if (rows === undefined) continue;
    for (const target of group) {
      const spec = target.spec;
      const held = rows.filter(
        (row) => row.owner === spec.owner && row.grantee === spec.role && row.objtype === objectTypes[spec.objectType] && row.schema === (spec.schema ?? null),
      );
      if (held.length === 0) continue;
      const privileges = held.map((row) => row.privilege_type);
      live.set(target.address, {
        spec: {
          ...spec,
          privileges: livePrivileges(spec.objectType, spec.privileges, privileges),
          ...(spec.withGrantOption === undefined ? {} : { withGrantOption: held.every((row) => row.is_grantable) }),
        },
      });
    }
  }
  return live;
}

function prefix(spec: DefaultPrivilegesSpec): string {
  return `ALTER DEFAULT PRIVILEGES FOR ROLE ${quoteIdentifier(spec.owner)}${spec.schema === undefined ? "" : ` IN SCHEMA ${quoteIdentifier(spec.schema)}`}`;
}

async function writeDefaults(connection: PostgresConnection, target: Target<DefaultPrivilegesSpec>): Promise<LiveObject> {
  const spec = target.spec;
  const grantee = quoteIdentifier(spec.role);
  await connection.transaction(spec.database, [
    `${prefix(spec)} REVOKE ALL ON ${plural[spec.objectType]} FROM ${grantee}`,
    `${prefix(spec)} GRANT ${expandPrivileges(spec.objectType, spec.privileges).join(", ")} ON ${plural[spec.objectType]} TO ${grantee}${spec.withGrantOption === true ? " WITH GRANT OPTION" : ""}`,
  ]);
  return readBack(readDefaults, connection, target, `default privileges for "${spec.role}"`);
}

export const defaultPrivilegesKind = defineKind<DefaultPrivilegesSpec, PostgresConnection>({
  kind: "DefaultPrivileges",
  schema: defaultPrivilegesSpec,
  ownsObjects: false,
  replaceOn: ["role", "owner", "database", "schema", "objectType"],
  validate(spec) {
    return invalidPrivileges(spec.objectType, spec.privileges).map((privilege) => ({
      path: "/privileges",
      message: `${privilege} does not apply to ${plural[spec.objectType].toLowerCase()}`,
      hint: `privileges for ${plural[spec.objectType].toLowerCase()}: ${allPrivileges[spec.objectType].join(", ")} (or ALL)`,
    }));
  },
  places: (spec) => ({ database: [spec.database], role: [spec.role, spec.owner] }),
  requires: (spec) => [
    `role:${spec.role}`,
    `role:${spec.owner}`,
    `database:${spec.database}`,
    ...(spec.schema === undefined ? [] : [`schema:${spec.database}/${spec.schema}`]),
  ],
  list: readDefaults,
  read: readOne(readDefaults),
  create: writeDefaults,
  update: (connection, target) => writeDefaults(connection, target),
  async delete(connection, target) {
    try {
      await connection.query(
        target.spec.database,
        `${prefix(target.spec)} REVOKE ALL ON ${plural[target.spec.objectType]} FROM ${quoteIdentifier(target.spec.role)}`,
      );
    } catch (error) {
      if (!["3D000", "42704", "3F000"].includes(sqlStateOf(error) ?? "")) throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
