// Kinds `User` and `Role`: MariaDB accounts with their password (from a
// secret), authentication plugin, resource limits, lock and granted roles,
// read for a stack with two catalog queries.

import { createHash } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import type { JsonValue } from "../../sdk/resource.js";
import { secretReferenceSchema, type SecretReference } from "../../secrets/references.js";
import { checkName, inDesiredOrder, readBack, readOne } from "./common.js";
import { account, quoteLiteral, type MysqlConnection } from "./connection.js";

const limit = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: 2_147_483_647, description: `${description}; 0 (default) is no limit.` }));
const roleList = Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 80 }), { uniqueItems: true, description: "Roles granted." }));

export const userSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: "The user name; default metadata.name." })),
    host: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: "Where the user may connect from: a host, an address, a pattern (10.0.%); default %." }),
    ),
    password: Type.Optional(secretReferenceSchema),
    authPlugin: Type.Optional(Type.Union([Type.Literal("mysql_native_password"), Type.Literal("ed25519")], { description: "Default mysql_native_password." })),
    locked: Type.Optional(Type.Boolean({ description: "A locked account cannot log in; default false." })),
    maxQueriesPerHour: limit("Statements an hour"),
    maxUpdatesPerHour: limit("Changing statements an hour"),
    maxConnectionsPerHour: limit("Logins an hour"),
    maxUserConnections: limit("Connections at once"),
    roles: roleList,
    defaultRole: Type.Optional(Type.String({ maxLength: 80, description: "The role set at login; an empty string for none." })),
  },
  { additionalProperties: false },
);
export type UserSpec = Static<typeof userSpec>;

export const roleSpec = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 80, description: "Default metadata.name." })), roles: roleList },
  { additionalProperties: false },
);
export type RoleSpec = Static<typeof roleSpec>;

interface AccountRow extends Record<string, unknown> {
  User: string;
  Host: string;
  plugin: string;
  authentication_string: string;
  max_questions: number | string;
  max_updates: number | string;
  max_connections: number | string;
  max_user_connections: number | string;
  default_role: string;
  locked: string | null;
}

interface MappingRow extends Record<string, unknown> {
  User: string;
  Host: string;
  Role: string;
}

const accountQuery = `
  SELECT u.User, u.Host, u.plugin, u.authentication_string, u.max_questions, u.max_updates, u.max_connections,
         u.max_user_connections, u.default_role, JSON_VALUE(g.Priv, '$.account_locked') AS locked
  FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host
  WHERE u.User IN (?) AND u.is_role = ?`;

export const userName = (target: Target<UserSpec>): string => target.spec.name ?? target.name;
export const userHost = (target: Target<UserSpec>): string => target.spec.host ?? "%";
const roleName = (target: Target<RoleSpec>): string => target.spec.name ?? target.name;
const key = (user: string, host: string) => `${user}\u0000${host}`;

/** What mysql_native_password keeps of a password: `*` and SHA1(SHA1(password)), upper-case. */
export function nativePasswordHash(password: string): string {
  const inner = createHash("sha1").update(password, "utf8").digest();
  return `*${createHash("sha1").update(inner).digest("hex").toUpperCase()}`;
}

async function readAccounts(
  connection: MysqlConnection,
  names: string[],
  role: boolean,
): Promise<{ rows: Map<string, AccountRow>; granted: Map<string, string[]> }> {
  const [rows, mappings, self] = await Promise.all([
    connection.query<AccountRow>(accountQuery, [names, role ? "Y" : "N"]),
    connection.query<MappingRow>("SELECT User, Host, Role FROM mysql.roles_mapping WHERE User IN (?)", [names]),
    connection.account(),
  ]);
  const granted = new Map<string, string[]>();
  for (const mapping of mappings) {
    const accountKey = key(mapping.User, mapping.Host);
    // The server makes the creator of a role a member of it: bookkeeping, not a grant anyone declared.
    if (accountKey === key(self.user, self.host)) continue;
    granted.set(accountKey, [...(granted.get(accountKey) ?? []), mapping.Role]);
  }
  return { rows: new Map(rows.map((row) => [key(row.User, row.Host), row])), granted };
}

async function livePassword(connection: MysqlConnection, desired: SecretReference | undefined, row: AccountRow): Promise<JsonValue | undefined> {
  if (desired === undefined) return row.authentication_string === "" ? undefined : "(a password Plumb did not set)";
  // Only mysql_native_password keeps an unsalted hash that can be checked; for the others the password last applied stands.
  if (row.plugin !== "mysql_native_password") return desired as unknown as JsonValue;
  return nativePasswordHash(await connection.secret(desired)) === row.authentication_string
    ? (desired as unknown as JsonValue)
    : "(a password Plumb did not set)";
}

async function readUsers(connection: MysqlConnection, targets: readonly Target<UserSpec>[]): Promise<Map<string, LiveObject>> {
  const { rows, granted } = await readAccounts(connection, [...new Set(targets.map(userName))], false);
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = rows.get(key(userName(target), userHost(target)));
    if (row === undefined) continue;
    const desired = target.desired ?? target.spec;
    const password = await livePassword(connection, desired.password, row);
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: row.User }),
        ...(target.spec.host === undefined ? {} : { host: row.Host }),
        ...(password === undefined ? {} : { password }),
        authPlugin: row.plugin,
        locked: row.locked === "true" || row.locked === "1",
        maxQueriesPerHour: Number(row.max_questions),
        maxUpdatesPerHour: Number(row.max_updates),
        maxConnectionsPerHour: Number(row.max_connections),
        maxUserConnections: Number(row.max_user_connections),
        roles: inDesiredOrder(desired.roles, granted.get(key(row.User, row.Host)) ?? []),
        defaultRole: row.default_role,
      },
      outputs: { name: row.User, host: row.Host },
    });
  }
  return live;
}

async function readRoles(connection: MysqlConnection, targets: readonly Target<RoleSpec>[]): Promise<Map<string, LiveObject>> {
  const { rows, granted } = await readAccounts(connection, [...new Set(targets.map(roleName))], true);
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = rows.get(key(roleName(target), ""));
    if (row === undefined) continue;
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: row.User }),
        roles: inDesiredOrder((target.desired ?? target.spec).roles, granted.get(key(row.User, "")) ?? []),
      },
      outputs: { name: row.User },
    });
  }
  return live;
}

async function identified(connection: MysqlConnection, spec: UserSpec): Promise<string> {
  if (spec.password === undefined) return spec.authPlugin === undefined ? "" : ` IDENTIFIED VIA ${spec.authPlugin}`;
  const password = quoteLiteral(await connection.secret(spec.password));
  return spec.authPlugin === "ed25519" ? ` IDENTIFIED VIA ed25519 USING PASSWORD(${password})` : ` IDENTIFIED BY ${password}`;
}

function limits(spec: UserSpec): string {
  const parts = [
    ["MAX_QUERIES_PER_HOUR", spec.maxQueriesPerHour],
    ["MAX_UPDATES_PER_HOUR", spec.maxUpdatesPerHour],
    ["MAX_CONNECTIONS_PER_HOUR", spec.maxConnectionsPerHour],
    ["MAX_USER_CONNECTIONS", spec.maxUserConnections],
  ].filter(([, value]) => value !== undefined);
  return parts.length === 0 ? "" : ` WITH ${parts.map(([option, value]) => `${option} ${value}`).join(" ")}`;
}

function roleChanges(grantee: string, desired: readonly string[] | undefined, live: readonly string[]): string[] {
  if (desired === undefined) return [];
  return [
    ...desired.filter((role) => !live.includes(role)).map((role) => `GRANT ${quoteLiteral(role)} TO ${grantee}`),
    ...live.filter((role) => !desired.includes(role)).map((role) => `REVOKE ${quoteLiteral(role)} FROM ${grantee}`),
  ];
}

function changedFields<Spec extends object>(spec: Spec, live: LiveObject): Set<string> {
  return new Set(Object.keys(spec).filter((field) => JSON.stringify(spec[field as keyof Spec]) !== JSON.stringify(live.spec[field])));
}

function checkAccount(name: string): SpecProblem[] {
  return checkName(name, "/name", 80, "account");
}

export const userKind = defineKind<UserSpec, MysqlConnection>({
  kind: "User",
  schema: userSpec,
  replaceOn: ["name", "host"],
  outputs: (spec, name) => ({ name: spec.name ?? name, host: spec.host ?? "%" }),
  defaults: () => ({ locked: false, maxQueriesPerHour: 0, maxUpdatesPerHour: 0, maxConnectionsPerHour: 0, maxUserConnections: 0, roles: [] }),
  validate: (spec, name) => checkAccount(spec.name ?? name),
  provides: (spec, name) => [`account:${spec.name ?? name}@${spec.host ?? "%"}`],
  requires: (spec) => [...(spec.roles ?? []), ...(spec.defaultRole ? [spec.defaultRole] : [])].map((role) => `role:${role}`),
  list: readUsers,
  read: readOne(readUsers),
  async create(connection, target) {
    const spec = target.spec;
    const grantee = account(userName(target), userHost(target));
    await connection.statements([
      `CREATE USER ${grantee}${await identified(connection, spec)}${limits(spec)}${spec.locked === true ? " ACCOUNT LOCK" : ""}`,
      ...roleChanges(grantee, spec.roles, []),
      ...(spec.defaultRole === undefined || spec.defaultRole === "" ? [] : [`SET DEFAULT ROLE ${quoteLiteral(spec.defaultRole)} FOR ${grantee}`]),
    ]);
    return readBack(readUsers, connection, target, `user ${grantee}`);
  },
  async update(connection, target, live) {
    const spec = target.spec;
    const grantee = account(userName(target), userHost(target));
    const changed = changedFields(spec, live);
    const statements: string[] = [];
    if (changed.has("password") || changed.has("authPlugin")) statements.push(`ALTER USER ${grantee}${await identified(connection, spec)}`);
    if (["maxQueriesPerHour", "maxUpdatesPerHour", "maxConnectionsPerHour", "maxUserConnections"].some((field) => changed.has(field)))
      statements.push(`ALTER USER ${grantee}${limits(spec)}`);
    if (changed.has("locked")) statements.push(`ALTER USER ${grantee} ACCOUNT ${spec.locked === true ? "LOCK" : "UNLOCK"}`);
    if (changed.has("roles")) statements.push(...roleChanges(grantee, spec.roles, (live.spec.roles as string[] | undefined) ?? []));
    if (changed.has("defaultRole"))
      statements.push(`SET DEFAULT ROLE ${spec.defaultRole === undefined || spec.defaultRole === "" ? "NONE" : quoteLiteral(spec.defaultRole)} FOR ${grantee}`);
    await connection.statements(statements);
    return readBack(readUsers, connection, target, `user ${grantee}`);
  },
  async delete(connection, target) {
    await connection.statements([`DROP USER IF EXISTS ${account(userName(target), userHost(target))}`]);
  },
});

export const roleKind = defineKind<RoleSpec, MysqlConnection>({
  kind: "Role",
  schema: roleSpec,
  replaceOn: ["name"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ roles: [] }),
  validate: (spec, name) => checkAccount(spec.name ?? name),
  provides: (spec, name) => [`role:${spec.name ?? name}`],
  requires: (spec) => (spec.roles ?? []).map((role) => `role:${role}`),
  list: readRoles,
  read: readOne(readRoles),
  async create(connection, target) {
    const grantee = quoteLiteral(roleName(target));
    await connection.statements([`CREATE ROLE ${grantee}`, ...roleChanges(grantee, target.spec.roles, [])]);
    return readBack(readRoles, connection, target, `role ${grantee}`);
  },
  async update(connection, target, live) {
    const grantee = quoteLiteral(roleName(target));
    await connection.statements(roleChanges(grantee, target.spec.roles, (live.spec.roles as string[] | undefined) ?? []));
    return readBack(readRoles, connection, target, `role ${grantee}`);
  },
  async delete(connection, target) {
    await connection.statements([`DROP ROLE IF EXISTS ${quoteLiteral(roleName(target))}`]);
  },
});
