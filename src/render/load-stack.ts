// The render stage for YAML stacks: files → values → resources → patches →
// validation → the desired graph. Every problem names file:line:column, and all
// of them are reported together so one edit-and-retry fixes them all.

import { createHash } from "node:crypto";
import path from "node:path";
import { Type } from "@sinclair/typebox";
import { checkSyncPolicy } from "../schedule.js";
import { maxReportedProblems, moreProblems, PlumbError, PlumbErrorList, type ErrorCode } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import {
  annotations,
  apiGroup,
  defaultProviderInstance,
  knownAnnotations,
  parseAddress,
  resourceAddress,
  type DeletionPolicy,
  type JsonObject,
  type JsonValue,
  type Resource,
  type SourcePosition,
} from "../sdk/resource.js";
import { compositeKey, type PlatformLibrary } from "./platform-library.js";
import { setAtPointer, type Violation } from "../policy-finding.js";
import { orderGraph } from "./graph.js";
import { containsOutputReference, findOutputReferences, substituteOutputReferences } from "./output-references.js";
import { expandProgramAndClaims, hasProgram, programFile, type RenderedClaim, type YamlClaim } from "./programs.js";
import { defaultSandboxLimits, type SandboxLimits } from "./sandbox.js";
import { readYamlFiles } from "./read-source.js";
import { checkAgainstSchema, formatFieldPath, type SchemaProblem } from "../schema-check.js";
import {
  completeStackDefinition,
  stackApiVersion,
  stackDocumentSchema,
  stackKind,
  stackNameFromDirectory,
  type StackDefinition,
  type StackDocument,
} from "./stack-definition.js";
import { parseYamlDocuments, type ParsedDocument } from "./yaml-documents.js";
import { applyMergePatch, deepMerge, interpolate, isPlainObject, type InterpolationProblem } from "./values.js";

/** One resource as the engine sees it after render. */
export interface DesiredResource {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: JsonObject;
  /** The provider instance (a key of the Stack's `providers`). */
  provider: string;
  /** Addresses this resource waits for: explicit depends-on plus implicit ones. */
  dependsOn: string[];
  /** False when `plumb.dev/prune: "false"` protects it from deletion. */
  prune: boolean;
  deletionPolicy: DeletionPolicy;
  /**
   * The file and the document in it (0-based, empty documents counted) that
   * declared it, and the line: where the YAML document's content starts, or
   * the line of TypeScript that declared it.
   */
  origin: { file: string; document: number; line?: number };
  /** The composite claim it was composed from, or null. */
  composite: string | null;
}

export interface RenderedStack {
  directory: string;
  definition: StackDefinition;
  /** In dependency order: every resource after the ones it depends on. */
  resources: DesiredResource[];
  /** The YAML files read (and main.ts), relative to the directory. */
  files: string[];
  /** Composite claims, with the addresses of what each composed. */
  claims: RenderedClaim[];
  /** What the platform's TypeScript policy rules found; remediations are already in the specs. */
  policyViolations: Violation[];
  /** A hash of the desired graph; identifies what was rendered when there is no commit. */
  digest: string;
}

export interface RenderOptions {
  registry: ProviderRegistry;
  /** Overrides the Stack's `spec.environment`. */
  environment?: string;
  /**
   * A Stack document from the platform repository: merged (RFC 7386) over the
   * directory's own Stack document, so the platform decides the name, sync policy
   * and anything else it sets. `file` is where it came from, for errors.
   */
  stackOverride?: { document: StackDocument; file: string };
  /** The platform's composite kinds (claims of other kinds are unknown kinds) and TypeScript policy rules. */
  platform?: PlatformLibrary;
  /** Limits for the sandbox that runs main.ts and compose functions. */
  sandboxLimits?: SandboxLimits;
}

const resourceShape = Type.Object(
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

const patchEntry = Type.Object(
  {
    target: Type.String({ minLength: 1, description: "The address of the resource to patch: apiVersion/kind/name." }),
    patch: Type.Record(Type.String(), Type.Unknown(), { description: "A JSON merge patch (RFC 7386) applied to the whole resource." }),
  },
  { additionalProperties: false },
);

const environmentPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The render's problems: the first hundred in full, the rest only counted (no positions looked up for them). */
class Problems {
  readonly errors: PlumbError[] = [];
  private omitted = 0;

  private full(): boolean {
    if (this.errors.length < maxReportedProblems) return false;
    this.omitted++;
    return true;
  }

  push(...errors: PlumbError[]): void {
    for (const error of errors) if (!this.full()) this.errors.push(error);
  }

  add(code: ErrorCode, message: string, location: SourcePosition & { resource?: string }, hint?: string): void {
    if (!this.full()) this.errors.push(new PlumbError(code, message, { location, ...(hint === undefined ? {} : { hint }) }));
  }

  addSchema(code: ErrorCode, problems: readonly SchemaProblem[], document: ParsedDocument, basePath: (string | number)[], resource?: string): void {
    for (const problem of problems) {
      if (this.full()) continue;
      const fullPath = [...basePath, ...problem.path];
      this.add(
        code,
        `${formatFieldPath(fullPath)}: ${problem.message}`,
        { ...document.locate(fullPath), ...(resource === undefined ? {} : { resource }) },
        problem.hint,
      );
    }
  }

  throwIfAny(): void {
    if (this.errors.length > 0) throw new PlumbErrorList(this.omitted === 0 ? this.errors : [...this.errors, moreProblems(this.omitted)]);
  }
}

interface Candidate {
  resource: Resource;
  address: string;
  document: ParsedDocument;
  composite: string | null;
}

export async function renderStack(directory: string, options: RenderOptions): Promise<RenderedStack> {
  const files = await readYamlFiles(directory);
  const problems = new Problems();
  if (options.environment !== undefined && !environmentPattern.test(options.environment)) {
    throw new PlumbError("PLUMB_USAGE", `environment "${options.environment}" is not a valid name`, {
      hint: "use lower-case letters, digits, '-' and '_', e.g. --env prod",
    });
  }

  const documentsByFile = new Map<string, ParsedDocument[]>();
  for (const file of files) {
    try {
      documentsByFile.set(file.relativePath, parseYamlDocuments(file.relativePath, file.text));
    } catch (error) {
      if (error instanceof PlumbError) problems.push(error);
      else throw error;
    }
  }
  problems.throwIfAny();

  const isRootFile = (name: string, pattern: RegExp) => !name.includes("/") && pattern.test(name);
  const resourceDocuments: ParsedDocument[] = [];
  const stackDocuments: ParsedDocument[] = [];
  for (const [file, documents] of documentsByFile) {
    if (isRootFile(file, /^(values|patches)(\.[^.]+)?\.ya?ml$/)) continue;
    for (const document of documents) {
      const value = document.value;
      if (isPlainObject(value) && value.apiVersion === stackApiVersion && value.kind === stackKind) stackDocuments.push(document);
      else resourceDocuments.push(document);
    }
  }

  // The Stack document decides the environment, which decides the values files.
  if (stackDocuments.length > 1) {
    const [first, ...rest] = stackDocuments as [ParsedDocument, ...ParsedDocument[]];
    for (const extra of rest) {
      problems.add(
        "PLUMB_STACK_DEFINITION",
        `a second Stack document; the first is at ${first.position.file}:${first.position.line}`,
        extra.position,
        "keep one Stack document per stack directory",
      );
    }
  }
  const stackDocument = stackDocuments[0];
  const rawEnvironment = isPlainObject(stackDocument?.value) && isPlainObject(stackDocument.value.spec) ? stackDocument.value.spec.environment : undefined;
  const environment =
    options.environment ??
    options.stackOverride?.document.spec?.environment ??
    (typeof rawEnvironment === "string" && environmentPattern.test(rawEnvironment) ? rawEnvironment : undefined);

  const values = loadValues(documentsByFile, environment, problems);

  let stackDocumentValue: StackDocument | undefined;
  if (stackDocument !== undefined) {
    const interpolated = interpolateDocument(stackDocument, values, problems);
    const schemaProblems = checkAgainstSchema(stackDocumentSchema, interpolated);
    problems.addSchema("PLUMB_STACK_DEFINITION", schemaProblems, stackDocument, []);
    if (schemaProblems.length === 0) stackDocumentValue = interpolated as StackDocument;
    // Without a usable Stack every resource would also miss its provider instance; report the cause alone.
    else problems.throwIfAny();
    const sync = stackDocumentValue?.spec?.sync;
    if (sync !== undefined) {
      try {
        checkSyncPolicy(sync, "the Stack", { intervalMs: 60_000, driftIntervalMs: 300_000 });
      } catch (error) {
        if (!(error instanceof PlumbError)) throw error;
        problems.add("PLUMB_STACK_DEFINITION", error.message, stackDocument.locate(["spec", "sync"]), error.hint);
      }
    }
  }
  if (options.stackOverride !== undefined) {
    const merged = applyMergePatch(stackDocumentValue ?? {}, options.stackOverride.document);
    const mergeProblems = checkAgainstSchema(stackDocumentSchema, merged);
    for (const problem of mergeProblems) {
      problems.add(
        "PLUMB_STACK_DEFINITION",
        `${formatFieldPath(problem.path)}: ${problem.message} (the platform's Stack merged over ${stackDocument?.position.file ?? "no Stack document in the directory"})`,
        { file: options.stackOverride.file, line: 1, column: 1 },
        problem.hint,
      );
    }
    stackDocumentValue = mergeProblems.length === 0 ? (merged as StackDocument) : undefined;
  }
  const definition = completeStackDefinition(stackDocumentValue, stackNameFromDirectory(path.basename(path.resolve(directory))), environment);
  if (stackDocumentValue !== undefined && stackDocument !== undefined) checkProviderInstances(definition, stackDocument, options.registry, problems);

  // Resources: values, shape, addresses.
  const candidates = new Map<string, Candidate>();
  for (const document of resourceDocuments) {
    const interpolated = interpolateDocument(document, values, problems);
    const shapeProblems = checkAgainstSchema(resourceShape, interpolated);
    if (shapeProblems.length > 0) {
      problems.addSchema("PLUMB_RESOURCE_SHAPE", shapeProblems, document, []);
      continue;
    }
    const shaped = interpolated as {
      apiVersion: string;
      kind: string;
      metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: JsonObject;
    };
    const resource: Resource = {
      apiVersion: shaped.apiVersion,
      kind: shaped.kind,
      metadata: { name: shaped.metadata.name, labels: shaped.metadata.labels ?? {}, annotations: shaped.metadata.annotations ?? {} },
      spec: shaped.spec ?? {},
    };
    const address = resourceAddress(resource);
    const existing = candidates.get(address);
    if (existing !== undefined) {
      problems.add(
        "PLUMB_DUPLICATE_ADDRESS",
        `${address} is declared twice; the first is at ${existing.document.position.file}:${existing.document.position.line}`,
        { ...document.locate(["metadata", "name"]), resource: address },
        "rename one of them: an address (apiVersion/kind/name) must be unique in a stack",
      );
      continue;
    }
    candidates.set(address, { resource, address, document, composite: null });
  }

  // Patches apply to what the directory declares (claims included); composed resources follow their claim.
  applyPatches(documentsByFile, environment, values, candidates, problems);

  const program = hasProgram(directory);
  const compositeKinds = new Set((options.platform?.composites ?? []).map((kind) => compositeKey(kind.apiVersion, kind.kind)));
  const yamlClaims: YamlClaim[] = [];
  for (const candidate of candidates.values()) {
    if (!compositeKinds.has(compositeKey(candidate.resource.apiVersion, candidate.resource.kind))) continue;
    candidates.delete(candidate.address);
    const { apiVersion, kind, metadata, spec } = candidate.resource;
    yamlClaims.push({
      claim: { apiVersion, kind, name: metadata.name, labels: metadata.labels, annotations: metadata.annotations, spec },
      document: candidate.document,
    });
  }
  let claims: RenderedClaim[] = [];
  const policyViolations: Violation[] = [];
  if (program || yamlClaims.length > 0 || (options.platform?.rules.length ?? 0) > 0) {
    problems.throwIfAny();
    const expansion = await expandProgramAndClaims({
      directory,
      program,
      claims: yamlClaims,
      resources: [...candidates.values()].map(({ resource, address }) => ({
        apiVersion: resource.apiVersion,
        kind: resource.kind,
        name: resource.metadata.name,
        address,
        labels: resource.metadata.labels,
        annotations: resource.metadata.annotations,
        spec: resource.spec,
      })),
      platform: options.platform,
      context: { stack: definition.name, environment: definition.environment ?? null, values, metadata: definition.metadata, labels: definition.labels },
      limits: options.sandboxLimits ?? defaultSandboxLimits,
    });
    problems.push(...expansion.errors);
    claims = expansion.claims;
    for (const claim of claims) {
      const existing = candidates.get(claim.address);
      if (existing !== undefined)
        problems.add(
          "PLUMB_DUPLICATE_ADDRESS",
          `${claim.address} is declared twice; the first is at ${existing.document.position.file}:${existing.document.position.line}`,
          { file: claim.origin.file, line: claim.origin.line ?? 1, column: 1, resource: claim.address },
        );
    }
    for (const { value, document } of expansion.resources) {
      const shapeProblems = checkAgainstSchema(resourceShape, { apiVersion: value.apiVersion, kind: value.kind, metadata: value.metadata, spec: value.spec });
      if (shapeProblems.length > 0) {
        problems.addSchema("PLUMB_RESOURCE_SHAPE", shapeProblems, document, []);
        continue;
      }
      const resource: Resource = { apiVersion: value.apiVersion, kind: value.kind, metadata: value.metadata, spec: (value.spec ?? {}) as JsonObject };
      const address = resourceAddress(resource);
      const existing = candidates.get(address);
      if (existing !== undefined) {
        problems.add(
          "PLUMB_DUPLICATE_ADDRESS",
          `${address} is declared twice; the first is at ${existing.document.position.file}:${existing.document.position.line}`,
          { ...document.position, resource: address },
          "rename one of them: an address (apiVersion/kind/name) must be unique in a stack",
        );
        continue;
      }
      candidates.set(address, { resource, address, document, composite: value.composite });
    }
    for (const { fix, ...violation } of expansion.violations) {
      policyViolations.push(violation);
      const candidate = candidates.get(violation.address);
      if (fix === null || candidate === undefined) continue;
      let spec = candidate.resource.spec;
      for (const [pointer, value] of Object.entries(fix)) spec = setAtPointer(spec, pointer, value);
      candidate.resource = { ...candidate.resource, spec };
    }
  }

  // Kinds, provider instances, schemas, annotations.
  const desired: DesiredResource[] = [];
  const implicitKeys = new Map<string, { provides: string[]; requires: string[] }>();
  const predictOutput = (address: string, output: string): JsonValue | undefined => {
    const target = candidates.get(address);
    if (target === undefined) return undefined;
    const value = options.registry.findKind(target.resource.apiVersion, target.resource.kind)?.outputs?.(target.resource.spec, target.resource.metadata.name)[
      output
    ];
    return value === undefined || containsOutputReference(value) ? undefined : value;
  };
  for (const candidate of candidates.values()) {
    const checked = checkResource(candidate, definition, options.registry, problems, predictOutput);
    if (checked === undefined) continue;
    desired.push(checked.resource);
    implicitKeys.set(candidate.address, checked.keys);
  }
  problems.throwIfAny();

  const documentOf = new Map([...candidates.values()].map((candidate) => [candidate.address, candidate.document]));
  addReferenceDependencies(desired, documentOf);
  addImplicitDependencies(desired, implicitKeys, documentOf);
  const byAddress = new Map(desired.map((resource) => [resource.address, resource]));
  const graph = orderGraph(desired);
  if ("cycles" in graph) {
    for (const cycle of graph.cycles) {
      const first = cycle[0] as string;
      problems.add(
        "PLUMB_DEPENDENCY_CYCLE",
        `dependency cycle between ${cycle.length} resource${cycle.length === 1 ? "" : "s"}: ${cycle.join(" → ")}`,
        { ...(documentOf.get(first) as ParsedDocument).locate(["metadata", "annotations", annotations.dependsOn]), resource: first },
        "remove one plumb.dev/depends-on edge (or one implicit parent/child relation) from the cycle",
      );
    }
    problems.throwIfAny();
  }
  const ordered = (graph as { order: string[] }).order.map((address) => byAddress.get(address) as DesiredResource);
  return {
    directory,
    definition,
    resources: ordered,
    files: [...files.map((file) => file.relativePath), ...(program ? [programFile] : [])],
    claims,
    policyViolations,
    digest: digestOf(definition, ordered, claims),
  };
}

function interpolateDocument(document: ParsedDocument, values: JsonObject, problems: Problems): unknown {
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

function loadValues(documentsByFile: Map<string, ParsedDocument[]>, environment: string | undefined, problems: Problems): JsonObject {
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

function applyPatches(
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

function checkProviderInstances(definition: StackDefinition, document: ParsedDocument, registry: ProviderRegistry, problems: Problems): void {
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

function checkResource(
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
    handler = registry.kind(resource.apiVersion, resource.kind);
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
    if (key === annotations.prune && value !== "true" && value !== "false") {
      problems.add("PLUMB_RESOURCE_SHAPE", `${key} must be "true" or "false", not "${value}"`, at(["metadata", "annotations", key]));
      valid = false;
    }
  }

  const instance = resource.metadata.annotations[annotations.provider] ?? defaultProviderInstance;
  const declared = definition.providers[instance];
  const group = apiGroup(resource.apiVersion);
  const providerForGroup = registry.providerForGroup(group);
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
  } else if (registry.providerForType(declared.type)?.group !== group) {
    problems.add(
      "PLUMB_PROVIDER_INSTANCE",
      `provider instance "${instance}" is of type "${declared.type}", which does not serve ${group}`,
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
      const fieldPath = ["spec", ...problem.path];
      problems.add("PLUMB_SCHEMA", `${formatFieldPath(fieldPath)}: ${problem.message}`, at(fieldPath), problem.hint);
    }
    return undefined;
  }
  for (const problem of unresolved.length > 0 ? [] : (handler.validate?.(checkedSpec, resource.metadata.name) ?? [])) {
    const fieldPath = ["spec", ...problem.path.split("/").filter((segment) => segment !== "")];
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
  return {
    resource: {
      address,
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      name: resource.metadata.name,
      labels: resource.metadata.labels,
      annotations: resource.metadata.annotations,
      spec: resource.spec,
      provider: instance,
      dependsOn,
      prune: resource.metadata.annotations[annotations.prune] !== "false",
      deletionPolicy:
        (resource.metadata.annotations[annotations.deletionPolicy] as DeletionPolicy | undefined) ?? (handler.dataHolding === true ? "Retain" : "Delete"),
      origin: { file: document.file, document: document.index, ...(document.line === undefined ? {} : { line: document.line }) },
      composite: candidate.composite,
    },
    keys: {
      provides: (handler.provides?.(resource.spec, resource.metadata.name) ?? []).map((key) => `${group}|${instance}|${key}`),
      requires: (handler.requires?.(resource.spec, resource.metadata.name) ?? []).map((key) => `${group}|${instance}|${key}`),
    },
  };
}

/** Output references are dependency edges; a reference to a resource the stack does not have is an error at its field. */
function addReferenceDependencies(desired: DesiredResource[], documentOf: Map<string, ParsedDocument>): void {
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
function addImplicitDependencies(
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

function digestOf(definition: StackDefinition, resources: readonly DesiredResource[], claims: readonly RenderedClaim[]): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ name: definition.name, environment: definition.environment ?? null }));
  for (const resource of resources) {
    hash.update(JSON.stringify([resource.address, resource.provider, resource.labels, resource.annotations, resource.spec, resource.composite]));
  }
  for (const claim of claims) hash.update(JSON.stringify([claim.address, claim.spec, claim.composite]));
  return hash.digest("hex");
}
