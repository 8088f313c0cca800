// Validates plain values against JSON Schemas (TypeBox-authored) and turns the
// validator's findings into messages that name the field and say how to fix it.

import AjvModule, { type ErrorObject, type ValidateFunction } from "ajv";
import type { TSchema } from "@sinclair/typebox";

// ajv ships CommonJS with a default export; under NodeNext the class sits on `.default`.
const Ajv = AjvModule.default;

export interface SchemaProblem {
  /** Path of the offending field, from the validated value's root. */
  path: (string | number)[];
  message: string;
  hint?: string;
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const compiled = new WeakMap<object, ValidateFunction>();
const defaulting = new Ajv({ allErrors: true, strict: false, verbose: true, useDefaults: true });
const compiledDefaulting = new WeakMap<object, ValidateFunction>();

export function checkAgainstSchema(schema: TSchema, value: unknown): SchemaProblem[] {
  return check(ajv, compiled, schema, value);
}

/** Like checkAgainstSchema, and fills in the schema's `default`s in `value` (which it changes). */
export function checkAndFillDefaults(schema: TSchema, value: unknown): SchemaProblem[] {
  return check(defaulting, compiledDefaulting, schema, value);
}

function check(validator: InstanceType<typeof Ajv>, cache: WeakMap<object, ValidateFunction>, schema: TSchema, value: unknown): SchemaProblem[] {
  let validate = cache.get(schema);
  if (validate === undefined) {
    validate = validator.compile(schema);
    cache.set(schema, validate);
  }
  if (validate(value)) return [];
  return describeErrors(validate.errors ?? []);
}

function describeErrors(errors: readonly ErrorObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const problem = describeError(error);
    const key = `${problem.path.join("/")}|${problem.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    problems.push(problem);
  }
  return problems;
}

function describeError(error: ErrorObject): SchemaProblem {
  const path = decodePointer(error.instancePath);
  const parent = error.parentSchema as { description?: string; properties?: Record<string, unknown> } | undefined;
  const description = parent?.description;
  switch (error.keyword) {
    case "additionalProperties": {
      const field = String((error.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(parent?.properties ?? {});
      return {
        path: [...path, field],
        message: `unknown field "${field}"`,
        hint: allowed.length > 0 ? `allowed fields here: ${allowed.join(", ")}` : "remove it",
      };
    }
    case "required": {
      const field = String((error.params as { missingProperty: string }).missingProperty);
      const fieldSchema = parent?.properties?.[field] as { description?: string } | undefined;
      return withHint({ path, message: `missing required field "${field}"` }, fieldSchema?.description);
    }
    case "type":
      return withHint({ path, message: `must be ${String((error.params as { type: string }).type)}, not ${typeName(error.data)}` }, description);
    case "enum":
      return {
        path,
        message: `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((value) => JSON.stringify(value)).join(", ")}`,
      };
    case "const":
      return { path, message: `must be ${JSON.stringify((error.params as { allowedValue: unknown }).allowedValue)}` };
    case "pattern":
      return withHint(
        { path, message: `${JSON.stringify(error.data)} does not match the pattern ${String((error.params as { pattern: string }).pattern)}` },
        description,
      );
    default:
      return withHint({ path, message: error.message ?? `fails the "${error.keyword}" check` }, description);
  }
}

function withHint(problem: SchemaProblem, hint: string | undefined): SchemaProblem {
  return hint === undefined ? problem : { ...problem, hint };
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function decodePointer(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** `spec.a[0].b` style, for messages. */
export function formatFieldPath(path: readonly (string | number)[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number" || /^\d+$/.test(segment)) text += `[${segment}]`;
    else text += text === "" ? segment : `.${segment}`;
  }
  return text === "" ? "(document)" : text;
}
