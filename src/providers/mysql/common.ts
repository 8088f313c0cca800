// Helpers the MariaDB kinds share: name checks, bulk reads turned into single
// reads, and a read right after a write.

import { Type } from "@sinclair/typebox";
import type { LiveObject, SpecProblem, Target } from "../../sdk/provider.js";
import type { MysqlConnection } from "./connection.js";

export const tagsSchema = Type.Optional(
  Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), {
    description: "Metadata kept in the object's comment (compliance tags are added by Plumb).",
  }),
);

/** MariaDB's limits: 64 characters for databases and tables, 80 for users and roles. */
export function checkName(name: string, path: string, limit: number, what: string): SpecProblem[] {
  if (name.length === 0 || name.length > limit) return [{ path, message: `${what} name ${JSON.stringify(name)} must be 1 to ${limit} characters` }];
  if (/[\0]/.test(name) || (what === "database" && /[/\\.]|\s$/.test(name)))
    return [
      {
        path,
        message: `${what} name ${JSON.stringify(name)} holds a character MariaDB does not allow there`,
        hint: "database names cannot hold /, \\, . or NUL, or end in a space",
      },
    ];
  return [];
}

export type BulkRead<Spec> = (connection: MysqlConnection, targets: readonly Target<Spec>[]) => Promise<Map<string, LiveObject>>;

export function readOne<Spec>(list: BulkRead<Spec>): (connection: MysqlConnection, target: Target<Spec>) => Promise<LiveObject | null> {
  return async (connection, target) => (await list(connection, [target])).get(target.address) ?? null;
}

export async function readBack<Spec>(list: BulkRead<Spec>, connection: MysqlConnection, target: Target<Spec>, what: string): Promise<LiveObject> {
  const live = (await list(connection, [target])).get(target.address);
  if (live === undefined) throw new Error(`${what} is missing right after it was written`);
  return live;
}

/** A list as the spec orders it when it holds the same members, else as the server does. */
export function inDesiredOrder(desired: readonly string[] | undefined, live: readonly string[]): string[] {
  if (desired === undefined) return [...live];
  const same = desired.length === live.length && desired.every((item) => live.includes(item));
  return same ? [...desired] : [...live].sort();
}
