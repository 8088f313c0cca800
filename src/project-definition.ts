// Projects and platform provider instances: the documents that fence a team.
// A Project says which sources, provider instances, kinds, secrets,
// namespaces, databases, roles and composites its stacks may use; a
// ProviderInstance is a connection (with its credentials) declared once by
// the platform and referenced by name, so a team's stack never holds one.

import { Type, type Static } from "@sinclair/typebox";
import { stackApiVersion, stackNamePattern } from "./stack-definition.js";

export const projectKind = "Project";
export const providerInstanceKind = "ProviderInstance";

const patterns = (description: string) => Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { description });

const kindRule = Type.Union([
  Type.String({ minLength: 1, description: "apiVersion/Kind, * for any run of characters: postgres.plumb.dev/v1/*, v1/ConfigMap" }),
  Type.Object(
    {
      kind: Type.String({ minLength: 1, description: "apiVersion/Kind, as in the string form" }),
      fields: Type.Record(Type.String({ pattern: "^/" }), Type.Unknown(), {
        description: "JSON pointers into the spec and the value each must have for the rule to match: { /createrole: true }",
      }),
    },
    { additionalProperties: false },
  ),
]);

export const projectDocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(stackApiVersion),
    kind: Type.Literal(projectKind),
    metadata: Type.Object(
      { name: Type.String({ pattern: stackNamePattern }), labels: Type.Optional(Type.Record(Type.String(), Type.String())) },
      { additionalProperties: false },
    ),
    spec: Type.Object(
      {
        description: Type.Optional(Type.String()),
        privileged: Type.Optional(
          Type.Boolean({ description: "The platform's own project: no fences, and its stacks may declare provider connections inline. Default false." }),
        ),
        sources: Type.Optional(
          Type.Array(
            Type.Object(
              { repo: Type.String({ minLength: 1 }), path: Type.Optional(Type.String({ minLength: 1 })) },
              { additionalProperties: false, description: "A repository URL and a path inside it, both patterns." },
            ),
            { description: "Where its stacks may come from. Default: the platform repository itself, any path." },
          ),
        ),
        providers: Type.Optional(patterns("ProviderInstance names its stacks may use. Default: none.")),
        kinds: Type.Optional(
          Type.Object(
            {
              allow: Type.Optional(Type.Array(kindRule, { description: "Default: every kind." })),
              deny: Type.Optional(Type.Array(kindRule, { description: "Checked after allow. Default: none." })),
            },
            { additionalProperties: false },
          ),
        ),
        secrets: Type.Optional(
          Type.Object(
            {
              stores: Type.Optional(patterns("Secret stores its secret references may name. Default: any.")),
              names: Type.Optional(patterns("Secret names its secret references may name. Default: none.")),
            },
            { additionalProperties: false },
          ),
        ),
        namespaces: Type.Optional(patterns("Kubernetes namespaces its objects may live in (a Namespace by its name). Default: none.")),
        kustomizeRemoteBases: Type.Optional(
          patterns(
            "Repositories (URL patterns) its kustomizations may name as remote bases; Plumb fetches them itself, as Kustomize runs without network. Default: none.",
          ),
        ),
        databases: Type.Optional(patterns("PostgreSQL databases its resources may create or change. Default: none.")),
        roles: Type.Optional(patterns("PostgreSQL roles its resources may create, change or join. Default: none.")),
        composites: Type.Optional(patterns("Composite kinds (Kind or apiVersion/Kind) it may claim. Default: every one the platform defines.")),
        members: Type.Optional(
          Type.Array(
            Type.Object(
              {
                groups: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: "Groups of the identity provider (its groups claim)." }),
                role: Type.Union([Type.Literal("viewer"), Type.Literal("operator"), Type.Literal("admin"), Type.Literal("platform-admin")], {
                  description: "platform-admin is honoured only in a privileged project.",
                }),
              },
              { additionalProperties: false },
            ),
            { description: "Who signs in to this project through single sign-on, and with which role." },
          ),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type ProjectDocument = Static<typeof projectDocumentSchema>;
export type Project = ProjectDocument["spec"] & { name: string };
export type KindRule = Static<typeof kindRule>;
export type MemberRole = NonNullable<Project["members"]>[number]["role"];

export const providerInstanceDocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(stackApiVersion),
    kind: Type.Literal(providerInstanceKind),
    metadata: Type.Object({ name: Type.String({ pattern: stackNamePattern }) }, { additionalProperties: false }),
    spec: Type.Object(
      {
        type: Type.String({ minLength: 1, description: "The provider type, e.g. postgres." }),
        config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type ProviderInstanceDocument = Static<typeof providerInstanceDocumentSchema>;

/** The platform's provider instances by name, each with where it is declared. */
export type ProviderCatalog = Map<string, { type: string; config: Record<string, unknown>; file: string }>;

/** The roles people hold through their identity provider's groups: per project, and platform-admin from a privileged project. */
export function grantsForGroups(projects: Iterable<Project>, groups: readonly string[]): { project: string | null; role: MemberRole }[] {
  const held = new Set(groups);
  const grants: { project: string | null; role: MemberRole }[] = [];
  for (const project of projects)
    for (const member of project.members ?? []) {
      if (!member.groups.some((group) => held.has(group))) continue;
      if (member.role === "platform-admin") {
        if (project.privileged === true) grants.push({ project: null, role: "platform-admin" });
      } else grants.push({ project: project.name, role: member.role });
    }
  return grants;
}

const compiled = new Map<string, RegExp>();

/** A pattern where `*` matches any run of characters and everything else itself. */
export function matchesPattern(pattern: string, value: string): boolean {
  let expression = compiled.get(pattern);
  if (expression === undefined) {
    expression = new RegExp(
      `^${pattern
        .split("*")
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
    );
    compiled.set(pattern, expression);
  }
  return expression.test(value);
}

export function matchesAny(patterns: readonly string[] | undefined, value: string): boolean {
  return (patterns ?? []).some((pattern) => matchesPattern(pattern, value));
}
