// Helpers the MariaDB kinds share: name checks, bulk reads turned into single
// reads, and a read right after a write.

import { Type } from "@sinclair/typebox";
import type { SpecProblem } from "../../sdk/provider.js";

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

export { readBack, readOne } from "../../sdk/bulk-read.js";

/** A list as the spec orders it when it holds the same members, else as the server does. */
export function inDesiredOrder(desired: readonly string[] | undefined, live: readonly string[]): string[] {
  if (desired === undefined) return [...live];
  const same = desired.length === live.length && desired.every((item) => live.includes(item));
  return same ? [...desired] : [...live].sort();
}
