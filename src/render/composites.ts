// Platform composites (Crossplane's composite resources): `*.composite.ts`
// modules in the platform repository, each defining a claim kind with a
// TypeBox schema and a compose function. Loading one runs it in the sandbox
// once to learn its kind and schema; the schema is also its documentation.

import { readdir } from "node:fs/promises";
import path from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { apiGroup } from "../sdk/resource.js";
import { runInSandbox, type SandboxLimits, type SandboxRoot } from "./sandbox.js";
import { checkAgainstSchema } from "./schema-check.js";

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

export interface CompositeLibrary {
  root: SandboxRoot;
  /** Absolute paths of the `*.composite.ts` modules. */
  files: string[];
  kinds: CompositeKind[];
}

const compositeSuffix = ".composite.ts";
const apiVersionPattern = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/v[0-9]+((alpha|beta)[0-9]+)?$/;
const kindPattern = /^[A-Z][A-Za-z0-9]{0,62}$/;

/** Every `*.composite.ts` below `directory`, skipping hidden directories and node_modules. */
export async function findCompositeFiles(directory: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (current: string) => {
    const entries = await readdir(current, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && entry.name.endsWith(compositeSuffix)) found.push(full);
    }
  };
  try {
    await walk(path.resolve(directory));
  } catch (error) {
    throw new PlumbError("PLUMB_COMPOSITE", `cannot read the composites directory ${directory}: ${(error as Error).message}`, { hint: "point --composites at the platform directory holding *.composite.ts files" });
  }
  return found;
}

/** Finds and describes every `*.composite.ts` below `directory`. */
export async function loadComposites(directory: string, options: { display: string; limits: SandboxLimits; registry: ProviderRegistry }): Promise<CompositeLibrary> {
  const root: SandboxRoot = { directory: path.resolve(directory), display: options.display };
  const files = await findCompositeFiles(root.directory);
  if (files.length === 0) return { root, files, kinds: [] };
  const answer = await runInSandbox({ compositeRoot: root, compositeFiles: files, request: { mode: "describe" }, limits: options.limits, subject: "the platform's composites" });
  const errors: PlumbError[] = [];
  const seen = new Map<string, string>();
  const kinds: CompositeKind[] = [];
  for (const described of answer.composites) {
    const at = { location: { file: described.file } };
    const key = `${described.apiVersion}/${described.kind}`;
    if (!apiVersionPattern.test(described.apiVersion)) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `apiVersion "${described.apiVersion}" of ${described.kind} is not group/version`, { ...at, hint: "write it like platform.example.org/v1" }));
      continue;
    }
    if (!kindPattern.test(described.kind)) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `kind "${described.kind}" must start with a capital letter and hold only letters and digits`, at));
      continue;
    }
    if (options.registry.providerForGroup(apiGroup(described.apiVersion)) !== undefined) {
      errors.push(new PlumbError("PLUMB_COMPOSITE", `${key} uses the API group of a provider`, { ...at, hint: "give composites a group of the platform's own, e.g. platform.example.org/v1" }));
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
    kinds.push({ apiVersion: described.apiVersion, kind: described.kind, description: described.description, schema, examples: described.examples, file: described.file });
  }
  if (errors.length > 0) throw new PlumbErrorList(errors);
  return { root, files, kinds };
}

export function compositeKey(apiVersion: string, kind: string): string {
  return `${apiVersion}/${kind}`;
}
