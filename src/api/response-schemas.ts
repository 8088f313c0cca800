// The response bodies of the API's read routes as schemas: Fastify serialises
// each answer through them, the OpenAPI document describes them, and the
// dashboard takes its types from them (Static<…>), so the three cannot drift.

import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { stackSummary } from "./schemas.js";
import { tokenRoles } from "../state/store.js";

const nullable = <Schema extends TSchema>(schema: Schema) => Type.Union([schema, Type.Null()]);
const count = Type.Integer({ minimum: 0 });

/** GET /api/v1/stacks */
export const stackList = Type.Object({
  total: count,
  items: Type.Array(stackSummary),
  facets: Type.Object({
    environments: Type.Array(Type.String()),
    teams: Type.Array(Type.String()),
    stackSets: Type.Array(Type.String()),
    states: Type.Record(Type.String(), count),
  }),
  problems: Type.Array(Type.String(), { description: "The platform's problems and every stack whose definition is unusable." }),
});
export type StackList = Static<typeof stackList>;

export const resourceItem = Type.Object({
  address: Type.String(),
  apiVersion: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  provider: Type.String(),
  status: Type.Union([Type.Literal("Synced"), Type.Literal("Failed")]),
  health: Type.Union([Type.Literal("Healthy"), Type.Literal("Progressing"), Type.Literal("Degraded"), Type.Literal("Unknown")]),
  drift: nullable(Type.Array(Type.String(), { description: "The drifted fields (JSON pointers), or (missing), while the drift is live." })),
  healed: nullable(Type.Array(Type.String(), { description: "The fields that drifted and were put back at the last drift check." })),
  spec: Type.Unknown({ description: "The spec applied last, secrets as references." }),
  dependsOn: Type.Array(Type.String()),
  composite: nullable(Type.String({ description: "The claim it was composed from." })),
  wave: Type.Optional(Type.Integer({ description: "Its plumb.dev/sync-wave, when not 0." })),
  updatedAt: Type.String(),
});
export type ResourceItem = Static<typeof resourceItem>;

export const claimItem = Type.Object({
  address: Type.String(),
  apiVersion: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  spec: Type.Unknown(),
  composite: nullable(Type.String()),
  children: Type.Array(Type.String()),
  origin: Type.Object({ file: Type.String(), document: Type.Optional(Type.Integer()), line: Type.Optional(Type.Integer()) }),
  ready: Type.Boolean(),
  reason: Type.String({ description: "Why it is not ready; empty when it is." }),
});
export type ClaimItem = Static<typeof claimItem>;

/** GET /api/v1/stacks/:stack/resources */
export const resourceList = Type.Object({ items: Type.Array(resourceItem), claims: Type.Array(claimItem) });

export const planSummary = Type.Object({
  create: count,
  update: count,
  replace: count,
  delete: count,
  orphan: count,
  retain: count,
  noop: count,
});

export const runItem = Type.Object({
  id: Type.String(),
  stack: Type.String(),
  trigger: Type.String({ description: "cli, poll, webhook, api, drift, rollback or platform." }),
  revision: nullable(Type.String()),
  digest: Type.String(),
  environment: nullable(Type.String()),
  planSummary: nullable(planSummary),
  result: Type.Union([Type.Literal("running"), Type.Literal("succeeded"), Type.Literal("failed"), Type.Literal("interrupted")]),
  error: nullable(Type.String()),
  startedAt: Type.String(),
  finishedAt: nullable(Type.String()),
  actor: nullable(Type.String()),
});
export type RunItem = Static<typeof runItem>;

/** GET /api/v1/runs and /api/v1/stacks/:stack/runs */
export const runList = Type.Object({ items: Type.Array(runItem) });

export const planChange = Type.Object({
  address: Type.String(),
  apiVersion: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  provider: Type.String(),
  action: Type.Union(["create", "update", "replace", "delete", "orphan", "retain", "noop"].map((action) => Type.Literal(action))),
  reason: Type.String(),
  diffs: Type.Array(
    Type.Object({
      path: Type.String(),
      before: Type.Optional(Type.Unknown()),
      after: Type.Optional(Type.Unknown()),
      forcesReplacement: Type.Boolean(),
      drift: Type.Boolean(),
    }),
  ),
  dependsOn: Type.Array(Type.String()),
  ignored: Type.Optional(Type.Array(Type.String(), { description: "Fields that differ and are ignored, each with the rule that says so." })),
  wave: Type.Optional(Type.Integer({ description: "plumb.dev/sync-wave, when not 0: lower waves are applied and healthy first." })),
  prune: Type.Boolean(),
  deletionPolicy: Type.String(),
  drift: Type.Boolean(),
  recordStale: Type.Boolean(),
  liveHash: nullable(Type.String()),
});
export type PlanChange = Static<typeof planChange>;

/** GET /api/v1/stacks/:stack/plan */
export const planPreview = Type.Object({
  revision: nullable(Type.String()),
  summary: planSummary,
  warnings: Type.Array(Type.String()),
  changes: Type.Array(planChange),
});

export const auditEntry = Type.Object({
  sequence: Type.Integer({ minimum: 1 }),
  at: Type.String(),
  kind: Type.String(),
  actor: Type.String(),
  stack: Type.String(),
  resource: nullable(Type.String()),
  commit: nullable(Type.String()),
  author: nullable(Type.String()),
  commitMessage: nullable(Type.String()),
  summary: Type.Unknown({ description: "What changed, field by field, secret values replaced by [redacted]." }),
  previousHash: Type.String(),
  hash: Type.String(),
});
export type AuditEntry = Static<typeof auditEntry>;

/** GET /api/v1/audit */
export const auditList = Type.Object({ items: Type.Array(auditEntry) });

/** GET /api/v1/session */
const tokenRole = Type.Union(tokenRoles.map((role) => Type.Literal(role)));
export const session = Type.Object({
  name: Type.String(),
  /** A token, or a person signed in through single sign-on (a cookie session). */
  kind: Type.Union([Type.Literal("token"), Type.Literal("user")]),
  /** The highest role held, for display. */
  role: tokenRole,
  /** The one project of a token; null: every project, or several. */
  project: Type.Union([Type.String(), Type.Null()]),
  /** Every role held, project by project (null: every project). */
  grants: Type.Array(Type.Object({ project: Type.Union([Type.String(), Type.Null()]), role: tokenRole })),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  /** A cookie session's anti-forgery token, for the x-csrf-token header of every request that changes something. */
  csrfToken: Type.Optional(Type.String()),
});
export type Session = Static<typeof session>;

const nullableText = Type.Union([Type.String(), Type.Null()]);
/** A token as the API lists it: never its value or hash. */
export const tokenView = Type.Object({
  name: Type.String(),
  role: tokenRole,
  project: nullableText,
  createdAt: Type.String(),
  createdBy: nullableText,
  expiresAt: nullableText,
  lastUsedAt: nullableText,
  revokedAt: nullableText,
});
export const tokenList = Type.Object({ items: Type.Array(tokenView) });
