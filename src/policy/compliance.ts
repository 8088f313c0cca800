// The enrich stage: the platform's CompliancePolicy says which metadata every
// resource must carry (owner, ATO date, …), where it comes from and how it is
// checked; every resource whose kind can carry tags gets it written as tags,
// with automatic keys (managed-by, stack, source, and the commit and author
// that last changed that resource's desired spec).

import { setAtPointer, type Violation } from "../policy-finding.js";
import { readFile } from "node:fs/promises";
import { Type, type Static } from "@sinclair/typebox";
import { PlumbError, PlumbErrorList } from "../errors.js";
import { checkAgainstSchema, formatFieldPath, type SchemaProblem } from "../schema-check.js";
import type { DesiredResource } from "../stack-model.js";
import { canonicalJson } from "../state/audit.js";
import type { RecordedResource } from "../state/store.js";
import type { JsonObject } from "../sdk/resource.js";
import { parseYamlDocuments } from "../render/yaml-documents.js";
import { parse as parseCel } from "@marcbachmann/cel-js";

export const compliancePolicyKind = "CompliancePolicy";

const keyRule = Type.Object(
  {
    required: Type.Optional(Type.Boolean({ description: "Missing is a violation. Default true." })),
    pattern: Type.Optional(Type.String({ description: "A regular expression the value must match." })),
    enum: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
    format: Type.Optional(Type.Literal("date", { description: "YYYY-MM-DD" })),
    notPast: Type.Optional(Type.Boolean({ description: "With format date: a date before today is a violation (an expired ATO)." })),
    default: Type.Optional(Type.String({ description: "Used when neither the Stack nor a label gives a value." })),
    overridable: Type.Optional(Type.Boolean({ description: "A resource label of the same name may override the Stack's value. Default false." })),
    level: Type.Optional(
      Type.Union([Type.Literal("deny"), Type.Literal("warn")], { description: "deny stops the sync; warn reports and applies. Default deny." }),
    ),
    description: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const ruleSchema = Type.Object(
  {
    name: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }),
    description: Type.Optional(Type.String()),
    level: Type.Union([Type.Literal("deny"), Type.Literal("warn"), Type.Literal("remediate")], {
      description: "deny stops the sync; warn reports; remediate applies `remediate` to the resource and shows it in the plan.",
    }),
    scope: Type.Optional(
      Type.Union([Type.Literal("resource"), Type.Literal("stack")], {
        description: "resource (default): `resource` and `stack` are bound; stack: `resources` and `stack`, evaluated once.",
      }),
    ),
    kinds: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { description: "Kinds the rule looks at (Role, or postgres.plumb.dev/v1/Role); default all." }),
    ),
    expression: Type.String({ minLength: 1, maxLength: 4000, description: "A CEL expression that must be true." }),
    remediate: Type.Optional(
      Type.Record(Type.String({ pattern: "^(/[^/]+)+$" }), Type.Unknown(), {
        description: "For level remediate: JSON pointers into spec and the values to set.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const compliancePolicySchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(compliancePolicyKind),
    metadata: Type.Object({ name: Type.String({ minLength: 1 }) }, { additionalProperties: true }),
    spec: Type.Object(
      {
        tagPrefix: Type.Optional(
          Type.String({
            pattern: "^([A-Za-z0-9][A-Za-z0-9_.-]{0,30}/)?$",
            description: "Prefix of every tag key Plumb writes, e.g. compliance/. Default none.",
          }),
        ),
        keys: Type.Record(Type.String({ pattern: "^[A-Za-z][A-Za-z0-9_.-]{0,40}$" }), keyRule),
        rules: Type.Optional(Type.Array(ruleSchema)),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type CompliancePolicy = Static<typeof compliancePolicySchema>;
export type KeyRule = Static<typeof keyRule>;
export type PolicyRule = Static<typeof ruleSchema>;

type CompiledExpression = (context: Record<string, unknown>) => unknown;
const compiledRules = new WeakMap<PolicyRule, CompiledExpression>();

function compiled(rule: PolicyRule): CompiledExpression {
  let expression = compiledRules.get(rule);
  if (expression === undefined) {
    expression = parseCel(rule.expression) as CompiledExpression;
    compiledRules.set(rule, expression);
  }
  return expression;
}

/** CEL syntax errors of a policy's rules, as schema-style problems (path + message). */
export function checkRuleExpressions(policy: CompliancePolicy): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const [index, rule] of (policy.spec.rules ?? []).entries()) {
    try {
      compiled(rule);
    } catch (error) {
      problems.push({ path: ["spec", "rules", index, "expression"], message: `not a CEL expression: ${firstLine(error)}` });
    }
    if (rule.level === "remediate" && rule.remediate === undefined)
      problems.push({ path: ["spec", "rules", index], message: "a remediate rule needs `remediate`: the fields to set" });
  }
  return problems;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}

function ruleMatches(rule: PolicyRule, resource: DesiredResource): boolean {
  return rule.kinds === undefined || rule.kinds.some((kind) => kind === resource.kind || kind === `${resource.apiVersion}/${resource.kind}`);
}

/** Evaluates a rule; an expression that fails (a missing field, a type error) counts as not met, with why. */
function evaluateRule(rule: PolicyRule, context: Record<string, unknown>): { met: boolean; why: string } {
  try {
    const result = compiled(rule)(context);
    return result === true
      ? { met: true, why: "" }
      : { met: false, why: result === false ? "" : ` (the expression gave ${JSON.stringify(result)}, not a boolean)` };
  } catch (error) {
    return { met: false, why: ` (the expression could not be evaluated: ${firstLine(error)})` };
  }
}

/** Where the stack's files came from, for the automatic tags. */
export interface EnrichContext {
  stack: string;
  /** The stack's source: repository URL (or local directory) and path. */
  source: string;
  /** The commit being applied and its author; null for a local directory. */
  commit: { sha: string; author: string } | null;
  /** The stack's metadata (Stack `spec.metadata`). */
  metadata: Record<string, string>;
  /** Today, for `notPast` (injectable for tests). */
  today?: string;
}

export interface EnrichResult {
  resources: DesiredResource[];
  violations: Violation[];
}

const automaticKeys = ["managed-by", "stack", "source", "commit", "author"] as const;

/** The tag keys the policy owns, prefixed: removed before comparing intent, so tags do not count as a change of the spec. */
function ownedKeys(policy: CompliancePolicy): string[] {
  const prefix = policy.spec.tagPrefix ?? "";
  return [...automaticKeys, ...Object.keys(policy.spec.keys)].map((key) => `${prefix}${key}`);
}

function withoutOwnedTags(spec: JsonObject, tagField: string, owned: readonly string[]): JsonObject {
  const tags = spec[tagField];
  if (typeof tags !== "object" || tags === null || Array.isArray(tags)) return spec;
  const kept: JsonObject = {};
  for (const [key, value] of Object.entries(tags)) if (!owned.includes(key)) kept[key] = value;
  const result: JsonObject = { ...spec };
  if (Object.keys(kept).length === 0) delete result[tagField];
  else result[tagField] = kept;
  return result;
}

function checkValue(key: string, rule: KeyRule, value: string, today: string): string | undefined {
  if (rule.enum !== undefined && !rule.enum.includes(value)) return `${key} "${value}" is not one of ${rule.enum.join(", ")}`;
  if (rule.pattern !== undefined && !new RegExp(rule.pattern, "u").test(value)) return `${key} "${value}" does not match ${rule.pattern}`;
  if (rule.format === "date") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(value))) return `${key} "${value}" is not a date (YYYY-MM-DD)`;
    if (rule.notPast === true && value < today) return `${key} ${value} is in the past`;
  }
  return undefined;
}

/**
 * Adds the policy's metadata to every resource (as tags where `tagFieldOf`
 * names a field) and returns the violations. A resource's `commit`/`author`
 * tags stay as recorded unless its desired spec changed since.
 */
export function enrichResources(
  resources: readonly DesiredResource[],
  recorded: ReadonlyMap<string, RecordedResource>,
  policy: CompliancePolicy,
  context: EnrichContext,
  tagFieldOf: (resource: DesiredResource) => string | undefined,
): EnrichResult {
  const prefix = policy.spec.tagPrefix ?? "";
  const owned = ownedKeys(policy);
  const today = context.today ?? new Date().toISOString().slice(0, 10);
  const violations: Violation[] = [];
  const enriched = resources.map((original) => {
    let resource = original;
    const metadata: Record<string, string> = {};
    for (const [key, rule] of Object.entries(policy.spec.keys)) {
      const fromLabel = rule.overridable === true ? resource.labels[key] : undefined;
      const value = fromLabel ?? context.metadata[key] ?? rule.default;
      const level = rule.level ?? "deny";
      if (value === undefined) {
        if (rule.required !== false) {
          violations.push({
            rule: `required/${key}`,
            level,
            address: resource.address,
            message: `${resource.address} has no ${key}${rule.description === undefined ? "" : ` (${rule.description})`}`,
            hint: `set spec.metadata.${key} in the Stack${rule.overridable === true ? `, or a "${key}" label on the resource` : ""}, or a default in the CompliancePolicy`,
          });
        }
        continue;
      }
      const problem = checkValue(key, rule, value, today);
      if (problem !== undefined) {
        violations.push({
          rule: `valid/${key}`,
          level,
          address: resource.address,
          message: `${resource.address}: ${problem}`,
          hint: fromLabel !== undefined ? `fix the "${key}" label` : `fix spec.metadata.${key} in the Stack`,
        });
      }
      metadata[key] = value;
    }
    const rules = (policy.spec.rules ?? []).filter((rule) => (rule.scope ?? "resource") === "resource" && ruleMatches(rule, resource));
    if (rules.length > 0) {
      const stackContext = { name: context.stack, metadata: context.metadata };
      for (const rule of rules) {
        const { met, why } = evaluateRule(rule, {
          resource: {
            apiVersion: resource.apiVersion,
            kind: resource.kind,
            name: resource.name,
            address: resource.address,
            labels: resource.labels,
            annotations: resource.annotations,
            spec: resource.spec,
            metadata,
          },
          stack: stackContext,
        });
        if (met) continue;
        const explanation = `${resource.address} does not meet rule ${rule.name}${rule.description === undefined ? "" : ` (${rule.description})`}${why}`;
        if (rule.level === "remediate" && rule.remediate !== undefined) {
          let spec = resource.spec;
          for (const [pointer, value] of Object.entries(rule.remediate)) spec = setAtPointer(spec, pointer, value);
          resource = { ...resource, spec };
          violations.push({
            rule: `rule/${rule.name}`,
            level: "remediate",
            address: resource.address,
            message: `${explanation}; fixed: ${Object.entries(rule.remediate)
              .map(([pointer, value]) => `${pointer} = ${JSON.stringify(value)}`)
              .join(", ")}`,
            hint: "change the resource in Git to match the rule",
          });
        } else {
          violations.push({
            rule: `rule/${rule.name}`,
            level: rule.level === "remediate" ? "warn" : rule.level,
            address: resource.address,
            message: explanation,
            hint: rule.description ?? `make the expression true: ${rule.expression}`,
          });
        }
      }
    }
    const tagField = tagFieldOf(resource);
    if (tagField === undefined) return resource;
    const previous = recorded.get(resource.address);
    const intentUnchanged =
      previous !== undefined &&
      canonicalJson(withoutOwnedTags(previous.appliedSpec, tagField, owned)) === canonicalJson(withoutOwnedTags(resource.spec, tagField, owned));
    const previousTags = (previous?.appliedSpec[tagField] ?? {}) as Record<string, string>;
    const commit =
      intentUnchanged && previousTags[`${prefix}commit`] !== undefined
        ? { sha: previousTags[`${prefix}commit`] as string, author: previousTags[`${prefix}author`] ?? "" }
        : context.commit;
    const userTags = (resource.spec[tagField] ?? {}) as Record<string, string>;
    const tags: Record<string, string> = { ...userTags };
    for (const [key, value] of Object.entries(metadata)) tags[`${prefix}${key}`] = value.slice(0, 1024);
    tags[`${prefix}managed-by`] = "plumb";
    tags[`${prefix}stack`] = context.stack;
    tags[`${prefix}source`] = context.source.slice(0, 1024);
    if (commit !== null) {
      tags[`${prefix}commit`] = commit.sha;
      if (commit.author !== "") tags[`${prefix}author`] = commit.author.slice(0, 1024);
    }
    return { ...resource, spec: { ...resource.spec, [tagField]: tags } };
  });
  for (const rule of (policy.spec.rules ?? []).filter((item) => item.scope === "stack")) {
    const view = enriched
      .filter((resource) => ruleMatches(rule, resource))
      .map((resource) => ({
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        name: resource.name,
        address: resource.address,
        labels: resource.labels,
        spec: resource.spec,
      }));
    const { met, why } = evaluateRule(rule, { resources: view, stack: { name: context.stack, metadata: context.metadata } });
    if (!met)
      violations.push({
        rule: `rule/${rule.name}`,
        level: rule.level === "remediate" ? "warn" : rule.level,
        address: `stack ${context.stack}`,
        message: `stack ${context.stack} does not meet rule ${rule.name}${rule.description === undefined ? "" : ` (${rule.description})`}${why}`,
        hint: rule.description ?? `make the expression true: ${rule.expression}`,
      });
  }
  return { resources: enriched, violations };
}

/** Turns deny violations into errors with the file and line render recorded for the resource. */
export function violationErrors(violations: readonly Violation[], resources: readonly DesiredResource[], stack: string): PlumbError[] {
  const byAddress = new Map(resources.map((resource) => [resource.address, resource]));
  return violations
    .filter((violation) => violation.level === "deny")
    .map((violation) => {
      const origin = byAddress.get(violation.address)?.origin;
      return new PlumbError("PLUMB_POLICY_DENIED", `policy rule ${violation.rule} denies the sync: ${violation.message}`, {
        location: {
          stack,
          resource: violation.address,
          ...(origin === undefined ? {} : { file: origin.file }),
          ...(origin?.line === undefined ? {} : { line: origin.line }),
        },
        hint: violation.hint,
      });
    });
}

/** Reads a CompliancePolicy from a YAML file (the CLI's --policy); problems come with file:line. */
export async function loadPolicyFile(file: string): Promise<CompliancePolicy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PlumbError("PLUMB_FILE_READ", `cannot read the policy file ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      hint: "check the --policy path",
    });
  }
  const documents = parseYamlDocuments(file, text).filter((document) => {
    const value = document.value as { kind?: unknown } | null;
    return typeof value === "object" && value !== null && value.kind === compliancePolicyKind;
  });
  const document = documents[0];
  if (document === undefined || documents.length > 1) {
    throw new PlumbError("PLUMB_POLICY_INVALID", `${file} must hold exactly one CompliancePolicy document, not ${documents.length}`, {
      location: { file },
      hint: "see the README's Compliance section for its shape",
    });
  }
  const schemaProblems = checkAgainstSchema(compliancePolicySchema, document.value);
  const problems = schemaProblems.length > 0 ? schemaProblems : checkRuleExpressions(document.value as CompliancePolicy);
  if (problems.length > 0) {
    throw new PlumbErrorList(
      problems.map(
        (problem) =>
          new PlumbError("PLUMB_POLICY_INVALID", `${formatFieldPath(problem.path)}: ${problem.message}`, {
            location: document.locate(problem.path),
            ...(problem.hint === undefined ? {} : { hint: problem.hint }),
          }),
      ),
    );
  }
  return document.value as CompliancePolicy;
}

export type { Violation } from "../policy-finding.js";
