// Kinds `User` and `Permission`: broker users with a password from a secret
// (checked against the salted hash the broker keeps) and their tags, and a
// user's configure/write/read patterns on one vhost; each read with one call.

import { createHash } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import type { JsonValue } from "../../sdk/resource.js";
import { secretReferenceSchema, type SecretReference } from "../../secrets/references.js";
import { checkName, readBack, readOne, rows, vhostField } from "./common.js";
import { apiPath, type RabbitmqConnection } from "./connection.js";

export const userSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Default metadata.name." })),
    password: Type.Optional(secretReferenceSchema),
    tags: Type.Optional(
      Type.Array(Type.String({ pattern: "^[A-Za-z0-9_-]{1,64}$" }), {
        uniqueItems: true,
        description: "The broker's user tags: administrator, monitoring, management, policymaker.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type UserSpec = Static<typeof userSpec>;

const patternField = (what: string) =>
  Type.String({ maxLength: 1024, description: `A regular expression over resource names the user may ${what}; "" for none, ".*" for all.` });
export const permissionSpec = Type.Object(
  {
    user: Type.String({ minLength: 1, maxLength: 255 }),
    vhost: vhostField,
    configure: patternField("configure"),
    write: patternField("write to"),
    read: patternField("read from"),
  },
  { additionalProperties: false },
);
export type PermissionSpec = Static<typeof permissionSpec>;

const userName = (target: Target<UserSpec>): string => target.spec.name ?? target.name;

/** Whether `password` is the one behind a broker hash: base64 of a 4-byte salt and SHA-256(salt + password) (or SHA-512, or MD5 for old brokers). */
export function passwordMatches(hash: string, algorithm: string, password: string): boolean {
  const bytes = Buffer.from(hash, "base64");
  const digest = algorithm.endsWith("sha512") ? "sha512" : algorithm.endsWith("md5") ? "md5" : "sha256";
  const salt = bytes.subarray(0, 4);
  return (
    bytes.length > 4 &&
    createHash(digest)
      .update(Buffer.concat([salt, Buffer.from(password, "utf8")]))
      .digest()
      .equals(bytes.subarray(4))
  );
}

async function livePassword(
  connection: RabbitmqConnection,
  desired: SecretReference | undefined,
  hash: string,
  algorithm: string,
): Promise<JsonValue | undefined> {
  if (desired === undefined) return hash === "" ? undefined : "(a password Plumb did not set)";
  return passwordMatches(hash, algorithm, await connection.secret(desired)) ? (desired as unknown as JsonValue) : "(a password Plumb did not set)";
}

async function readUsers(connection: RabbitmqConnection, targets: readonly Target<UserSpec>[]): Promise<Map<string, LiveObject>> {
  const byName = new Map(rows(await connection.request("GET", "/users")).map((row) => [String(row.name), row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byName.get(userName(target));
    if (row === undefined) continue;
    const desired = target.desired ?? target.spec;
    const password = await livePassword(connection, desired.password, String(row.password_hash ?? ""), String(row.hashing_algorithm ?? ""));
    const tags = Array.isArray(row.tags)
      ? row.tags.map(String)
      : String(row.tags ?? "")
          .split(",")
          .filter((tag) => tag !== "");
    const sameTags = desired.tags !== undefined && desired.tags.length === tags.length && desired.tags.every((tag) => tags.includes(tag));
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: String(row.name) }),
        ...(password === undefined ? {} : { password }),
        tags: sameTags ? [...(desired.tags ?? [])] : tags.sort(),
      },
      outputs: { name: String(row.name) },
    });
  }
  return live;
}

async function putUser(connection: RabbitmqConnection, target: Target<UserSpec>): Promise<LiveObject> {
  const spec = target.spec;
  const password = spec.password === undefined ? undefined : await connection.secret(spec.password);
  // A user without a password can only log in by other means (x509); the API takes that as an empty password hash.
  await connection.request("PUT", apiPath`/users/${userName(target)}`, {
    ...(password === undefined ? { password_hash: "" } : { password }),
    tags: (spec.tags ?? []).join(","),
  });
  return readBack(readUsers, connection, target, `user "${userName(target)}"`);
}

export const userKind = defineKind<UserSpec, RabbitmqConnection>({
  kind: "User",
  schema: userSpec,
  replaceOn: ["name"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ tags: [] }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", "user"),
  provides: (spec, name) => [`user:${spec.name ?? name}`],
  list: readUsers,
  read: readOne(readUsers),
  create: putUser,
  update: (connection, target) => putUser(connection, target),
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/users/${userName(target)}`, undefined, { missingOk: true });
  },
});

async function readPermissions(connection: RabbitmqConnection, targets: readonly Target<PermissionSpec>[]): Promise<Map<string, LiveObject>> {
  const key = (user: string, vhost: string) => JSON.stringify([user, vhost]);
  const byKey = new Map(rows(await connection.request("GET", "/permissions")).map((row) => [key(String(row.user), String(row.vhost)), row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byKey.get(key(target.spec.user, target.spec.vhost));
    if (row === undefined) continue;
    live.set(target.address, {
      spec: { user: target.spec.user, vhost: target.spec.vhost, configure: String(row.configure), write: String(row.write), read: String(row.read) },
    });
  }
  return live;
}

async function putPermission(connection: RabbitmqConnection, target: Target<PermissionSpec>): Promise<LiveObject> {
  const { user, vhost, configure, write, read } = target.spec;
  await connection.request("PUT", apiPath`/permissions/${vhost}/${user}`, { configure, write, read });
  return readBack(readPermissions, connection, target, `permissions of "${user}" on vhost "${vhost}"`);
}

function checkPatterns(spec: PermissionSpec): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const field of ["configure", "write", "read"] as const) {
    try {
      new RegExp(spec[field]);
    } catch (error) {
      problems.push({ path: `/${field}`, message: `not a regular expression: ${(error as Error).message}` });
    }
  }
  return problems;
}

export const permissionKind = defineKind<PermissionSpec, RabbitmqConnection>({
  kind: "Permission",
  schema: permissionSpec,
  ownsObjects: false,
  replaceOn: ["user", "vhost"],
  validate: checkPatterns,
  places: (spec) => ({ vhost: [spec.vhost] }),
  requires: (spec) => [`user:${spec.user}`, `vhost:${spec.vhost}`],
  list: readPermissions,
  read: readOne(readPermissions),
  create: putPermission,
  update: (connection, target) => putPermission(connection, target),
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/permissions/${target.spec.vhost}/${target.spec.user}`, undefined, { missingOk: true });
  },
});
