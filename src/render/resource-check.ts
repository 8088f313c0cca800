// Turns one YAML or program resource into a DesiredResource: its shape, its
// kind's spec schema, its provider instance and annotations, and the
// dependencies it implies (explicit depends-on, output references, and what
// its kind provides and requires).

import { Type } from "@sinclair/typebox";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import {
  annotations,
  apiGroup,
  defaultProviderInstance,
  hookDeletePolicies,
  hookPhases,
  knownAnnotations,
  parseAddress,
  type DeletionPolicy,
  type JsonValue,
  type Resource,
} from "../sdk/resource.js";
import { containsOutputReference, findOutputReferences, substituteOutputReferences } from "./output-references.js";
import type { DesiredResource } from "../stack-model.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import type { StackDefinition } from "../stack-definition.js";
import type { ParsedDocument } from "./yaml-documents.js";
import { defaultManifestInstance } from "./manifests.js";
import type { Problems } from "./problems.js";
import type { JsonObject } from "../sdk/resource.js";

export const resourceShape = Type.Object(
  {
    apiVersion: Type.String({ pattern: "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?/v[0-9]+((alpha|beta)[0-9]+)?$", description: "group/version, e.g. file.plumb.dev/v1" }),
    kind: Type.String({ pattern: "^[A-Z][A-Za-z0-9]{0,62}$", description: "A kind such as File, starting with a capital letter." }),
    metadata: Type.Object(
      {
        name: Type.String({
          minLength: 1,
          maxLength: 253,
          pattern: "^[^\\u0000-\\u001f\\u007f]+$",
          description: "Any printable text, unique per apiVersion and kind in the stack.",
        }),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    spec: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

export interface Candidate {
  resource: Resource;
  address: string;
  document: ParsedDocument;
  composite: string | null;
  /** A plain manifest (a Kubernetes object): its spec is the whole document. */
  foreign?: boolean;
}

export function checkProviderInstances(definition: StackDefinition, document: ParsedDocument, registry: ProviderRegistry, problems: Problems): void {
  for (const [instance, declared] of Object.entries(definition.providers)) {
    const provider = registry.providerForType(declared.type);
    if (provider === undefined) {
      problems.add(
        "PLUMB_PROVIDER_INSTANCE",
        `provider instance "${instance}" has unknown type "${declared.type}"`,
        document.locate(["spec", "providers", instance, "type"]),
        `known provider types: ${registry.types().join(", ")}`,
      );
      continue;
    }
    problems.addSchema("PLUMB_PROVIDER_CONFIG", checkAgainstSchema(provider.configSchema, declared.config ?? {}), document, [
      "spec",
      "providers",
      instance,
      "config",
    ]);
  }
}

export function checkResource(
  candidate: Candidate,
  definition: StackDefinition,
  registry: ProviderRegistry,
  problems: Problems,
  predictOutput: (address: string, output: string) => JsonValue | undefined,
): { resource: DesiredResource; keys: { provides: string[]; requires: string[] } } | undefined {
  const { resource, address, document } = candidate;
  const at = (fieldPath: (string | number)[]) => ({ ...document.locate(fieldPath), resource: address });
  let handler;
  try {
    handler = registry.kind(resource.apiVersion, resource.kind, { foreign: candidate.foreign === true });
  } catch (error) {
    if (!(error instanceof PlumbError)) throw error;
    problems.add(error.code, error.message, at(["kind"]), error.hint);
    return undefined;
  }
  let valid = true;
  for (const [key, value] of Object.entries(resource.metadata.annotations)) {
    if (key.startsWith("plumb.dev/") && !knownAnnotations.includes(key)) {
      problems.add(
        "PLUMB_RESOURCE_SHAPE",
        `unknown annotation "${key}"`,
        at(["metadata", "annotations", key]),
        `Plumb's annotations are ${knownAnnotations.join(", ")}`,
      );
      valid = false;
    }
    if (key === annotations.deletionPolicy && value !== "Delete" && value !== "Retain") {
      problems.add("PLUMB_RESOURCE_SHAPE", `${key} must be "Delete" or "Retain", not "${value}"`, at(["metadata", "annotations", key]));
      valid = false;
    }
    if (key === annotations.syncWave && !/^-?\d{1,6}$/.test(value.trim())) {
      problems.add(
        "PLUMB_RESOURCE_SHAPE",
        `${key} must be a whole number, not "${value}"`,
        at(["metadata", "annotations", key]),
        'write the wave as a quoted integer: plumb.dev/sync-wave: "-1"',
      );
      valid = false;
    }
    const allowedWords: readonly string[] | undefined =
      key === annotations.hook ? hookPhases : key === annotations.hookDeletePolicy ? hookDeletePolicies : undefined;
    const wrongWord = allowedWords === undefined ? undefined : value.split(",").find((word) => !allowedWords.includes(word.trim()));
    if (allowedWords !== undefined && wrongWord !== undefined) {
      problems.add(
        "PLUMB_RESOURCE_SHAPE",
        `${key} holds "${wrongWord.trim()}"; it takes ${allowedWords.join(", ")}`,
        at(["metadata", "annotations", key]),
        "separate several with commas",
      );
      valid = false;
    }
    if (key === annotations.ignoreDifferences) {
      const wrong = value.split(",").find((pointer) => !pointer.trim().startsWith("/"));
      if (wrong !== undefined) {
        problems.add(
          "PLUMB_RESOURCE_SHAPE",
          `${key} holds "${wrong.trim()}", which is not a JSON pointer`,
          at(["metadata", "annotations", key]),
          `list the fields as JSON pointers from the ${candidate.foreign === true ? "manifest's root" : "resource's spec"}, comma-separated: "/spec/replicas, /metadata/labels/app"`,
        );
        valid = false;
      }
    }
    if ((key === annotations.prune || key === annotations.adopt) && value !== "true" && value !== "false") {
      problems.add("PLUMB_RESOURCE_SHAPE", `${key} must be "true" or "false", not "${value}"`, at(["metadata", "annotations", key]));
      valid = false;
    }
  }

  const foreign = candidate.foreign === true;
  // Fields of a plain manifest are named from its root; a Plumb resource's from its spec.
  const specPath = (path: readonly (string | number)[]) => (foreign ? [...path] : ["spec", ...path]);
  const instance =
    resource.metadata.annotations[annotations.provider] ?? (foreign ? defaultManifestInstance(definition, registry) : undefined) ?? defaultProviderInstance;
  const declared = definition.providers[instance];
  const group = apiGroup(resource.apiVersion);
  const providerForGroup = registry.providerForApiVersion(resource.apiVersion);
  if (declared === undefined) {
    const declaredNames = Object.keys(definition.providers);
    problems.add(
      "PLUMB_PROVIDER_INSTANCE",
      `provider instance "${instance}" is not declared for this stack`,
      at(resource.metadata.annotations[annotations.provider] === undefined ? ["apiVersion"] : ["metadata", "annotations", annotations.provider]),
      declaredNames.length === 0
        ? `add a Stack document to the directory, e.g.\n    apiVersion: plumb.dev/v1\n    kind: Stack\n    metadata: { name: ${definition.name} }\n    spec:\n      providers:\n        ${instance}: { type: ${providerForGroup?.type ?? "file"}, config: { root: ./out } }`
        : `declared instances: ${declaredNames.join(", ")}; pick one with the annotation ${annotations.provider}`,
    );
    valid = false;
  } else if (registry.providerForType(declared.type) !== providerForGroup) {
    problems.add(
      "PLUMB_PROVIDER_INSTANCE",
      `provider instance "${instance}" is of type "${declared.type}", which does not serve ${resource.apiVersion}`,
      at(["apiVersion"]),
      `point ${annotations.provider} at an instance of type "${providerForGroup?.type ?? "?"}"`,
    );
    valid = false;
  }

  // Output references are checked with the value they will have, where it is known before apply.
  const { spec: checkedSpec, unresolved } = containsOutputReference(resource.spec)
    ? substituteOutputReferences(resource.spec, predictOutput)
    : { spec: resource.spec, unresolved: [] };
  const unresolvedFields = new Set(unresolved.map((reference) => formatFieldPath(reference.path)));
  const schemaProblems = checkAgainstSchema(handler.schema, checkedSpec).filter(
    (problem) =>
      !/^missing required field/.test(problem.message) || !unresolvedFields.has(formatFieldPath([...problem.path, /"(.*)"/.exec(problem.message)?.[1] ?? ""])),
  );
  if (schemaProblems.length > 0) {
    for (const problem of schemaProblems) {
      const fieldPath = specPath(problem.path);
      problems.add("PLUMB_SCHEMA", `${formatFieldPath(fieldPath)}: ${problem.message}`, at(fieldPath), problem.hint);
    }
    return undefined;
  }
  for (const problem of unresolved.length > 0 ? [] : (handler.validate?.(checkedSpec, resource.metadata.name) ?? [])) {
    const fieldPath = specPath(problem.path.split("/").filter((segment) => segment !== ""));
    problems.add("PLUMB_SCHEMA", `${formatFieldPath(fieldPath)}: ${problem.message}`, at(fieldPath), problem.hint);
    valid = false;
  }

  const dependsOn: string[] = [];
  const dependsOnText = resource.metadata.annotations[annotations.dependsOn];
  if (dependsOnText !== undefined) {
    for (const dependency of dependsOnText.split(/[\s,]+/).filter((item) => item !== "")) {
      if (parseAddress(dependency) === undefined) {
        problems.add(
          "PLUMB_UNKNOWN_DEPENDENCY",
          `"${dependency}" is not a resource address`,
          at(["metadata", "annotations", annotations.dependsOn]),
          "write addresses as apiVersion/kind/name, separated by commas",
        );
        valid = false;
      } else {
        dependsOn.push(dependency);
      }
    }
  }
  if (!valid) return undefined;
  const keyScope = providerForGroup?.group ?? group;
  return {
    resource: {
      address,
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      name: resource.metadata.name,
      labels: resource.metadata.labels,
      annotations: resource.metadata.annotations,
      spec: handler.defaults === undefined ? resource.spec : { ...(handler.defaults(resource.metadata.name) as JsonObject), ...resource.spec },
      provider: instance,
      dependsOn,
      prune: resource.metadata.annotations[annotations.prune] !== "false",
      deletionPolicy:
        (resource.metadata.annotations[annotations.deletionPolicy] as DeletionPolicy | undefined) ?? (handler.dataHolding === true ? "Retain" : "Delete"),
      origin: { file: document.file, document: document.index, ...(document.line === undefined ? {} : { line: document.line }) },
      composite: candidate.composite,
    },
    // Keys are scoped by the serving provider: a Namespace (core group) provides what a Deployment (apps) requires.
    keys: {
      provides: (handler.provides?.(resource.spec, resource.metadata.name) ?? []).map((key) => `${keyScope}|${instance}|${key}`),
      requires: (handler.requires?.(resource.spec, resource.metadata.name) ?? []).map((key) => `${keyScope}|${instance}|${key}`),
    },
  };
}

/** Output references are dependency edges; a reference to a resource the stack does not have is an error at its field. */
export function addReferenceDependencies(desired: DesiredResource[], documentOf: Map<string, ParsedDocument>): void {
  const addresses = new Set(desired.map((resource) => resource.address));
  const errors: PlumbError[] = [];
  for (const resource of desired) {
    for (const reference of findOutputReferences(resource.spec)) {
      if (addresses.has(reference.resource)) {
        if (!resource.dependsOn.includes(reference.resource)) resource.dependsOn.push(reference.resource);
        continue;
      }
      errors.push(
        new PlumbError(
          "PLUMB_REFERENCE",
          `${formatFieldPath(["spec", ...reference.path])} takes output "${reference.output}" of ${reference.resource}, which is not in this stack`,
          {
            location: { ...(documentOf.get(resource.address) as ParsedDocument).locate(["spec", ...reference.path]), resource: resource.address },
            hint: "refer to a resource declared in the same stack (program or YAML)",
          },
        ),
      );
    }
  }
  if (errors.length > 0) throw new PlumbErrorList(errors);
}

/** Checks explicit edges and adds the implicit ones (a file waits for its directory). */
export function addImplicitDependencies(
  desired: DesiredResource[],
  keys: Map<string, { provides: string[]; requires: string[] }>,
  documentOf: Map<string, ParsedDocument>,
): void {
  const addresses = new Set(desired.map((resource) => resource.address));
  const providers = new Map<string, string>();
  for (const [address, { provides }] of keys) for (const key of provides) providers.set(key, address);
  const errors: PlumbError[] = [];
  for (const resource of desired) {
    for (const dependency of resource.dependsOn) {
      if (!addresses.has(dependency)) {
        errors.push(
          new PlumbError("PLUMB_UNKNOWN_DEPENDENCY", `depends on ${dependency}, which is not in this stack`, {
            location: {
              ...(documentOf.get(resource.address) as ParsedDocument).locate(["metadata", "annotations", annotations.dependsOn]),
              resource: resource.address,
            },
            hint: "fix the address in plumb.dev/depends-on, or add that resource to the stack",
          }),
        );
      }
    }
    const implicit = (keys.get(resource.address)?.requires ?? [])
      .map((key) => providers.get(key))
      .filter((address): address is string => address !== undefined && address !== resource.address);
    resource.dependsOn = [...new Set([...resource.dependsOn, ...implicit])].sort();
  }
  if (errors.length > 0) throw new PlumbErrorList(errors);
}
