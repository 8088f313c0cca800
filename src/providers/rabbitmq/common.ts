// What the RabbitMQ kinds share: name checks, arguments compared as JSON, and
// single reads made from the bulk ones.

import { Type } from "@sinclair/typebox";
import { sameJson } from "../../sdk/bulk-read.js";
import type { SpecProblem } from "../../sdk/provider.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { isDotSegment } from "./connection.js";

export { readBack, readOne, sameJson } from "../../sdk/bulk-read.js";

export const vhostField = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: "^(?!\\.\\.?$)",
  description: "The virtual host (not . or .., which no URL can name).",
});
export const argumentsSchema = Type.Optional(Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), { description: "x-arguments, e.g. x-message-ttl." }));

/** A list answer of the management API as rows. */
export function rows(answer: JsonValue | undefined): JsonObject[] {
  return Array.isArray(answer) ? answer.filter((item): item is JsonObject => typeof item === "object" && item !== null && !Array.isArray(item)) : [];
}

/** RabbitMQ names are at most 255 bytes of UTF-8. */
export function checkName(name: string, path: string, what: string): SpecProblem[] {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes === 0 || bytes > 255) return [{ path, message: `${what} name ${JSON.stringify(name)} must be 1 to 255 bytes` }];
  if (isDotSegment(name))
    return [
      {
        path,
        message: `${what} name ${JSON.stringify(name)} cannot be addressed through the management API`,
        hint: "URLs read . and .. as path steps; choose another name",
      },
    ];
  if (what !== "user" && name.startsWith("amq."))
    return [{ path, message: `${what} name ${JSON.stringify(name)} starts with amq., which the broker keeps for itself` }];
  return [];
}

/** The live value in the spec's spelling when both say the same. */
export function asDesired(desired: JsonValue | undefined, live: JsonValue): JsonValue {
  return desired !== undefined && sameJson(desired, live) ? desired : live;
}
