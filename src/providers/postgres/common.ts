// Pieces every PostgreSQL kind shares: object names, tags in comments, and
// reporting live values in the desired spec's own spelling when they mean the same.

import { Type } from "@sinclair/typebox";
import { groupBy } from "../../sdk/group-by.js";
import type { SpecProblem, Target } from "../../sdk/provider.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { composeComment, parseComment } from "./metadata-comment.js";
import { quoteLiteral, sqlStateOf, type PostgresConnection } from "./connection.js";

export const tagsSchema = Type.Optional(
  Type.Record(Type.String({ pattern: "^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$" }), Type.String({ maxLength: 1024 }), {
    description: "Metadata tags, written as JSON on the object's COMMENT after any human comment.",
  }),
);

export const objectNameSchema = Type.Optional(Type.String({ minLength: 1, maxLength: 63, description: "The name in PostgreSQL; default: metadata.name." }));

/** PostgreSQL truncates identifiers longer than 63 bytes, which would lose track of the object. */
export function checkIdentifier(name: string, field: string): SpecProblem[] {
  return Buffer.byteLength(name, "utf8") > 63
    ? [{ path: field, message: `"${name}" is longer than PostgreSQL's 63-byte limit for names`, hint: "choose a shorter name, or set spec.name" }]
    : [];
}

export function objectName(target: Target<{ name?: string }>): string {
  return target.spec.name ?? target.name;
}

/** The tags part of a live comment, reported only when the desired spec manages tags. */
export function liveTags(comment: string | null): Record<string, string> {
  return parseComment(comment).tags;
}

/** COMMENT ON … that keeps the human part of the current comment and replaces Plumb's tags. */
export async function writeTags(
  connection: PostgresConnection,
  database: string | undefined,
  objectType: string,
  quotedName: string,
  tags: Record<string, string>,
  currentComment: string | null,
): Promise<void> {
  const comment = composeComment(parseComment(currentComment).human, tags);
  await connection.query(database, `COMMENT ON ${objectType} ${quotedName} IS ${comment === null ? "NULL" : quoteLiteral(comment)}`);
}

/** Lists compare whole; a live list with the same members as the desired one is reported in the desired order. */
export function inDesiredOrder(desired: JsonValue | undefined, live: string[]): string[] {
  if (!Array.isArray(desired)) return live;
  const wanted = desired.map(String);
  const sameMembers = wanted.length === live.length && wanted.every((item) => live.includes(item));
  return sameMembers ? wanted : live;
}

/** Removes undefined entries so a live spec is plain JSON. */
export function compact(spec: Record<string, JsonValue | undefined>): JsonObject {
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(spec)) if (value !== undefined) result[key] = value;
  return result;
}

/** Targets grouped by the database their objects live in. */
export function groupByDatabase<Spec extends { database: string }>(targets: readonly Target<Spec>[]): Map<string, Target<Spec>[]> {
  return groupBy(targets, (target) => target.spec.database);
}

export { readBack, readOne } from "../../sdk/bulk-read.js";

/** A catalog query in one database; undefined when that database does not exist (yet), so nothing in it does. */
export async function queryInDatabase<Row extends Record<string, unknown>>(
  connection: PostgresConnection,
  database: string | undefined,
  text: string,
  parameters: unknown[],
): Promise<Row[] | undefined> {
  try {
    return await connection.read<Row>(database, text, parameters);
  } catch (error) {
    if (sqlStateOf(error) === "3D000") return undefined;
    throw error;
  }
}
