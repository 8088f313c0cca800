// Field-level comparison of specs: only the fields a desired spec sets are
// compared, lists are compared whole, and hashes are key-order independent.

import { createHash } from "node:crypto";
import { pointerSegment, type JsonObject, type JsonValue } from "../../sdk/resource.js";

export interface FieldDiff {
  /** JSON pointer inside `spec`, e.g. `/content`. */
  path: string;
  /** The live value; absent when the live object does not have the field. */
  before?: JsonValue;
  /** The desired value; absent when the field is being removed. */
  after?: JsonValue;
  /** Changing this field replaces the object instead of updating it. */
  forcesReplacement: boolean;
  /**
   * The desired value is what Plumb applied last time, so the live value moved
   * on its own: drift rather than a change from the source.
   */
  drift: boolean;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function deepEqual(left: unknown, right: unknown): boolean {
  if (left === right) return true;
  if (Array.isArray(left)) {
    if (!Array.isArray(right) || left.length !== right.length) return false;
    return left.every((item, index) => deepEqual(item, right[index]));
  }
  if (isObject(left)) {
    if (!isObject(right)) return false;
    const leftKeys = Object.keys(left);
    if (leftKeys.length !== Object.keys(right).length) return false;
    return leftKeys.every((key) => Object.hasOwn(right, key) && deepEqual(left[key], right[key]));
  }
  return false;
}

/** Leaf paths of a spec: scalars, lists (whole) and empty mappings. */
export function managedFieldPaths(spec: JsonObject, prefix = ""): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(spec)) {
    const path = `${prefix}/${pointerSegment(key)}`;
    if (isObject(value) && Object.keys(value).length > 0) paths.push(...managedFieldPaths(value, path));
    else paths.push(path);
  }
  return paths;
}

/**
 * The fields `desired` sets whose live value differs. `applied` (what Plumb
 * applied last) tells drift apart from intended change; `replaceOn` lists
 * top-level fields whose change forces replacement.
 */
export function diffManagedFields(desired: JsonObject, live: JsonObject, applied: JsonObject | undefined, replaceOn: readonly string[]): FieldDiff[] {
  const diffs: FieldDiff[] = [];
  const walk = (
    desiredValue: JsonObject,
    liveValue: JsonValue | undefined,
    appliedValue: JsonValue | undefined,
    prefix: string,
    topLevel: string | undefined,
  ) => {
    for (const [key, value] of Object.entries(desiredValue)) {
      const path = `${prefix}/${pointerSegment(key)}`;
      const top = topLevel ?? key;
      const liveField = isObject(liveValue) ? liveValue[key] : undefined;
      const appliedField = isObject(appliedValue) ? appliedValue[key] : undefined;
      if (isObject(value) && Object.keys(value).length > 0) {
        walk(value, liveField, appliedField, path, top);
        continue;
      }
      if (deepEqual(value, liveField)) continue;
      diffs.push({
        path,
        ...(liveField === undefined ? {} : { before: liveField }),
        after: value,
        forcesReplacement: replaceOn.includes(top),
        drift: applied !== undefined && deepEqual(value, appliedField),
      });
    }
  };
  walk(desired, live, applied, "", undefined);
  return diffs;
}

/** JSON with sorted keys, so equal values always serialise (and hash) the same. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableStringify(value[key])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export function hashSpec(spec: JsonObject): string {
  return createHash("sha256").update(stableStringify(spec)).digest("hex");
}
