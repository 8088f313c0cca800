// Environment values (values.yaml then values.<env>.yaml, deep-merged) and the
// `${values.some.path}` references they fill in any string.

import type { JsonObject, JsonValue } from "../sdk/resource.js";

const referencePattern = /\$(\$?)\{values\.([A-Za-z0-9_.-]+)\}/g;
const wholeReferencePattern = /^\$\{values\.([A-Za-z0-9_.-]+)\}$/;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Mappings merge key by key; lists and scalars in `overlay` replace those in `base`. */
export function deepMerge(base: JsonObject, overlay: JsonObject): JsonObject {
  const merged: JsonObject = { ...base };
  for (const [key, value] of Object.entries(overlay)) {
    const existing = merged[key];
    merged[key] = isPlainObject(existing) && isPlainObject(value) ? deepMerge(existing as JsonObject, value as JsonObject) : value;
  }
  return merged;
}

export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

function lookup(values: JsonObject, dottedPath: string): JsonValue | undefined {
  let current: JsonValue | undefined = values;
  for (const segment of dottedPath.split(".")) {
    if (!isPlainObject(current)) return undefined;
    current = (current as JsonObject)[segment];
  }
  return current;
}

/**
 * Replaces value references in every string of `value`. A string that is
 * exactly one reference takes the referenced value with its type (a number
 * stays a number); references inside longer strings are written as text.
 * `$${values.x}` stays literally `${values.x}`.
 */
export function interpolate(value: unknown, values: JsonObject, path: (string | number)[], problems: InterpolationProblem[]): unknown {
  if (typeof value === "string") return interpolateString(value, values, path, problems);
  if (Array.isArray(value)) return value.map((item, index) => interpolate(item, values, [...path, index], problems));
  if (isPlainObject(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) result[key] = interpolate(item, values, [...path, key], problems);
    return result;
  }
  return value;
}

function interpolateString(text: string, values: JsonObject, path: (string | number)[], problems: InterpolationProblem[]): unknown {
  if (!text.includes("${")) return text;
  const whole = wholeReferencePattern.exec(text);
  if (whole !== null) {
    const resolved = lookup(values, whole[1] as string);
    if (resolved === undefined) {
      problems.push({ path, message: `"${text}" refers to values.${whole[1]}, which is not defined` });
      return text;
    }
    return resolved;
  }
  return text.replace(referencePattern, (match, escape: string, dottedPath: string) => {
    if (escape === "$") return match.slice(1);
    const resolved = lookup(values, dottedPath);
    if (resolved === undefined) {
      problems.push({ path, message: `"${match}" refers to values.${dottedPath}, which is not defined` });
      return match;
    }
    if (isPlainObject(resolved) || Array.isArray(resolved)) {
      problems.push({ path, message: `"${match}" is a mapping or list and cannot be placed inside a longer string` });
      return match;
    }
    return String(resolved);
  });
}

/** RFC 7386 JSON merge patch: mappings merge, `null` removes a key, anything else replaces. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}
