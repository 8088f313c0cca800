// The platform's own TypeScript: composite kinds (`*.composite.ts`, Crossplane's
// composite resources: a TypeBox claim schema and a compose function) and
// policy rules (`*.rule.ts`). Loading runs them in the sandbox once to learn
// what they define; the schemas are also the composites' documentation.

import { readdir } from "node:fs/promises";
import path from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { apiGroup } from "../sdk/resource.js";
import { runInSandbox, type SandboxLimits, type SandboxRoot } from "./sandbox.js";
import { checkAgainstSchema } from "../schema-check.js";

export interface CompositeKind {
  apiVersion: string;
  kind: string;
  description: string;
  /** The claim spec's JSON Schema. */
  schema: TSchema;
  examples: unknown[];
  /** Where it is defined, as the platform repository shows it. */
  file: string;
}

export interface PolicyRuleInfo {
  name: string;
  level: "deny" | "warn" | "remediate";
  scope: "resource" | "stack";
  description: string;
  file: string;
}

export interface PlatformLibrary {
  root: SandboxRoot;
  /** Absolute paths of the `*.composite.ts` and `*.rule.ts` modules. */
  files: string[];
  composites: CompositeKind[];
  rules: PolicyRuleInfo[];
}

const suffixes = [".composite.ts", ".rule.ts"];
const apiVersionPattern = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/v[0-9]+((alpha|beta)[0-9]+)?$/;
const kindPattern = /^[A-Z][A-Za-z0-9]{0,62}$/;
const ruleNamePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Every `*.composite.ts` and `*.rule.ts` below `directory`, skipping hidden directories and node_modules. */
export async function findPlatformFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string) => {
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && suffixes.some((suffix) => entry.name.endsWith(suffix))) found.push(full);
    }
  };
  try {
    await walk(path.resolve(directory));
  } catch (error) {
    throw new PlumbError("PLUMB_COMPOSITE", `cannot read the platform directory ${directory}: ${(error as Error).message}`, {
      hint: "point --platform at the directory holding *.composite.ts and *.rule.ts files",
    });
  }
  return found;
}

/** Finds and describes the platform's composites and rules below `directory`. */
export async function loadPlatformLibrary(
  directory: string,
  options: { display: string; limits: SandboxLimits; registry: ProviderRegistry },
): Promise<PlatformLibrary> {
  const root: SandboxRoot = { directory: path.resolve(directory), display: options.display };
  const files = await findPlatformFiles(root.directory);
  if (files.length === 0) return { root, files, composites: [], rules: [] };
  const answer = await runInSandbox({
    platformRoot: root,
    platformFiles: files,
    request: { mode: "describe" },
    limits: options.limits,
    subject: "the platform's composites and rules",
  });
  const errors: PlumbError[] = [];
  const seen = new Map<string, string>();
  const composites: CompositeKind[] = [];
  for (const described of answer.composites) {
    const at = { location: { file: described.file } };
    const key = compositeKey(described.apiVersion, described.kind);
    if (!apiVersionPattern.test(described.apiVersion)) {
      errors.push(
        new PlumbError("PLUMB_COMPOSITE", `apiVersion "${described.apiVersion}" of ${described.kind} is not group/version`, {
          ...at,
          hint: "write it like platform.example.org/v1",
        }),
      );
      continue;
    }
    if (!kindPattern.test(described.kind)) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `kind "${described.kind}" must start with a capital letter and hold only letters and digits`, at));
      continue;
    }
    if (options.registry.providerForGroup(apiGroup(described.apiVersion)) !== undefined) {
      errors.push(
        new PlumbError("PLUMB_COMPOSITE", `${key} uses the API group of a provider`, {
          ...at,
          hint: "give composites a group of the platform's own, e.g. platform.example.org/v1",
        }),
      );
      continue;
    }
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `${key} is defined twice; the first is in ${first}`, at));
      continue;
    }
    seen.set(key, described.file);
    const schema = described.schema as TSchema;
    try {
      checkAgainstSchema(schema, {});
    } catch (error) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `the schema of ${key} is not a valid JSON Schema: ${(error as Error).message}`, at));
      continue;
    }
    composites.push({
      apiVersion: described.apiVersion,
      kind: described.kind,
      description: described.description,
      schema,
      examples: described.examples,
      file: described.file,
    });
  }
  const ruleNames = new Map<string, string>();
  for (const rule of answer.rules) {
    const at = { location: { file: rule.file } };
    if (!ruleNamePattern.test(rule.name)) {
      errors.push(new PlumbError("PLUMB_POLICY_INVALID", `rule name "${rule.name}" must be lower-case letters, digits and dashes`, at));
      continue;
    }
    const first = ruleNames.get(rule.name);
    if (first !== undefined) {
      errors.push(new PlumbError("PLUMB_POLICY_INVALID", `rule ${rule.name} is defined twice; the first is in ${first}`, at));
      continue;
    }
    ruleNames.set(rule.name, rule.file);
  }
  if (errors.length > 0) throw new PlumbErrorList(errors);
  return { root, files, composites, rules: answer.rules };
}

export function compositeKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}
