// A stack's project, checked at render: where its source may be, which
// provider instances, kinds, secrets, composites it may use, and which
// namespaces, databases and roles its resources may reach (each kind says
// where it reaches). Everything the stack tries outside the fence is one
// PLUMB_PROJECT_DENIED naming what, which rule and where in the file.

import { matchesAny, matchesPattern, type KindRule, type Project } from "../project-definition.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { JsonValue, SourcePosition } from "../sdk/resource.js";
import { isSecretReference } from "../sdk/secret-reference.js";
import type { DesiredResource, RenderedClaim } from "../stack-model.js";
import type { StackDefinition, StackDocument } from "../stack-definition.js";
import type { Problems } from "./problems.js";
import type { ParsedDocument } from "./yaml-documents.js";

export interface FenceInput {
  project: Project;
  definition: StackDefinition;
  /** How the stack declared each provider instance before references were resolved. */
  declaredProviders: NonNullable<NonNullable<StackDocument["spec"]>["providers"]>;
  /** The stack directory's own Stack document (the team's), when it has one. */
  directoryStack: ParsedDocument | undefined;
  /** Where the platform's Stack document is, for what it decides. */
  platformStack: SourcePosition;
  resources: readonly DesiredResource[];
  claims: readonly RenderedClaim[];
  documentOf(address: string): ParsedDocument | undefined;
  registry: ProviderRegistry;
}

const hint = "ask the platform team to widen the project, or change the stack to stay inside it";

/** Every secret reference in a value, with its path. */
function secretReferences(value: JsonValue | undefined, at: (string | number)[] = []): { path: (string | number)[]; store?: string; name: string }[] {
  if (isSecretReference(value))
    return [{ path: at, name: value.secretRef.name, ...(value.secretRef.store === undefined ? {} : { store: value.secretRef.store }) }];
  if (Array.isArray(value)) return value.flatMap((item, index) => secretReferences(item, [...at, index]));
  if (typeof value === "object" && value !== null) return Object.entries(value).flatMap(([key, item]) => secretReferences(item, [...at, key]));
  return [];
}

function ruleMatches(rule: KindRule, kindKey: string, spec: JsonValue): boolean {
  if (typeof rule === "string") return matchesPattern(rule, kindKey);
  if (!matchesPattern(rule.kind, kindKey)) return false;
  return Object.entries(rule.fields).every(([pointer, expected]) => {
    let current: JsonValue | undefined = spec;
    for (const part of pointer.slice(1).split("/")) {
      const key = part.replaceAll("~1", "/").replaceAll("~0", "~");
      current = typeof current === "object" && current !== null && !Array.isArray(current) ? current[key] : undefined;
    }
    return JSON.stringify(current) === JSON.stringify(expected);
  });
}

const placeRules: Record<string, { field: "namespaces" | "databases" | "roles"; noun: string }> = {
  namespace: { field: "namespaces", noun: "namespace" },
  database: { field: "databases", noun: "database" },
  role: { field: "roles", noun: "role" },
};

export function checkProjectFence(input: FenceInput, problems: Problems): void {
  const { project, definition } = input;
  const directory = input.directoryStack;
  const platformPosition = input.platformStack;
  const deny = (message: string, location: SourcePosition, resource?: string) =>
    problems.add("PLUMB_PROJECT_DENIED", message, { ...location, ...(resource === undefined ? {} : { resource }) }, hint);
  const stackWhere = (path: (string | number)[]) => (directory?.value !== undefined && has(directory.value, path) ? directory.locate(path) : platformPosition);

  const named = (directory?.value as { spec?: { project?: unknown } } | undefined)?.spec?.project;
  if (named !== undefined && named !== project.name)
    deny(
      `the stack names project ${String(named)}, but the platform puts stack ${definition.name} in project ${project.name}`,
      stackWhere(["spec", "project"]),
    );
  if (project.privileged === true) return;

  const source = definition.source;
  const sourceAllowed =
    project.sources === undefined
      ? source?.repo === undefined
      : project.sources.some(
          (rule) =>
            (rule.repo === undefined ? source?.repo === undefined : source?.repo !== undefined && matchesPattern(rule.repo, source.repo)) &&
            (rule.path === undefined || matchesPattern(rule.path, source?.path ?? ".")),
        );
  if (!sourceAllowed)
    deny(
      `source ${source?.repo ?? "the platform repository"}${source?.path === undefined ? "" : ` path ${source.path}`} is not among project ${project.name}'s sources`,
      stackWhere(["spec", "source"]),
    );

  for (const [instance, declared] of Object.entries(input.declaredProviders)) {
    const where = stackWhere(["spec", "providers", instance]);
    if (!("instance" in declared))
      deny(
        `provider instance ${instance} declares its own connection (type ${declared.type}); stacks of project ${project.name} use the platform's provider instances by name`,
        where,
      );
    else if (!matchesAny(project.providers, declared.instance))
      deny(`provider instance ${declared.instance} is not among project ${project.name}'s providers`, where);
  }

  // A composed resource is the team's through its claim: point at the claim the team wrote, not the platform's compose code.
  const claimsByAddress = new Map(input.claims.map((claim) => [claim.address, claim]));
  const rootClaim = (address: string | null): RenderedClaim | undefined => {
    let claim = address === null ? undefined : claimsByAddress.get(address);
    while (claim?.composite != null && claimsByAddress.has(claim.composite)) claim = claimsByAddress.get(claim.composite);
    return claim;
  };
  for (const resource of input.resources) {
    const claim = rootClaim(resource.composite);
    const document = claim === undefined ? input.documentOf(resource.address) : undefined;
    const foreign = input.registry.isForeign(resource.apiVersion);
    const whole = claim !== undefined ? { file: claim.origin.file, line: claim.origin.line ?? 1, column: 1 } : (document?.position ?? platformPosition);
    const at = (path: (string | number)[]) => (document === undefined ? whole : document.locate(foreign ? path : ["spec", ...path]));
    const kindKey = `${resource.apiVersion}/${resource.kind}`;
    const allow = project.kinds?.allow;
    if (allow !== undefined && !allow.some((rule) => ruleMatches(rule, kindKey, resource.spec)))
      deny(`kind ${kindKey} is not among project ${project.name}'s kinds.allow`, whole, resource.address);
    const denied = (project.kinds?.deny ?? []).findIndex((rule) => ruleMatches(rule, kindKey, resource.spec));
    if (denied >= 0) deny(`${kindKey} matches project ${project.name}'s kinds.deny[${denied}]`, whole, resource.address);

    for (const reference of secretReferences(resource.spec)) {
      if (reference.store !== undefined && project.secrets?.stores !== undefined && !matchesAny(project.secrets.stores, reference.store))
        deny(`secret store ${reference.store} is not among project ${project.name}'s secrets.stores`, at(reference.path), resource.address);
      if (!matchesAny(project.secrets?.names, reference.name))
        deny(`secret ${reference.name} is not among project ${project.name}'s secrets.names`, at(reference.path), resource.address);
    }

    const handler = input.registry.findKind(resource.apiVersion, resource.kind);
    const name = foreign ? String((resource.spec.metadata as { name?: unknown } | undefined)?.name ?? resource.name) : resource.name;
    for (const [place, values] of Object.entries(handler?.places?.(resource.spec as never, name) ?? {})) {
      const rule = placeRules[place];
      if (rule === undefined) continue;
      if (values.length === 0)
        deny(`${kindKey} ${name} is outside every ${rule.noun}, and project ${project.name} allows only its ${rule.field}`, whole, resource.address);
      // An output of another resource (a role's name, say) is that resource's place, checked where it is declared.
      for (const value of values.filter((item): item is string => typeof item === "string"))
        if (!matchesAny(project[rule.field], value))
          deny(`${rule.noun} ${value} is not among project ${project.name}'s ${rule.field}`, whole, resource.address);
    }
  }

  for (const claim of input.claims) {
    if (project.composites === undefined || matchesAny(project.composites, claim.kind) || matchesAny(project.composites, `${claim.apiVersion}/${claim.kind}`))
      continue;
    deny(
      `composite ${claim.kind} is not among project ${project.name}'s composites`,
      { file: claim.origin.file, line: claim.origin.line ?? 1, column: 1 },
      claim.address,
    );
  }
}

function has(value: unknown, path: readonly (string | number)[]): boolean {
  let current = value;
  for (const key of path) {
    if (typeof current !== "object" || current === null || !(key in current)) return false;
    current = (current as Record<string | number, unknown>)[key];
  }
  return true;
}
