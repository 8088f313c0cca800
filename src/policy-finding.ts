// What a policy rule found about a resource, and how a remediate rule's fix is
// written into a spec: ground-level nouns that render (TypeScript rules run
// while rendering) and policy (CEL rules) share.

import type { JsonObject } from "./sdk/resource.js";

/** A rule not met by a resource (or a stack). */
export interface Violation {
  rule: string;
  /** remediate: the rule fixed the resource; the fix is in its desired spec. */
  level: "deny" | "warn" | "remediate";
  address: string;
  message: string;
  hint: string;
}

/** A copy of `spec` with `value` written at a JSON pointer (RFC 6901), creating objects on the way. */
export function setAtPointer(spec: JsonObject, pointer: string, value: unknown): JsonObject {
  const result: JsonObject = structuredClone(spec);
  const keys = pointer
    .slice(1)
    .split("/")
    .map((key) => key.replace(/~1/g, "/").replace(/~0/g, "~"));
  let node: JsonObject = result;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as JsonObject;
  }
  node[keys[keys.length - 1] as string] = value as JsonObject[string];
  return result;
}
