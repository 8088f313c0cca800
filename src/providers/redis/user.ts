// Kind `User`: one Redis ACL user — on/off, passwords from secret references,
// key and channel patterns and command rules — read for a whole stack with one
// ACL LIST.

import { createHash, randomBytes } from "node:crypto";
import { Type, type Static } from "@sinclair/typebox";
import { readOne } from "../../sdk/bulk-read.js";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { secretReferenceSchema, type SecretReference } from "../../secrets/references.js";
import type { RedisConnection, Reply } from "./connection.js";

const patterns = (description: string) => Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 512 }), { uniqueItems: true, description }));

export const userSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "The ACL user name; default metadata.name. No spaces." })),
    enabled: Type.Optional(Type.Boolean({ description: "on (default) or off: an off user cannot log in." })),
    passwords: Type.Optional(
      Type.Array(secretReferenceSchema, { maxItems: 16, description: "Passwords the user may log in with (several while one is rotated)." }),
    ),
    nopass: Type.Optional(Type.Boolean({ description: "Any password logs in. Only for a user that is meant to be open." })),
    keys: patterns("Key patterns the user may read and write, e.g. app:* (Redis ~app:*)."),
    readKeys: patterns("Key patterns the user may only read (Redis %R~)."),
    writeKeys: patterns("Key patterns the user may only write (Redis %W~)."),
    channels: patterns("Pub/Sub channel patterns (Redis &)."),
    commands: Type.Optional(
      Type.Array(Type.String({ minLength: 2, maxLength: 128 }), {
        description: "Command rules in order, as ACL SETUSER takes them: +@read, -@dangerous, +get, -client|kill, allcommands, nocommands.",
      }),
    ),
  },
  { additionalProperties: false },
);

export type UserSpec = Static<typeof userSpec>;

const commandRule = /^([+-]@?[A-Za-z0-9_.:-]+(\|[A-Za-z0-9_.:-]+)?|allcommands|nocommands)$/;

/** What ACL LIST says of one user, split into the spec's parts. */
interface AclUser {
  name: string;
  enabled: boolean;
  nopass: boolean;
  hashes: string[];
  keys: string[];
  readKeys: string[];
  writeKeys: string[];
  channels: string[];
  commands: string[];
  /** Redis 7 selectors, `(…)`: never written by Plumb, so any found is drift in the commands. */
  selectors: string[];
  /** The key, channel and command rules as the server spells them, for comparison with a canonical desired form. */
  text: SelectorText;
}

interface SelectorText {
  keys: string;
  channels: string;
  commands: string;
}

export function userName(target: Target<UserSpec>): string {
  return target.spec.name ?? target.name;
}

/** Parses one `ACL LIST` line; user names and patterns hold no spaces (Redis refuses them in names; Plumb in patterns). */
export function parseAclLine(line: string): AclUser | undefined {
  const tokens = line.split(" ");
  if (tokens[0] !== "user" || tokens[1] === undefined) return undefined;
  const user: AclUser = {
    name: tokens[1],
    enabled: false,
    nopass: false,
    hashes: [],
    keys: [],
    readKeys: [],
    writeKeys: [],
    channels: [],
    commands: [],
    selectors: [],
    text: { keys: "", channels: "", commands: "" },
  };
  const keyTokens: string[] = [];
  const channelTokens: string[] = [];
  for (let index = 2; index < tokens.length; index += 1) {
    const token = tokens[index] as string;
    if (token.startsWith("(")) {
      const parts = [token];
      while (!(parts.at(-1) as string).endsWith(")") && index + 1 < tokens.length) parts.push(tokens[++index] as string);
      user.selectors.push(parts.join(" "));
    } else if (token === "on" || token === "off") user.enabled = token === "on";
    else if (token === "nopass") user.nopass = true;
    else if (token.startsWith("#")) user.hashes.push(token.slice(1));
    else if (token.startsWith("~") || token.startsWith("%")) {
      keyTokens.push(token);
      const [access, pattern] = token.startsWith("~") ? ["RW", token.slice(1)] : [token.slice(1, token.indexOf("~")), token.slice(token.indexOf("~") + 1)];
      (access === "R" ? user.readKeys : access === "W" ? user.writeKeys : user.keys).push(pattern);
    } else if (token.startsWith("&")) {
      channelTokens.push(token);
      user.channels.push(token.slice(1));
    } else if (token.startsWith("+") || token.startsWith("-")) user.commands.push(token);
    // Flags that say nothing the spec holds: resetchannels, sanitize-payload, skip-sanitize-payload.
  }
  user.text = { keys: keyTokens.join(" "), channels: channelTokens.join(" "), commands: user.commands.join(" ") };
  return user;
}

/** The same from one user's `ACL GETUSER` reply (a flat list of field names and values). */
export function userFromGetuser(name: string, reply: Reply): AclUser {
  const list = (field: string): string[] => {
    const value = Array.isArray(reply) ? reply[reply.indexOf(field) + 1] : undefined;
    return Array.isArray(value) ? value.map(String) : [];
  };
  const text = (field: string): string => fieldOf(reply, field);
  const flags = list("flags");
  const parsed = parseAclLine(["user", name, text("keys"), text("channels"), text("commands")].filter((part) => part !== "").join(" ")) as AclUser;
  return { ...parsed, enabled: flags.includes("on"), nopass: flags.includes("nopass"), hashes: list("passwords"), selectors: list("selectors").map(String) };
}

/** The key, channel and command arguments of ACL SETUSER for a spec, in the order written. */
export function selectorArguments(spec: UserSpec): string[] {
  return [
    ...(spec.keys ?? []).map((pattern) => `~${pattern}`),
    ...(spec.readKeys ?? []).map((pattern) => `%R~${pattern}`),
    ...(spec.writeKeys ?? []).map((pattern) => `%W~${pattern}`),
    ...(spec.channels ?? []).map((pattern) => `&${pattern}`),
    ...(spec.commands ?? []),
  ];
}

/** The spec's rules spelled the way the server would print them if it changed nothing (the common case, needing no round trip). */
function literalText(spec: UserSpec): SelectorText {
  const keys = [
    ...(spec.keys ?? []).map((pattern) => `~${pattern}`),
    ...(spec.readKeys ?? []).map((pattern) => `%R~${pattern}`),
    ...(spec.writeKeys ?? []).map((pattern) => `%W~${pattern}`),
  ];
  const commands = spec.commands ?? [];
  // The server prints where the rules start from; a list that does not say starts from nothing.
  const start = /^([+-]@all|allcommands|nocommands)$/i.test(commands[0] ?? "") ? [] : ["-@all"];
  return { keys: keys.join(" "), channels: (spec.channels ?? []).map((pattern) => `&${pattern}`).join(" "), commands: [...start, ...commands].join(" ") };
}

function sameText(left: SelectorText, right: SelectorText): boolean {
  return left.keys === right.keys && left.channels === right.channels && left.commands === right.commands;
}

/**
 * Two descriptions the server made of command bitmaps: it may list the same
 * rules in another order from one description to the next (its command table
 * is a hash table), so they are compared as sets.
 */
function sameDescription(left: SelectorText, right: SelectorText): boolean {
  const rules = (text: string) => text.split(" ").sort().join(" ");
  return left.keys === right.keys && left.channels === right.channels && rules(left.commands) === rules(right.commands);
}

function fieldOf(reply: Reply, field: string): string {
  if (!Array.isArray(reply)) return "";
  const index = reply.indexOf(field);
  const value = index < 0 ? undefined : reply[index + 1];
  return typeof value === "string" ? value : "";
}

/** The server's spellings already asked for, per connection (one run): its command table does not change under a run. */
const canonicalCache = new WeakMap<RedisConnection, Map<string, SelectorText>>();

/**
 * The server's own spelling of each spec's rules. Redis rewrites command rules
 * from its bitmaps (drops what a category already allows, expands what a
 * removed category held), which no client can predict; so the rules are set on
 * an inert user (off, no password) and read back inside one MULTI/EXEC that
 * also deletes it: nobody else ever sees that user, and nothing is left
 * behind. One round trip for every distinct rule set; none when the server
 * printed the rules exactly as written.
 */
async function canonicalTexts(connection: RedisConnection, specs: readonly UserSpec[]): Promise<Map<string, SelectorText | Error>> {
  const distinct = new Map<string, string[]>();
  const texts = new Map<string, SelectorText | Error>();
  for (const spec of specs) {
    const rules = selectorArguments(spec);
    const key = JSON.stringify(rules);
    const known = canonicalCache.get(connection)?.get(key);
    if (known !== undefined) texts.set(key, known);
    else distinct.set(key, rules);
  }
  if (distinct.size === 0) return texts;
  const scratch = `plumb-canonical-${randomBytes(8).toString("hex")}`;
  const commands: string[][] = [];
  for (const rules of distinct.values()) commands.push(["ACL", "SETUSER", scratch, "reset", "off", ...rules], ["ACL", "GETUSER", scratch]);
  commands.push(["ACL", "DELUSER", scratch]);
  const replies = await connection.transaction(commands);
  [...distinct.keys()].forEach((key, index) => {
    const set = replies[index * 2];
    const got = replies[index * 2 + 1] as Reply | Error;
    if (set instanceof Error) texts.set(key, new Error(`the server refuses these rules: ${set.message}`));
    else if (got instanceof Error) texts.set(key, got);
    else {
      const text = { keys: fieldOf(got, "keys"), channels: fieldOf(got, "channels"), commands: fieldOf(got, "commands") };
      texts.set(key, text);
      const cache = canonicalCache.get(connection) ?? new Map<string, SelectorText>();
      canonicalCache.set(connection, cache);
      cache.set(key, text);
    }
  });
  return texts;
}

function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * The passwords as the spec writes them when the server holds exactly their
 * hashes; otherwise each live one is its reference where it matches one, and a
 * placeholder where it matches none (the hash itself is never reported).
 */
async function livePasswords(connection: RedisConnection, desired: readonly SecretReference[] = [], hashes: readonly string[]): Promise<JsonValue> {
  const desiredHashes = await Promise.all(desired.map(async (reference) => sha256(await connection.secret(reference))));
  const exact = desiredHashes.length === hashes.length && desiredHashes.every((hash) => hashes.includes(hash));
  if (exact) return desired as unknown as JsonValue;
  return hashes.map((hash) => {
    const index = desiredHashes.indexOf(hash);
    return index < 0 ? "(a password Plumb did not set)" : (desired[index] as unknown as JsonValue);
  });
}

async function liveFromUser(connection: RedisConnection, user: AclUser, target: Target<UserSpec>, canonical: SelectorText | undefined): Promise<LiveObject> {
  const desired = target.desired ?? target.spec;
  const rulesMatch = canonical !== undefined && user.selectors.length === 0 && sameDescription(canonical, user.text);
  const spec: Record<string, JsonValue | undefined> = {
    name: target.spec.name,
    enabled: user.enabled,
    passwords: await livePasswords(connection, desired.passwords, user.hashes),
    nopass: user.nopass,
    keys: rulesMatch ? desired.keys : user.keys,
    readKeys: rulesMatch ? desired.readKeys : user.readKeys,
    writeKeys: rulesMatch ? desired.writeKeys : user.writeKeys,
    channels: rulesMatch ? desired.channels : user.channels,
    commands: rulesMatch ? desired.commands : [...user.commands, ...user.selectors],
  };
  const live: JsonObject = {};
  for (const [field, value] of Object.entries(spec)) if (value !== undefined) live[field] = value;
  return { spec: live, outputs: { name: user.name } };
}

async function readUsers(connection: RedisConnection, targets: readonly Target<UserSpec>[]): Promise<Map<string, LiveObject | Error>> {
  const reply = await connection.command(["ACL", "LIST"]);
  const users = new Map<string, AclUser>();
  for (const line of Array.isArray(reply) ? reply : []) {
    const user = typeof line === "string" ? parseAclLine(line) : undefined;
    if (user !== undefined) users.set(user.name, user);
  }
  return liveUsers(connection, targets, users);
}

async function liveUsers(
  connection: RedisConnection,
  targets: readonly Target<UserSpec>[],
  users: ReadonlyMap<string, AclUser>,
): Promise<Map<string, LiveObject | Error>> {
  const found = targets.flatMap((target) => {
    const user = users.get(userName(target));
    return user === undefined ? [] : [{ target, user, desired: target.desired ?? target.spec }];
  });
  const unclear = found.filter(({ user, desired }) => !sameText(literalText(desired), user.text)).map(({ desired }) => desired);
  const canonical = await canonicalTexts(connection, unclear);
  const live = new Map<string, LiveObject | Error>();
  for (const { target, user, desired } of found) {
    const text = sameText(literalText(desired), user.text) ? literalText(desired) : canonical.get(JSON.stringify(selectorArguments(desired)));
    if (text instanceof Error) live.set(target.address, text);
    else live.set(target.address, await liveFromUser(connection, user, target, text));
  }
  return live;
}

async function setUser(connection: RedisConnection, target: Target<UserSpec>): Promise<LiveObject> {
  const spec = target.spec;
  const passwords =
    spec.nopass === true ? ["nopass"] : await Promise.all((spec.passwords ?? []).map(async (reference) => `>${await connection.secret(reference)}`));
  // `reset` first: the user ends up with exactly what the spec says, set in one atomic command.
  await connection.command(["ACL", "SETUSER", userName(target), "reset", spec.enabled === false ? "off" : "on", ...passwords, ...selectorArguments(spec)]);
  if (connection.settings.aclSave) await connection.command(["ACL", "SAVE"]);
  // Read back this one user, not the whole list: a thousand creations stay a thousand small reads.
  const name = userName(target);
  const reply = await connection.command(["ACL", "GETUSER", name]);
  const users = new Map(reply === null ? [] : [[name, userFromGetuser(name, reply)]]);
  const live = (await liveUsers(connection, [target], users)).get(target.address);
  if (live === undefined) throw new Error(`ACL user "${userName(target)}" is missing right after it was written`);
  if (live instanceof Error) throw live;
  return live;
}

function validateUser(spec: UserSpec, name: string): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const user = spec.name ?? name;
  if (/[\s\0]/.test(user))
    problems.push({
      path: "/name",
      message: `ACL user name ${JSON.stringify(user)} holds a space or a control character`,
      hint: "Redis user names cannot hold spaces",
    });
  for (const field of ["keys", "readKeys", "writeKeys", "channels"] as const) {
    (spec[field] ?? []).forEach((pattern, index) => {
      if (/[\s\0]/.test(pattern))
        problems.push({
          path: `/${field}/${index}`,
          message: `pattern ${JSON.stringify(pattern)} holds a space or a control character`,
          hint: "Redis prints ACL rules separated by spaces; use ? or * for a space",
        });
    });
  }
  (spec.commands ?? []).forEach((rule, index) => {
    if (!commandRule.test(rule))
      problems.push({
        path: `/commands/${index}`,
        message: `${JSON.stringify(rule)} is not a command rule`,
        hint: "write +command, -command, +@category, -@category, +command|subcommand, allcommands or nocommands",
      });
  });
  if (spec.nopass === true && (spec.passwords ?? []).length > 0)
    problems.push({ path: "/nopass", message: "nopass and passwords together: nopass would let any password in", hint: "drop one of them" });
  return problems;
}

export const userKind = defineKind<UserSpec, RedisConnection>({
  kind: "User",
  schema: userSpec,
  replaceOn: ["name"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  // Every ACL change starts from `reset`: a field left out means "none", and is watched as such.
  defaults: () => ({ enabled: true, passwords: [], nopass: false, keys: [], readKeys: [], writeKeys: [], channels: [], commands: [] }),
  validate: validateUser,
  list: readUsers,
  read: readOne(readUsers),
  create: setUser,
  update: (connection, target) => setUser(connection, target),
  async delete(connection, target) {
    await connection.command(["ACL", "DELUSER", userName(target)]);
    if (connection.settings.aclSave) await connection.command(["ACL", "SAVE"]);
  },
  health(live) {
    return live.spec.enabled === false ? { status: "Healthy", message: "the user is off" } : { status: "Healthy" };
  },
});
