// The documentation of composite kinds, generated from their schemas: one row
// per field (type, required, default, description, constraints) and the
// examples as ready-to-copy claims. `plumb docs` prints it; the API serves it.

import { stringify } from "yaml";
import type { CompositeKind } from "./platform-library.js";
import { isPlainObject } from "./values.js";

export interface FieldDoc {
  /** Dotted path in the claim's spec; `[]` marks list items. */
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description: string;
  /** Allowed values, patterns and ranges, in words. */
  constraints: string[];
}

export interface CompositeDoc {
  apiVersion: string;
  kind: string;
  description: string;
  file: string;
  fields: FieldDoc[];
  examples: { title: string; yaml: string }[];
}

type Schema = Record<string, unknown>;

function typeOf(schema: Schema): string {
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as Schema[]).map(typeOf).join(" | ");
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return "enum";
  if (schema.type === "array" && isPlainObject(schema.items)) return `list of ${typeOf(schema.items)}`;
  if (schema.type === "object" && isPlainObject(schema.patternProperties)) return `map of ${typeOf(Object.values(schema.patternProperties)[0] as Schema)}`;
  return typeof schema.type === "string" ? schema.type : "any";
}

function constraintsOf(schema: Schema): string[] {
  const found: string[] = [];
  if (Array.isArray(schema.enum)) found.push(`one of ${schema.enum.map((value) => JSON.stringify(value)).join(", ")}`);
  if (Array.isArray(schema.anyOf) && (schema.anyOf as Schema[]).every((option) => option.const !== undefined))
    found.push(`one of ${(schema.anyOf as Schema[]).map((option) => JSON.stringify(option.const)).join(", ")}`);
  if (typeof schema.pattern === "string") found.push(`matches \`${schema.pattern}\``);
  if (typeof schema.format === "string") found.push(`format ${schema.format}`);
  for (const [key, words] of [
    ["minimum", "at least"],
    ["maximum", "at most"],
    ["minLength", "at least … character(s)"],
    ["maxLength", "at most … character(s)"],
    ["minItems", "at least … item(s)"],
    ["maxItems", "at most … item(s)"],
  ] as const) {
    const value = schema[key];
    if (typeof value === "number") found.push(words.includes("…") ? words.replace("…", String(value)) : `${words} ${value}`);
  }
  return found;
}

function fieldsOf(schema: Schema, prefix: string, into: FieldDoc[]): void {
  const properties = isPlainObject(schema.properties) ? (schema.properties as Record<string, Schema>) : {};
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const [name, field] of Object.entries(properties)) {
    const path = prefix === "" ? name : `${prefix}.${name}`;
    into.push({
      path,
      type: typeOf(field),
      // A field with a default may be left out of a claim.
      required: required.has(name) && field.default === undefined,
      ...(field.default === undefined ? {} : { default: field.default }),
      description: typeof field.description === "string" ? field.description : "",
      constraints: constraintsOf(field),
    });
    if (field.type === "object") fieldsOf(field, path, into);
    if (field.type === "array" && isPlainObject(field.items) && (field.items as Schema).type === "object") fieldsOf(field.items as Schema, `${path}[]`, into);
  }
}

export function documentComposite(kind: CompositeKind): CompositeDoc {
  const fields: FieldDoc[] = [];
  fieldsOf(kind.schema as Schema, "", fields);
  const examples = kind.examples.filter(isPlainObject).map((example, index) => ({
    title: typeof example.title === "string" ? example.title : `Example ${index + 1}`,
    yaml: stringify({
      apiVersion: kind.apiVersion,
      kind: kind.kind,
      metadata: { name: typeof example.name === "string" ? example.name : "example" },
      spec: example.spec ?? {},
    }),
  }));
  return { apiVersion: kind.apiVersion, kind: kind.kind, description: kind.description, file: kind.file, fields, examples };
}

/** Markdown cells may not break the table or inject HTML. */
function cell(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll("<", "&lt;").replaceAll("\n", " ");
}

export function compositesMarkdown(kinds: readonly CompositeKind[]): string {
  if (kinds.length === 0) return "# Composite kinds\n\nThe platform defines no composite kinds.\n";
  const lines = ["# Composite kinds", "", ...kinds.map((kind) => `- [${kind.kind}](#${kind.kind.toLowerCase()}) — \`${kind.apiVersion}\``), ""];
  for (const doc of kinds.map(documentComposite)) {
    lines.push(
      `## ${doc.kind}`,
      "",
      `\`apiVersion: ${doc.apiVersion}\` · defined in \`${doc.file}\``,
      "",
      doc.description,
      "",
      "| field | type | required | default | description |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const field of doc.fields) {
      const description = [field.description, ...field.constraints.map((constraint) => `(${constraint})`)].filter((part) => part !== "").join(" ");
      lines.push(
        `| \`spec.${cell(field.path)}\` | ${cell(field.type)} | ${field.required ? "yes" : "no"} | ${field.default === undefined ? "" : `\`${cell(JSON.stringify(field.default))}\``} | ${cell(description)} |`,
      );
    }
    for (const example of doc.examples) lines.push("", `### ${example.title}`, "", "```yaml", example.yaml.trimEnd(), "```");
    lines.push("");
  }
  return lines.join("\n");
}
