// The render stage for YAML stacks: files → values → resources → patches →
// validation → the desired graph. Every problem names file:line:column, and all
// of them are reported together so one edit-and-retry fixes them all.

import { createHash } from "node:crypto";
import path from "node:path";
import { checkSyncPolicy } from "../schedule.js";
import { PlumbError } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { annotations, resourceAddress, type JsonObject, type JsonValue, type Resource } from "../sdk/resource.js";
import { matchesPattern, type Project, type ProviderCatalog } from "../project-definition.js";
import { addAdmissionGuards, type AdmissionEndpoint } from "./admission-guards.js";
import { checkProjectFence } from "./project-fence.js";
import { resolveProviderReferences } from "./provider-references.js";
import { compositeKey, type PlatformLibrary } from "./platform-library.js";
import { setAtPointer, type Violation } from "../policy-finding.js";
import { orderGraph } from "./graph.js";
import { containsOutputReference } from "./output-references.js";
import { expandProgramAndClaims, hasProgram, programFile, type YamlClaim } from "./programs.js";
import type { DesiredResource, RenderedClaim, RenderedStack } from "../stack-model.js";
import { defaultSandboxLimits, type SandboxLimits } from "./sandbox.js";
import { readYamlFiles } from "./read-source.js";
import { isKustomizeInput, kustomizationDirectories, kustomizedDocuments, type RemoteBase } from "./kustomize.js";
import { applyPatches, interpolateDocument, loadValues } from "./overlays.js";
import { manifestResource, type ManifestValue } from "./manifests.js";
import { Problems } from "./problems.js";
import { addImplicitDependencies, addReferenceDependencies, checkProviderInstances, checkResource, resourceShape, type Candidate } from "./resource-check.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import {
  completeStackDefinition,
  stackApiVersion,
  stackDocumentSchema,
  stackKind,
  stackNameFromDirectory,
  type StackDefinition,
  type StackDocument,
} from "../stack-definition.js";
import { parseYamlDocuments, type ParsedDocument } from "./yaml-documents.js";
import { applyMergePatch, isPlainObject } from "./values.js";

/** Documents only the platform repository may hold: a stack directory that has one is refused. */
const platformOnlyKinds = new Set([
  "ProviderPlugin",
  "ProviderInstance",
  "Project",
  "NotificationSink",
  "PromotionPolicy",
  "Pin",
  "StackSet",
  "SecretStore",
  "CompliancePolicy",
]);

export interface RenderOptions {
  registry: ProviderRegistry;
  /** Overrides the Stack's `spec.environment`. */
  environment?: string;
  /**
   * A Stack document from the platform repository: merged (RFC 7386) over the
   * directory's own Stack document, so the platform decides the name, sync policy
   * and anything else it sets. `file` is where it came from, for errors.
   */
  stackOverride?: { document: StackDocument; file: string; line?: number };
  /** The platform's composite kinds (claims of other kinds are unknown kinds) and TypeScript policy rules. */
  platform?: PlatformLibrary;
  /** Limits for the sandbox that runs main.ts and compose functions. */
  sandboxLimits?: SandboxLimits;
  /** The agent's admission webhook, for stacks with sync.preventDrift; push mode has none. */
  admission?: AdmissionEndpoint;
  /** The stack's project, when the platform declares projects: everything outside its fence is refused. */
  project?: Project;
  /**
   * Without stackOverride and project: the platform's Stack document (and
   * project) for a stack of this name, so a plan from the command line with
   * --platform is rendered as the agent would render it.
   */
  platformStackFor?: (name: string) => { override: NonNullable<RenderOptions["stackOverride"]>; project: Project | undefined } | undefined;
  /** The platform's ProviderInstance documents, which a stack uses as `providers: { db: { instance: <name> } }`. */
  providerCatalog?: ProviderCatalog;
  /** A read-only checkout of a Kustomize remote base the project allows, through Plumb's git source. */
  fetchRemoteBase?: (base: RemoteBase) => Promise<string>;
}

const environmentPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

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
  const classify = (document: ParsedDocument, kustomizeInput: boolean) => {
    const value = document.value;
    if (isPlainObject(value) && value.apiVersion === stackApiVersion && value.kind === stackKind) stackDocuments.push(document);
    else if (isPlainObject(value) && value.apiVersion === stackApiVersion && platformOnlyKinds.has(String(value.kind)))
      // Code that runs in the agent with its credentials, where news goes, what is promoted: the platform decides, never a team.
      problems.add(
        "PLUMB_PROJECT_DENIED",
        `a ${String(value.kind)} belongs in the platform repository; a stack may not declare one`,
        document.position,
        "ask the platform team to add it to the platform repository",
      );
    // What Kustomize reads reaches the stack through its build only.
    else if (!kustomizeInput) resourceDocuments.push(document);
  };
  const kustomizeDirectories = kustomizationDirectories(files.map((file) => file.relativePath));
  for (const [file, documents] of documentsByFile) {
    if (isRootFile(file, /^(values|patches)(\.[^.]+)?\.ya?ml$/)) continue;
    const kustomizeInput = isKustomizeInput(file, kustomizeDirectories);
    for (const document of documents) classify(document, kustomizeInput);
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
  const rawName = isPlainObject(stackDocument?.value) && isPlainObject(stackDocument.value.metadata) ? stackDocument.value.metadata.name : undefined;
  const fromPlatform =
    options.stackOverride === undefined
      ? options.platformStackFor?.(typeof rawName === "string" ? rawName : stackNameFromDirectory(path.basename(path.resolve(directory))))
      : undefined;
  const stackOverride = options.stackOverride ?? fromPlatform?.override;
  const project = options.project ?? fromPlatform?.project;
  const rawEnvironment = isPlainObject(stackDocument?.value) && isPlainObject(stackDocument.value.spec) ? stackDocument.value.spec.environment : undefined;
  const environment =
    options.environment ??
    stackOverride?.document.spec?.environment ??
    (typeof rawEnvironment === "string" && environmentPattern.test(rawEnvironment) ? rawEnvironment : undefined);

  // `${values.environment}` is the stack's environment unless the values files set it.
  const values = { ...(environment === undefined ? {} : { environment }), ...loadValues(documentsByFile, environment, problems) };

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
      for (const [index, rule] of (sync.ignoreDifferences ?? []).entries())
        if (rule.pointers === undefined && rule.managers === undefined)
          problems.add(
            "PLUMB_STACK_DEFINITION",
            "this rule names neither pointers nor managers, so it ignores nothing",
            stackDocument.locate(["spec", "sync", "ignoreDifferences", index]),
            "add pointers: [/spec/replicas], or managers: [the field manager that writes the fields]",
          );
    }
  }
  if (stackOverride !== undefined) {
    const merged = applyMergePatch(stackDocumentValue ?? {}, stackOverride.document);
    const mergeProblems = checkAgainstSchema(stackDocumentSchema, merged);
    for (const problem of mergeProblems) {
      problems.add(
        "PLUMB_STACK_DEFINITION",
        `${formatFieldPath(problem.path)}: ${problem.message} (the platform's Stack merged over ${stackDocument?.position.file ?? "no Stack document in the directory"})`,
        { file: stackOverride.file, line: stackOverride.line ?? 1, column: 1 },
        problem.hint,
      );
    }
    stackDocumentValue = mergeProblems.length === 0 ? (merged as StackDocument) : undefined;
  }
  const declaredProviders = stackDocumentValue?.spec?.providers ?? {};
  const resolvedProviders = resolveProviderReferences(declaredProviders, options.providerCatalog, problems, (instance) =>
    stackDocument !== undefined &&
    isPlainObject(stackDocument.value) &&
    isPlainObject(stackDocument.value.spec) &&
    isPlainObject(stackDocument.value.spec.providers) &&
    instance in stackDocument.value.spec.providers
      ? stackDocument.locate(["spec", "providers", instance])
      : { file: stackOverride?.file ?? "the Stack document", line: stackOverride?.line ?? 1, column: 1 },
  );
  const definition = completeStackDefinition(
    stackDocumentValue,
    stackNameFromDirectory(path.basename(path.resolve(directory))),
    environment,
    resolvedProviders,
  );
  if (stackDocumentValue !== undefined && stackDocument !== undefined) checkProviderInstances(definition, stackDocument, options.registry, problems);

  for (const document of await kustomizedDocuments(
    {
      directory,
      relativePaths: files.map((file) => file.relativePath),
      configuredPath: stackDocumentValue?.spec?.kustomize?.path,
      ...(stackDocument === undefined ? {} : { pathWhere: stackDocument.locate(["spec", "kustomize", "path"]) }),
      remote: {
        allowed: project?.kustomizeRemoteBases ?? [],
        matches: matchesPattern,
        ...(options.fetchRemoteBase === undefined
          ? { unavailable: "only an agent with a git source fetches remote bases" }
          : { fetch: options.fetchRemoteBase }),
      },
      limits: options.sandboxLimits ?? defaultSandboxLimits,
    },
    problems,
  ))
    classify(document, false);

  // Resources: values, shape, addresses. A manifest of a group outside Plumb's is a foreign object (a
  // Kubernetes object) when the stack declares an instance of the provider serving those, and is not a composite's claim.
  const compositeKinds = new Set((options.platform?.composites ?? []).map((kind) => compositeKey(kind.apiVersion, kind.kind)));
  const foreignType = options.registry.foreign?.type;
  const servesForeign = Object.values(definition.providers).some((declared) => declared.type === foreignType);
  // A plain manifest's shape is the foreign provider's one kind schema: its name and namespace make the address.
  const manifestShape = options.registry.foreign?.kinds[0]?.schema ?? resourceShape;
  const candidates = new Map<string, Candidate>();
  for (const document of resourceDocuments) {
    const interpolated = interpolateDocument(document, values, problems);
    const { apiVersion, kind } = (interpolated ?? {}) as { apiVersion?: unknown; kind?: unknown };
    const foreign =
      servesForeign && typeof apiVersion === "string" && options.registry.isForeign(apiVersion) && !compositeKinds.has(compositeKey(apiVersion, String(kind)));
    const shapeProblems = checkAgainstSchema(foreign ? manifestShape : resourceShape, interpolated);
    if (shapeProblems.length > 0) {
      problems.addSchema("PLUMB_RESOURCE_SHAPE", shapeProblems, document, []);
      continue;
    }
    let resource: Resource;
    if (foreign) resource = manifestResource(interpolated as ManifestValue);
    else {
      const shaped = interpolated as {
        apiVersion: string;
        kind: string;
        metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
        spec?: JsonObject;
      };
      resource = {
        apiVersion: shaped.apiVersion,
        kind: shaped.kind,
        metadata: { name: shaped.metadata.name, labels: shaped.metadata.labels ?? {}, annotations: shaped.metadata.annotations ?? {} },
        spec: shaped.spec ?? {},
      };
    }
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
    candidates.set(address, { resource, address, document, composite: null, foreign });
  }

  // Patches apply to what the directory declares (claims included); composed resources follow their claim.
  applyPatches(documentsByFile, environment, values, candidates, problems);

  const program = hasProgram(directory);
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
      // A Kubernetes object declared in TypeScript (k8s.Object): its spec is its manifest.
      const foreign = servesForeign && options.registry.isForeign(value.apiVersion) && !compositeKinds.has(compositeKey(value.apiVersion, value.kind));
      const shapeProblems = foreign
        ? checkAgainstSchema(manifestShape, value.spec)
        : checkAgainstSchema(resourceShape, { apiVersion: value.apiVersion, kind: value.kind, metadata: value.metadata, spec: value.spec });
      if (shapeProblems.length > 0) {
        problems.addSchema("PLUMB_RESOURCE_SHAPE", shapeProblems, document, []);
        continue;
      }
      let resource: Resource = { apiVersion: value.apiVersion, kind: value.kind, metadata: value.metadata, spec: (value.spec ?? {}) as JsonObject };
      if (foreign) {
        const manifest = manifestResource(value.spec as unknown as ManifestValue);
        // Plumb's own annotations (depends-on, provider, prune) come from the declaration's options.
        resource = { ...manifest, metadata: { ...manifest.metadata, annotations: { ...manifest.metadata.annotations, ...value.metadata.annotations } } };
      }
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
      candidates.set(address, { resource, address, document, composite: value.composite, foreign });
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

  addAdmissionGuards(candidates, definition, options.registry, options.admission);

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
  const documentOf = new Map([...candidates.values()].map((candidate) => [candidate.address, candidate.document]));
  if (project !== undefined)
    checkProjectFence(
      {
        project,
        definition,
        declaredProviders,
        directoryStack: stackDocument,
        platformStack: { file: stackOverride?.file ?? "the platform's Stack document", line: stackOverride?.line ?? 1, column: 1 },
        resources: desired,
        claims,
        documentOf: (address) => documentOf.get(address),
        registry: options.registry,
      },
      problems,
    );
  problems.throwIfAny();

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

function digestOf(definition: StackDefinition, resources: readonly DesiredResource[], claims: readonly RenderedClaim[]): string {
  const hash = createHash("sha256");
  hash.update(JSON.stringify({ name: definition.name, environment: definition.environment ?? null }));
  for (const resource of resources) {
    hash.update(JSON.stringify([resource.address, resource.provider, resource.labels, resource.annotations, resource.spec, resource.composite]));
  }
  for (const claim of claims) hash.update(JSON.stringify([claim.address, claim.spec, claim.composite]));
  return hash.digest("hex");
}
