// Kind `Role`: login and group roles with their attributes, memberships,
// password (from a secret; only a salted digest is kept) and tags.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { checkIdentifier, compact, inDesiredOrder, liveTags, objectName, objectNameSchema, readBack, readOne, tagsSchema, writeTags } from "./common.js";
import { quoteIdentifier, quoteLiteral, type PostgresConnection } from "./connection.js";

export const roleSpec = Type.Object(
  {
    name: objectNameSchema,
    login: Type.Optional(Type.Boolean()),
    inherit: Type.Optional(Type.Boolean()),
    createdb: Type.Optional(Type.Boolean()),
    createrole: Type.Optional(Type.Boolean()),
    replication: Type.Optional(Type.Boolean()),
    bypassrls: Type.Optional(Type.Boolean()),
    connectionLimit: Type.Optional(Type.Integer({ minimum: -1, description: "-1 means no limit." })),
    validUntil: Type.Optional(Type.String({ description: "A timestamp such as 2027-01-01T00:00:00Z, or infinity." })),
    memberOf: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 63 }), { uniqueItems: true, description: "Roles this role is a member of." })),
    password: Type.Optional(secretReferenceSchema),
    tags: tagsSchema,
  },
  { additionalProperties: false },
);

export type RoleSpec = Static<typeof roleSpec>;

interface RoleRow extends Record<string, unknown> {
  rolname: string;
  rolcanlogin: boolean;
  rolinherit: boolean;
  rolcreatedb: boolean;
  rolcreaterole: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  /** The driver gives `Infinity` (a number) for 'infinity', a Date otherwise. */
  rolvaliduntil: Date | number | null;
  comment: string | null;
  member_of: string[];
}

const roleQuery = `
  SELECT r.rolname, r.rolcanlogin, r.rolinherit, r.rolcreatedb, r.rolcreaterole, r.rolreplication,
         r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil, shobj_description(r.oid, 'pg_authid') AS comment,
         ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1)::text[] AS member_of
  FROM pg_roles r
  WHERE r.rolname = ANY($1::text[])`;

const flags = [
  ["login", "LOGIN", "NOLOGIN"],
  ["inherit", "INHERIT", "NOINHERIT"],
  ["createdb", "CREATEDB", "NOCREATEDB"],
  ["createrole", "CREATEROLE", "NOCREATEROLE"],
  ["replication", "REPLICATION", "NOREPLICATION"],
  ["bypassrls", "BYPASSRLS", "NOBYPASSRLS"],
] as const;

/** Milliseconds since the epoch, Infinity for 'infinity'. */
function expiryTime(live: Date | number): number {
  return live instanceof Date ? live.getTime() : live;
}

function validUntilMatches(desired: string | undefined, live: number): boolean {
  if (desired === undefined) return false;
  if (desired === "infinity") return live === Infinity;
  return Date.parse(desired) === live;
}

function liveFromRow(row: RoleRow, target: Target<RoleSpec>): LiveObject {
  const desired = target.desired ?? target.spec;
  const expiry = row.rolvaliduntil === null ? undefined : expiryTime(row.rolvaliduntil);
  const validUntil =
    expiry === undefined
      ? undefined
      : validUntilMatches(desired.validUntil, expiry)
        ? desired.validUntil
        : Number.isFinite(expiry)
          ? new Date(expiry).toISOString()
          : "infinity";
  return {
    spec: compact({
      name: target.spec.name,
      login: row.rolcanlogin,
      inherit: row.rolinherit,
      createdb: row.rolcreatedb,
      createrole: row.rolcreaterole,
      replication: row.rolreplication,
      bypassrls: row.rolbypassrls,
      connectionLimit: row.rolconnlimit,
      validUntil,
      memberOf: inDesiredOrder(desired.memberOf, row.member_of),
      // PostgreSQL cannot say what a password is; the digest last applied stands for it.
      password: target.spec.password,
      tags: liveTags(row.comment),
    }),
    outputs: { name: row.rolname },
  };
}

async function attributeClause(connection: PostgresConnection, spec: RoleSpec, only?: ReadonlySet<string>): Promise<string> {
  const parts: string[] = [];
  const wanted = (field: string) => only === undefined || only.has(field);
  for (const [field, yes, no] of flags) {
    const value = spec[field];
    if (value !== undefined && wanted(field)) parts.push(value ? yes : no);
  }
  if (spec.connectionLimit !== undefined && wanted("connectionLimit")) parts.push(`CONNECTION LIMIT ${spec.connectionLimit}`);
  if (spec.validUntil !== undefined && wanted("validUntil")) parts.push(`VALID UNTIL ${quoteLiteral(spec.validUntil)}`);
  if (spec.password !== undefined && wanted("password")) parts.push(`PASSWORD ${quoteLiteral(await connection.secret(spec.password))}`);
  return parts.join(" ");
}

async function readRoles(connection: PostgresConnection, targets: readonly Target<RoleSpec>[]): Promise<Map<string, LiveObject>> {
  const rows = await connection.read<RoleRow>(undefined, roleQuery, [targets.map(objectName)]);
  const byName = new Map(rows.map((row) => [row.rolname, row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byName.get(objectName(target));
    if (row !== undefined) live.set(target.address, liveFromRow(row, target));
  }
  return live;
}

async function currentComment(connection: PostgresConnection, name: string): Promise<string | null> {
  const rows = await connection.query<{ comment: string | null }>(
    undefined,
    "SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
    [name],
  );
  return rows[0]?.comment ?? null;
}

async function syncMemberships(connection: PostgresConnection, name: string, desired: readonly string[] | undefined, live: readonly string[]): Promise<void> {
  if (desired === undefined) return;
  const quoted = quoteIdentifier(name);
  for (const group of desired) if (!live.includes(group)) await connection.query(undefined, `GRANT ${quoteIdentifier(group)} TO ${quoted}`);
  for (const group of live) if (!desired.includes(group)) await connection.query(undefined, `REVOKE ${quoteIdentifier(group)} FROM ${quoted}`);
}

export const roleKind = defineKind<RoleSpec, PostgresConnection>({
  kind: "Role",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  schema: roleSpec,
  replaceOn: ["name"],
  tagField: "tags",
  validate(spec, name) {
    return checkIdentifier(spec.name ?? name, "/name");
  },
  provides: (spec, name) => [`role:${spec.name ?? name}`],
  places: (spec, name) => ({ role: [spec.name ?? name, ...(spec.memberOf ?? [])] }),
  requires: (spec) => (spec.memberOf ?? []).map((group) => `role:${group}`),
  list: readRoles,
  read: readOne(readRoles),
  async create(connection, target) {
    const name = objectName(target);
    const attributes = await attributeClause(connection, target.spec);
    await connection.query(undefined, `CREATE ROLE ${quoteIdentifier(name)}${attributes === "" ? "" : ` WITH ${attributes}`}`);
    await syncMemberships(connection, name, target.spec.memberOf, []);
    if (target.spec.tags !== undefined) await writeTags(connection, undefined, "ROLE", quoteIdentifier(name), target.spec.tags, null);
    return readBack(readRoles, connection, target, `role "${objectName(target)}"`);
  },
  async update(connection, target, live) {
    const name = objectName(target);
    const changed = new Set(
      Object.keys(target.spec).filter((field) => JSON.stringify(target.spec[field as keyof RoleSpec]) !== JSON.stringify(live.spec[field])),
    );
    const attributes = await attributeClause(connection, target.spec, changed);
    if (attributes !== "") await connection.query(undefined, `ALTER ROLE ${quoteIdentifier(name)} WITH ${attributes}`);
    if (changed.has("memberOf")) await syncMemberships(connection, name, target.spec.memberOf, (live.spec.memberOf as string[] | undefined) ?? []);
    if (changed.has("tags") && target.spec.tags !== undefined)
      await writeTags(connection, undefined, "ROLE", quoteIdentifier(name), target.spec.tags, await currentComment(connection, name));
    return readBack(readRoles, connection, target, `role "${objectName(target)}"`);
  },
  async delete(connection, target) {
    await connection.query(undefined, `DROP ROLE IF EXISTS ${quoteIdentifier(objectName(target))}`);
  },
  health() {
    return { status: "Healthy" };
  },
});
