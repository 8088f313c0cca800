// Output references (`{ outputRef: { resource, output } }`, what a program's
// `role.name` serialises to): one resource's field taking a value another
// resource produces. Render turns them into dependency edges; the run resolves
// them before it observes and plans.

import type { JsonObject, JsonValue } from "../sdk/resource.js";
import { isPlainObject } from "./values.js";

export interface OutputReference {
  /** Top-level spec field holding the reference. */
  path: (string | number)[];
  resource: string;
  output: string;
}

function asReference(value: unknown): { resource: string; output: string } | undefined {
  if (!isPlainObject(value) || Object.keys(value).length !== 1 || !isPlainObject(value.outputRef)) return undefined;
  const { resource, output } = value.outputRef;
  return typeof resource === "string" && typeof output === "string" ? { resource, output } : undefined;
}

/** A quick check before the walks below, which allocate paths: most specs hold no reference. */
export function containsOutputReference(value: unknown): boolean {
  if (asReference(value) !== undefined) return true;
  if (Array.isArray(value)) return value.some(containsOutputReference);
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsOutputReference);
  return false;
}

export function findOutputReferences(spec: JsonObject): OutputReference[] {
  if (!containsOutputReference(spec)) return [];
  const found: OutputReference[] = [];
  const walk = (value: unknown, at: (string | number)[]) => {
    const reference = asReference(value);
    if (reference !== undefined) found.push({ path: at, ...reference });
    else if (Array.isArray(value)) value.forEach((item, index) => walk(item, [...at, index]));
    else if (isPlainObject(value)) for (const [key, item] of Object.entries(value)) walk(item, [...at, key]);
  };
  walk(spec, []);
  return found;
}

/**
 * Puts the value of every reference `lookup` knows in place. References it
 * does not know are removed from the copy and listed in `unresolved`.
 */
export function substituteOutputReferences(
  spec: JsonObject,
  lookup: (resource: string, output: string) => JsonValue | undefined,
): { spec: JsonObject; unresolved: OutputReference[] } {
  const unresolved: OutputReference[] = [];
  const walk = (value: JsonValue, at: (string | number)[]): JsonValue | undefined => {
    const reference = asReference(value);
    if (reference !== undefined) {
      const resolved = lookup(reference.resource, reference.output);
      if (resolved === undefined) unresolved.push({ path: at, ...reference });
      return resolved;
    }
    if (Array.isArray(value)) return value.map((item, index) => walk(item, [...at, index])).filter((item): item is JsonValue => item !== undefined);
    if (isPlainObject(value)) {
      const result: JsonObject = {};
      for (const [key, item] of Object.entries(value)) {
        const replaced = walk(item as JsonValue, [...at, key]);
        if (replaced !== undefined) result[key] = replaced;
      }
      return result;
    }
    return value;
  };
  return { spec: walk(spec, []) as JsonObject, unresolved };
}
