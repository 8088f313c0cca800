// Backstage catalog entities for what the agent manages, for a developer
// portal: each stack a Component (owner, system = its project, lifecycle from
// its environment, ATO date and compliance level as annotations, a link to its
// page on the dashboard), each project a System, each composite kind an API
// whose definition is the claim's JSON Schema. A pure function of its input.

import { stringify } from "yaml";

export interface CatalogStack {
  name: string;
  project: string;
  environment: string | null;
  labels: Record<string, string>;
  /** The stack's compliance metadata (owner, atoDate, complianceLevel, costCenter, …). */
  metadata: Record<string, string>;
}

export interface CatalogComposite {
  apiVersion: string;
  kind: string;
  description: string;
  schema: unknown;
}

export interface CatalogOptions {
  /** The dashboard's address as people reach it, for links; none when the agent does not know it. */
  dashboardUrl: string | undefined;
  /** Owner of projects (Systems) and composite kinds: the platform team. */
  platformOwner: string;
}

export interface BackstageEntity {
  apiVersion: "backstage.io/v1alpha1";
  kind: "Component" | "System" | "API";
  metadata: {
    name: string;
    title?: string;
    description?: string;
    labels?: Record<string, string>;
    annotations: Record<string, string>;
    tags?: string[];
    links?: { url: string; title: string; icon?: string }[];
  };
  spec: Record<string, unknown>;
}

// Backstage's formats: names are up to 63 of [A-Za-z0-9] joined by single - _ or .; tags are lower-case words joined by -.
const nameFormat = /^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$/;
const labelValueFormat = nameFormat;
const labelKeyFormat = /^(?:[a-z0-9]+(?:[-.][a-z0-9]+)*\/)?[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$/;

/** A name Backstage accepts, made from any text: runs of other characters become one dash. */
export function entityName(text: string): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return cleaned === "" ? "unnamed" : cleaned;
}

function tag(text: string): string {
  return entityName(text.toLowerCase()).replace(/[_.]/g, "-");
}

/** An owner reference: the stack's team label, else the local part of its owner address, as a group. */
function ownerOf(stack: CatalogStack): string {
  const team = stack.labels.team;
  if (team !== undefined && nameFormat.test(team)) return `group:default/${team}`;
  const owner = stack.metadata.owner;
  if (owner !== undefined && owner !== "") return `group:default/${entityName(owner.split("@")[0] ?? owner)}`;
  return "group:default/unowned";
}

function lifecycleOf(environment: string | null): string {
  if (environment === null) return "production";
  return /^prod(uction)?$/.test(environment) ? "production" : environment;
}

function annotations(entries: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ""));
}

function stackEntity(stack: CatalogStack, options: CatalogOptions): BackstageEntity {
  const { owner, atoDate, complianceLevel, costCenter } = stack.metadata;
  const labels = Object.fromEntries(
    Object.entries(stack.labels).filter(([key, value]) => key.length <= 253 && labelKeyFormat.test(key) && value.length <= 63 && labelValueFormat.test(value)),
  );
  const link =
    options.dashboardUrl === undefined
      ? []
      : [{ url: `${options.dashboardUrl.replace(/\/+$/, "")}/stacks/${encodeURIComponent(stack.name)}`, title: "Plumb dashboard", icon: "dashboard" }];
  return {
    apiVersion: "backstage.io/v1alpha1",
    kind: "Component",
    metadata: {
      name: entityName(stack.name),
      title: stack.name,
      description: `Stack ${stack.name}${stack.environment === null ? "" : ` (${stack.environment})`}, reconciled by Plumb`,
      ...(Object.keys(labels).length === 0 ? {} : { labels }),
      annotations: annotations({
        "plumb.dev/stack": stack.name,
        "plumb.dev/project": stack.project,
        "plumb.dev/environment": stack.environment ?? undefined,
        "plumb.dev/owner": owner,
        "plumb.dev/ato-date": atoDate,
        "plumb.dev/compliance-level": complianceLevel,
        "plumb.dev/cost-center": costCenter,
      }),
      tags: [
        ...new Set([
          "plumb",
          ...(stack.environment === null ? [] : [tag(stack.environment)]),
          ...(complianceLevel === undefined ? [] : [tag(`compliance-${complianceLevel}`)]),
        ]),
      ],
      ...(link.length === 0 ? {} : { links: link }),
    },
    spec: { type: "infrastructure", lifecycle: lifecycleOf(stack.environment), owner: ownerOf(stack), system: `system:default/${entityName(stack.project)}` },
  };
}

function projectEntity(project: string, options: CatalogOptions): BackstageEntity {
  return {
    apiVersion: "backstage.io/v1alpha1",
    kind: "System",
    metadata: {
      name: entityName(project),
      title: project,
      description: `Plumb project ${project}: the stacks it fences`,
      annotations: { "plumb.dev/project": project },
    },
    spec: { owner: options.platformOwner },
  };
}

function compositeEntity(composite: CatalogComposite, options: CatalogOptions): BackstageEntity {
  const group = composite.apiVersion.split("/")[0] ?? composite.apiVersion;
  return {
    apiVersion: "backstage.io/v1alpha1",
    kind: "API",
    metadata: {
      name: entityName(`${composite.kind}-${group}`),
      title: `${composite.kind} (${composite.apiVersion})`,
      description: composite.description === "" ? `Composite kind ${composite.kind}` : composite.description,
      annotations: { "plumb.dev/api-version": composite.apiVersion, "plumb.dev/kind": composite.kind },
      tags: ["plumb", "composite"],
    },
    spec: { type: "plumb-composite", lifecycle: "production", owner: options.platformOwner, definition: JSON.stringify(composite.schema, null, 2) },
  };
}

/** Systems first (what Components point at), then Components, then APIs; each sorted by name, so the same fleet gives the same file. */
export function backstageEntities(stacks: readonly CatalogStack[], composites: readonly CatalogComposite[], options: CatalogOptions): BackstageEntity[] {
  const byName = <Item>(items: Item[], key: (item: Item) => string) => items.sort((left, right) => key(left).localeCompare(key(right)));
  const projects = [...new Set(stacks.map((stack) => stack.project))].sort();
  return [
    ...projects.map((project) => projectEntity(project, options)),
    ...byName([...stacks], (stack) => stack.name).map((stack) => stackEntity(stack, options)),
    ...byName([...composites], (composite) => `${composite.kind} ${composite.apiVersion}`).map((composite) => compositeEntity(composite, options)),
  ];
}

/** One YAML file of documents, as a Backstage catalog location reads it. */
export function backstageYaml(entities: readonly BackstageEntity[]): string {
  return entities.map((entity) => `---\n${stringify(entity, { lineWidth: 0 })}`).join("");
}
