// The Stack document: a stack's name, environment, provider
// instances, sync policy and metadata. It may sit in the stack directory itself.

import { Type, type Static } from "@sinclair/typebox";
import { secretReferenceSchema } from "./sdk/secret-reference.js";

export const stackApiVersion = "plumb.dev/v1";
export const stackKind = "Stack";

export const durationSchema = Type.String({ pattern: "^([0-9]+(ms|s|m|h))+$", description: "A duration such as 30s, 5m or 1h30m." });
const duration = durationSchema;
const stringMap = Type.Record(Type.String(), Type.String());
export const stackNamePattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$";

/** Allow and deny windows: a cron schedule (UTC) opens one for a duration. */
export const syncWindowsSchema = Type.Array(
  Type.Object(
    { kind: Type.Union([Type.Literal("allow"), Type.Literal("deny")]), schedule: Type.String({ minLength: 9 }), duration },
    { additionalProperties: false },
  ),
);

export const syncPolicySchema = Type.Object(
  {
    auto: Type.Optional(Type.Boolean({ description: "Apply new commits without a person (agent only)." })),
    prune: Type.Optional(Type.Boolean({ description: "Delete resources that left the stack. Default false." })),
    selfHeal: Type.Optional(Type.Boolean({ description: "Revert drift found between commits (agent only)." })),
    allowEmpty: Type.Optional(Type.Boolean({ description: "Let a render with no resources prune everything. Default false." })),
    interval: Type.Optional(duration),
    driftInterval: Type.Optional(duration),
    healthTimeout: Type.Optional({
      ...duration,
      description: "How long resources may stay Progressing after an apply before the stack is Stalled (HealthTimeout). Default 10m.",
    }),
    preventDrift: Type.Optional(
      Type.Boolean({
        description:
          "Refuse, at the Kubernetes API server's admission, changes to fields this stack manages by anyone but Plumb (agent only; needs the agent's --admission-listen). Default false.",
      }),
    ),
    concurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: "Changes applied at once per provider instance. Default 8." })),
    ignoreDifferences: Type.Optional(
      Type.Array(
        Type.Object(
          {
            apiVersion: Type.Optional(Type.String({ minLength: 1, description: "Only resources of this apiVersion." })),
            kind: Type.Optional(Type.String({ minLength: 1, description: "Only resources of this kind." })),
            name: Type.Optional(Type.String({ minLength: 1, description: "Only the resource of this name." })),
            pointers: Type.Optional(
              Type.Array(Type.String({ pattern: "^/", description: "A JSON pointer from the resource's spec (a plain manifest's root)." }), {
                minItems: 1,
                maxItems: 100,
              }),
            ),
            managers: Type.Optional(
              Type.Array(Type.String({ minLength: 1, maxLength: 128 }), {
                minItems: 1,
                maxItems: 20,
                description: "Field managers (Kubernetes managedFields, e.g. an autoscaler's): the fields one of them owns now are ignored.",
              }),
            ),
          },
          { additionalProperties: false },
        ),
        {
          maxItems: 200,
          description:
            "Fields another writer owns (a mutating webhook, a controller), by kind and name: a difference there is neither a change nor drift. Per resource: the plumb.dev/ignore-differences annotation.",
        },
      ),
    ),
    retry: Type.Optional(
      Type.Object(
        {
          limit: Type.Optional(
            Type.Integer({ minimum: 0, description: "Retries before the stack is Stalled until the next commit or a manual sync; default: retry forever." }),
          ),
          backoff: Type.Optional(
            Type.Object({ duration, factor: Type.Optional(Type.Number({ minimum: 1 })), max: Type.Optional(duration) }, { additionalProperties: false }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    windows: Type.Optional(syncWindowsSchema),
  },
  { additionalProperties: false },
);

export const stackSourceSchema = Type.Object(
  {
    repo: Type.Optional(Type.String({ minLength: 1, description: "Git URL; default: the platform repository itself." })),
    ref: Type.Optional(
      Type.Union([
        Type.String({ minLength: 1 }),
        Type.Object({ branch: Type.String() }, { additionalProperties: false }),
        Type.Object({ tag: Type.String() }, { additionalProperties: false }),
        Type.Object({ semver: Type.String() }, { additionalProperties: false }),
        Type.Object({ commit: Type.String() }, { additionalProperties: false }),
      ]),
    ),
    path: Type.Optional(Type.String({ minLength: 1, description: "Directory of the stack inside the repository; default the root." })),
    secretRef: Type.Optional(secretReferenceSchema),
    verify: Type.Optional(
      Type.Object(
        {
          mode: Type.Union([Type.Literal("ssh"), Type.Literal("gpg")]),
          allowedSignersFile: Type.Optional(Type.String({ minLength: 1 })),
          gnupgHome: Type.Optional(Type.String({ minLength: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const providerInstanceSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, description: "The provider type, e.g. file." }),
    config: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

/** A provider instance the platform declares (a ProviderInstance document), used by name. */
export const providerReferenceSchema = Type.Object(
  { instance: Type.String({ pattern: stackNamePattern, description: "The name of a ProviderInstance in the platform repository." }) },
  { additionalProperties: false },
);

export const stackDocumentSchema = Type.Object(
  {
    apiVersion: Type.Literal(stackApiVersion),
    kind: Type.Literal(stackKind),
    metadata: Type.Object(
      {
        name: Type.String({ pattern: stackNamePattern, description: "Lower-case letters, digits and dashes, at most 63 characters." }),
        labels: Type.Optional(stringMap),
        annotations: Type.Optional(stringMap),
      },
      { additionalProperties: false },
    ),
    spec: Type.Optional(
      Type.Object(
        {
          source: Type.Optional(stackSourceSchema),
          deletionPolicy: Type.Optional(
            Type.Union([Type.Literal("Delete"), Type.Literal("Orphan")], {
              description: "When the Stack leaves the platform repository: Delete its resources, or Orphan them (default: stop managing, leave them).",
            }),
          ),
          environment: Type.Optional(Type.String({ pattern: "^[a-z0-9][a-z0-9_-]{0,62}$" })),
          project: Type.Optional(
            Type.String({
              pattern: stackNamePattern,
              description: "The Project the stack belongs to (set in the platform's Stack document). Default: default.",
            }),
          ),
          providers: Type.Optional(
            Type.Record(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }), Type.Union([providerInstanceSchema, providerReferenceSchema])),
          ),
          sync: Type.Optional(syncPolicySchema),
          kustomize: Type.Optional(
            Type.Object(
              {
                path: Type.String({
                  minLength: 1,
                  maxLength: 500,
                  description:
                    "The directory inside the stack whose kustomization is built, e.g. overlays/${values.environment}. Default: the stack root, when it holds one.",
                }),
              },
              { additionalProperties: false, description: "Build the stack's Kubernetes objects with Kustomize." },
            ),
          ),
          metadata: Type.Optional(stringMap),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export type StackDocument = Static<typeof stackDocumentSchema>;
export type SyncPolicy = Static<typeof syncPolicySchema>;
export type ProviderInstance = Static<typeof providerInstanceSchema>;
export type ProviderReference = Static<typeof providerReferenceSchema>;

export function isProviderReference(declared: ProviderInstance | ProviderReference): declared is ProviderReference {
  return "instance" in declared;
}
export type StackSource = Static<typeof stackSourceSchema>;

/** A Stack with every default filled in. */
export interface StackDefinition {
  name: string;
  labels: Record<string, string>;
  environment: string | undefined;
  providers: Record<string, ProviderInstance>;
  sync: Required<Pick<SyncPolicy, "prune" | "allowEmpty" | "concurrency">> & SyncPolicy;
  metadata: Record<string, string>;
  source: StackSource | undefined;
  deletionPolicy: "Delete" | "Orphan";
}

/**
 * Fills in defaults. An environment chosen on the command line that differs
 * from the one the Stack declares makes a separate stack, `<name>-<env>`, so
 * applying prod never takes over the state of dev.
 */
export function completeStackDefinition(
  document: StackDocument | undefined,
  fallbackName: string,
  environment: string | undefined,
  /** The instances with references to the platform's resolved; default: the inline ones. */
  providers?: Record<string, ProviderInstance>,
): StackDefinition {
  const spec = document?.spec ?? {};
  const baseName = document?.metadata.name ?? fallbackName;
  const overridden = environment !== undefined && environment !== spec.environment;
  return {
    name: overridden ? `${baseName}-${environment}`.slice(0, 63).replace(/-+$/, "") : baseName,
    labels: document?.metadata.labels ?? {},
    environment: environment ?? spec.environment,
    providers:
      providers ??
      Object.fromEntries(Object.entries(spec.providers ?? {}).flatMap(([name, declared]) => (isProviderReference(declared) ? [] : [[name, declared]]))),
    sync: { prune: false, allowEmpty: false, concurrency: 8, ...spec.sync },
    metadata: spec.metadata ?? {},
    source: spec.source,
    deletionPolicy: spec.deletionPolicy ?? "Orphan",
  };
}

/** A stack name derived from a directory name, for stacks without a Stack document. */
export function stackNameFromDirectory(directoryName: string): string {
  const cleaned = directoryName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63)
    .replace(/-+$/g, "");
  return cleaned === "" ? "stack" : cleaned;
}
