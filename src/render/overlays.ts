// Environment overlays of a YAML stack: values files (`values.yaml`, then
// `values.<env>.yaml`) interpolated into every document, and patch files
// (`patches.yaml`, `patches.<env>.yaml`) merged over the resources they name.

import { Type } from "@sinclair/typebox";
import { parseAddress, type JsonObject, type Resource } from "../sdk/resource.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import type { ParsedDocument } from "./yaml-documents.js";
import { applyMergePatch, deepMerge, interpolate, isPlainObject, type InterpolationProblem } from "./values.js";
import type { Problems } from "./problems.js";
import type { Candidate } from "./resource-check.js";

export const patchEntry = Type.Object(
  {
    target: Type.String({ minLength: 1, description: "The address of the resource to patch: apiVersion/kind/name." }),
    patch: Type.Record(Type.String(), Type.Unknown(), { description: "A JSON merge patch (RFC 7386) applied to the whole resource." }),
  },
  { additionalProperties: false },
);

export function interpolateDocument(document: ParsedDocument, values: JsonObject, problems: Problems): unknown {
  const found: InterpolationProblem[] = [];
  const result = interpolate(document.value, values, [], found);
  for (const problem of found) {
    problems.add(
      "PLUMB_VALUES",
      `${formatFieldPath(problem.path)}: ${problem.message}`,
      document.locate(problem.path),
      "define the value in values.yaml or values.<env>.yaml, or write $${...} for a literal",
    );
  }
  return result;
}

export function loadValues(documentsByFile: Map<string, ParsedDocument[]>, environment: string | undefined, problems: Problems): JsonObject {
  let values: JsonObject = {};
  const names = ["values.yaml", "values.yml", ...(environment === undefined ? [] : [`values.${environment}.yaml`, `values.${environment}.yml`])];
  for (const name of names) {
    const documents = documentsByFile.get(name);
    if (documents === undefined) continue;
    if (documents.length > 1) {
      problems.add(
        "PLUMB_VALUES",
        "a values file holds exactly one YAML document",
        (documents[1] as ParsedDocument).position,
        "merge the documents into one mapping",
      );
      continue;
    }
    const document = documents[0];
    if (document === undefined) continue;
    if (!isPlainObject(document.value)) {
      problems.add("PLUMB_VALUES", "a values file must be a mapping of names to values", document.position, "write it as `key: value` lines");
      continue;
    }
    values = deepMerge(values, document.value as JsonObject);
  }
  return values;
}

export function applyPatches(
  documentsByFile: Map<string, ParsedDocument[]>,
  environment: string | undefined,
  values: JsonObject,
  candidates: Map<string, Candidate>,
  problems: Problems,
): void {
  if (environment === undefined) return;
  for (const name of [`patches.${environment}.yaml`, `patches.${environment}.yml`]) {
    for (const document of documentsByFile.get(name) ?? []) {
      const interpolated = interpolateDocument(document, values, problems);
      const entries: { entry: unknown; path: (string | number)[] }[] = Array.isArray(interpolated)
        ? interpolated.map((entry, index) => ({ entry, path: [index] }))
        : [{ entry: interpolated, path: [] }];
      for (const { entry, path: entryPath } of entries) {
        const schemaProblems = checkAgainstSchema(patchEntry, entry);
        if (schemaProblems.length > 0) {
          problems.addSchema("PLUMB_PATCH", schemaProblems, document, entryPath);
          continue;
        }
        const { target, patch } = entry as { target: string; patch: Record<string, unknown> };
        const candidate = candidates.get(target);
        if (candidate === undefined) {
          const parsed = parseAddress(target);
          problems.add(
            "PLUMB_PATCH",
            `patch target ${target} is not a resource of this stack`,
            document.locate([...entryPath, "target"]),
            parsed === undefined
              ? "write the target as apiVersion/kind/name, e.g. file.plumb.dev/v1/File/readme"
              : "check the spelling of the apiVersion, kind and name",
          );
          continue;
        }
        const patched = applyMergePatch(candidate.resource, patch) as Resource;
        if (
          patched.apiVersion !== candidate.resource.apiVersion ||
          patched.kind !== candidate.resource.kind ||
          patched.metadata?.name !== candidate.resource.metadata.name
        ) {
          problems.add(
            "PLUMB_PATCH",
            `a patch may not change the apiVersion, kind or name of ${target}`,
            document.locate([...entryPath, "patch"]),
            "declare a new resource instead",
          );
          continue;
        }
        candidate.resource = {
          apiVersion: patched.apiVersion,
          kind: patched.kind,
          metadata: { name: patched.metadata.name, labels: patched.metadata.labels ?? {}, annotations: patched.metadata.annotations ?? {} },
          spec: (patched.spec ?? {}) as JsonObject,
        };
      }
    }
  }
}
