// The agent's HTTP server: the REST API under /api/v1 (validated with the same
// schemas its OpenAPI document is generated from), the event stream, the Git
// webhook receiver, health and Prometheus metrics.

import { compositesMarkdown, documentComposite } from "../render/composite-docs.js";
import { packageRoot } from "../render/sandbox.js";
import type { RenderedClaim } from "../render/programs.js";
import { redactor } from "../secrets/redaction.js";
import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { existsSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import fastifyStatic from "@fastify/static";
import swagger from "@fastify/swagger";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { notCheckedStatus, type Agent, type AgentNotice } from "../agent/agent.js";
import type { AgentMetrics } from "../agent/metrics.js";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import { auditExportFormats, auditExportLines } from "../state/audit-export.js";
import { auditKinds } from "../state/audit.js";
import type { ApiToken, AuditFilter, StackStatus, TokenRole } from "../state/store.js";
import type { JsonObject } from "../sdk/resource.js";
import { reportCsv, reportMarkdown } from "../policy/report.js";
import { environmentMatrix } from "./environment-matrix.js";
import { conditionFilters, filterStacks, sortKeys, sortStacks, stackFacets, stackState, stackStates } from "./stack-list.js";
import { createToken, hashToken } from "./tokens.js";
import { readPush, verifyWebhook } from "./webhooks.js";

export interface ServerOptions {
  agent: Agent;
  metrics: AgentMetrics;
  logger: Logger;
  /** Shared secret for webhook signatures; webhooks are refused without one. */
  webhookSecret: string | undefined;
  version: string;
}

const maxWebhookBytes = 1024 * 1024;

declare module "fastify" {
  interface FastifyRequest {
    token?: ApiToken;
  }
}

const stackName = Type.Object({ stack: Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }) });
const errorBody = Type.Object({ code: Type.String(), message: Type.String(), hint: Type.Optional(Type.String()) });
const condition = Type.Object({ type: Type.String(), status: Type.String(), reason: Type.String(), message: Type.String(), lastTransitionTime: Type.String() });
const stackSummary = Type.Object({
  name: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  environment: Type.Union([Type.String(), Type.Null()]),
  suspended: Type.Boolean(),
  conditions: Type.Array(condition),
  lastAppliedRevision: Type.Union([Type.String(), Type.Null()]),
  lastAttemptedRevision: Type.Union([Type.String(), Type.Null()]),
  drift: Type.Union([Type.Object({ checkedAt: Type.String(), resources: Type.Record(Type.String(), Type.Array(Type.String())), healed: Type.Boolean() }), Type.Null()]),
  state: Type.Union(stackStates.map((state) => Type.Literal(state)), { description: "One word for the stack: the most pressing of its conditions." }),
  updatedAt: Type.Union([Type.String(), Type.Null()], { description: "When the agent last wrote this stack's status; null before its first look." }),
  source: Type.Object({ file: Type.String(), repo: Type.Optional(Type.String()), path: Type.Optional(Type.String()) }),
});
/** A stack as the API reports it; clients (the CLI, tests) read the same type. */
export type StackSummary = Static<typeof stackSummary>;

const listQuery = Type.Object({
  q: Type.Optional(Type.String({ maxLength: 200, description: "Substring of the stack name, case-insensitive." })),
  label: Type.Optional(Type.String({ maxLength: 200, pattern: "^[^=]+=[^=]*$", description: "key=value" })),
  team: Type.Optional(Type.String({ maxLength: 200, description: "The team label's value." })),
  environment: Type.Optional(Type.String({ maxLength: 200 })),
  condition: Type.Optional(Type.Union(conditionFilters.map((condition) => Type.Literal(condition)))),
  state: Type.Optional(Type.Union(stackStates.map((state) => Type.Literal(state)))),
  sort: Type.Optional(Type.Union(sortKeys.map((key) => Type.Literal(key)), { default: "name", description: "state sorts what needs a person first (Stalled, Degraded, Drifted, …, Ready last)." })),
  order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")], { default: "asc" })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
});
const limitQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })) });
/** Every error answer: the code, status and hint of src/errors.ts; `status` only for Fastify's own refusals. */
function sendError(reply: FastifyReply, error: PlumbError, status = error.status): FastifyReply {
  return reply.status(status).send({ code: error.code, message: error.message, ...(error.hint === undefined ? {} : { hint: error.hint }) });
}

interface ValidationProblem {
  instancePath?: string;
  message?: string;
  params?: { allowedValues?: unknown[]; allowedValue?: unknown; additionalProperty?: string };
}

/** A request that failed its schema, said as what is wrong where, with the allowed values when there is a list. */
function validationMessage(error: { validation: ValidationProblem[]; validationContext?: string; message?: string }): string {
  const first = error.validation[0];
  if (first === undefined) return error.message ?? "invalid request";
  const where = `${error.validationContext ?? "request"}${first.instancePath === undefined || first.instancePath === "" ? "" : first.instancePath.replaceAll("/", ".")}`;
  const allowed = first.params?.allowedValues ?? (first.params?.allowedValue === undefined ? undefined : [first.params.allowedValue]);
  const extra = first.params?.additionalProperty === undefined ? "" : ` (${JSON.stringify(first.params.additionalProperty)})`;
  return `${where} ${first.message ?? "is invalid"}${extra}${allowed === undefined ? "" : `: ${allowed.map((value) => JSON.stringify(value)).join(", ")}`}`;
}

/**
 * The dashboard loads only its own scripts, styles and API: no inline script,
 * no framing, no other origins; responses are never sniffed into another type.
 */
export const securityHeaders = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
} as const;

const overrideField = Type.Optional(Type.Boolean({ description: "Apply although the stack is suspended or a deny window is open; recorded on the audit trail." }));
const rollbackBody = Type.Object({ revision: Type.String({ minLength: 7, maxLength: 64, pattern: "^[0-9a-f]+$", description: "A commit (or render digest) that was applied before." }), override: overrideField }, { additionalProperties: false });
const syncBody = Type.Union([Type.Object({ override: overrideField }, { additionalProperties: false }), Type.Null()]);
const tokenBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9._-]+$" }), role: Type.Unsafe<"admin" | "read">({ type: "string", enum: ["admin", "read"], description: "admin: read and act; read: read only." }) }, { additionalProperties: false });
const accepted = Type.Object({ accepted: Type.Boolean(), message: Type.String() });

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { agent, metrics } = options;
  const store = agent.store;
  const app: FastifyInstance = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, bodyLimit: 64 * 1024, logController: new LogController({ disableRequestLogging: true }), ajv: { customOptions: { coerceTypes: true, removeAdditional: false } } });
  await app.register(swagger, {
    openapi: {
      info: { title: "Plumb API", version: options.version, description: "Stacks, resources, runs, events and actions of a Plumb agent." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof PlumbError) return sendError(reply, error);
    if (error instanceof PlumbErrorList) return sendError(reply, new PlumbError("PLUMB_INVALID", error.errors.map((item) => item.describe()).join("\n")));
    const fastifyError = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
    if (fastifyError.validation !== undefined) return sendError(reply, new PlumbError("PLUMB_USAGE", validationMessage(fastifyError as { validation: ValidationProblem[]; validationContext?: string; message?: string }), { hint: "see /api/v1/openapi.json for the request shape" }));
    // Fastify's own refusals (an oversize body, an unknown media type) keep their status.
    if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      return sendError(reply, new PlumbError("PLUMB_USAGE", fastifyError.message ?? "bad request"), fastifyError.statusCode);
    }
    request.log.error({ err: errorMessage(error) }, "request failed");
    return sendError(reply, new PlumbError("PLUMB_INTERNAL", "internal error; the agent's log has the details"));
  });

  // Coercing "1e309" from a query string gives Infinity, which passes "integer" and every bound after it.
  app.addHook("preHandler", async (request, reply) => {
    const query = request.query as Record<string, unknown> | undefined;
    for (const [name, value] of Object.entries(query ?? {})) {
      if (typeof value === "number" && !Number.isFinite(value)) {
        return sendError(reply, new PlumbError("PLUMB_USAGE", `querystring.${name} must be a finite number`, { hint: "see /api/v1/openapi.json for the request shape" }));
      }
    }
  });

  app.setNotFoundHandler(async (request, reply) =>
    sendError(reply, new PlumbError("PLUMB_NOT_FOUND", `no route ${request.method} ${request.url.split("?")[0]?.slice(0, 200) ?? ""}`, { hint: "the API is under /api/v1; /api/v1/openapi.json lists its routes" })),
  );

  // Every answer, refusals and the dashboard's files included, carries the browser protections.
  app.addHook("onRequest", async (_request, reply) => {
    reply.headers(securityHeaders);
  });

  // The API needs a bearer token; health, metrics, the (signature-checked) webhook and the dashboard's static files do not.
  // Every response body passes the redaction layer, errors included.
  app.addHook("onSend", async (_request, _reply, payload) => (typeof payload === "string" ? redactor.redact(payload) : payload));

  app.addHook("onRequest", async (request, reply) => {
    if (!request.url.startsWith("/api/")) return;
    const header = request.headers.authorization;
    const token = typeof header === "string" && header.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
    const found = token === undefined || token === "" ? undefined : await store.findToken(hashToken(token));
    if (found === undefined) {
      await sendError(reply.header("www-authenticate", "Bearer"), new PlumbError("PLUMB_UNAUTHORIZED", "a valid bearer token is required", { hint: "send Authorization: Bearer <token>; the first start of the agent printed an admin token" }));
      return reply;
    }
    request.token = found;
  });

  app.get("/api/v1/session", { schema: { summary: "The calling token's name and role, for clients that show or hide actions" } }, async (request) => ({ name: request.token?.name ?? "", role: request.token?.role ?? "read" }));

  await serveDashboard(app);

  const requireRole = (role: TokenRole) => async (request: FastifyRequest, reply: FastifyReply) => {
    if (role === "admin" && request.token?.role !== "admin") {
      await sendError(reply, new PlumbError("PLUMB_FORBIDDEN", `token "${request.token?.name ?? ""}" is read-only`, { hint: "use a token with the admin role for actions" }));
      return reply;
    }
  };

  const knownStack = (name: string): void => {
    if (!agent.hasStack(name)) throw new PlumbError("PLUMB_NOT_FOUND", `no stack named ${name}`, { hint: "GET /api/v1/stacks lists the stacks this agent manages" });
  };

  /** `recorded` undefined: the agent has not looked at the stack yet. */
  const summary = (name: string, recorded: StackStatus | undefined): Static<typeof stackSummary> => {
    const status = recorded ?? notCheckedStatus(name);
    const platform = agent.platformStack(name);
    const document = platform?.document;
    const source = document?.spec?.source;
    return {
      name,
      labels: document?.metadata.labels ?? {},
      environment: agent.stackEnvironment(name),
      suspended: status.suspended,
      conditions: status.conditions,
      lastAppliedRevision: status.lastAppliedRevision,
      lastAttemptedRevision: status.lastAttemptedRevision,
      drift: status.drift,
      state: stackState(status),
      updatedAt: recorded?.updatedAt ?? null,
      source: { file: platform?.file ?? "", ...(source?.repo === undefined ? {} : { repo: source.repo }), ...(source?.path === undefined ? {} : { path: source.path }) },
    };
  };

  /** Every stack's summary from one query for all statuses; stacks not looked at yet get theirs without another. */
  const everySummary = async (): Promise<Static<typeof stackSummary>[]> => {
    const statuses = new Map((await store.listStackStatuses()).map((status) => [status.stack, status]));
    return agent.stackNames().map((name) => summary(name, statuses.get(name)));
  };

  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => (agent.stackNames().length > 0 || agent.problems().length > 0 ? { status: "ready" } : reply.status(503).send({ status: "starting" })));
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    metrics.queueDepth.set(agent.queueDepth());
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  app.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  app.get<{ Querystring: Static<typeof listQuery> }>(
    "/api/v1/stacks",
    {
      schema: {
        summary: "List stacks with filters, sorting and paging",
        querystring: listQuery,
        response: { 200: Type.Object({ total: Type.Integer(), items: Type.Array(stackSummary), facets: Type.Object({ environments: Type.Array(Type.String()), teams: Type.Array(Type.String()), states: Type.Record(Type.String(), Type.Integer()) }), problems: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const { limit = 50, offset = 0, sort, order, ...filters } = request.query;
      const all = await everySummary();
      const sorted = sortStacks(filterStacks(all, filters), sort, order);
      return { total: sorted.length, items: sorted.slice(offset, offset + limit), facets: stackFacets(all), problems: agent.problems().map((problem) => problem.describe()) };
    },
  );

  const matrixQuery = Type.Object({ q: Type.Optional(Type.String({ maxLength: 200, description: "Substring of the application's name, case-insensitive." })) });
  app.get<{ Querystring: Static<typeof matrixQuery> }>("/api/v1/environments", { schema: { summary: "Applications × environments: the stack, revision and state in each cell (the app label, else the stack name without -<environment>)", querystring: matrixQuery } }, async (request) => {
    return environmentMatrix(await everySummary(), request.query.q);
  });

  app.get<{ Params: Static<typeof stackName> }>("/api/v1/stacks/:stack", { schema: { summary: "One stack with its conditions", params: stackName, response: { 200: stackSummary, 404: errorBody } } }, async (request) => {
    knownStack(request.params.stack);
    return summary(request.params.stack, await store.getStackStatus(request.params.stack));
  });

  app.get<{ Params: Static<typeof stackName> }>("/api/v1/stacks/:stack/resources", { schema: { summary: "Resources with status, health and drift", params: stackName } }, async (request) => {
    const name = request.params.stack;
    knownStack(name);
    const [records, status, tree] = await Promise.all([store.listResources(name), agent.status(name), agent.resourceTree(name)]);
    const items = records.map((record) => ({
      address: record.address,
      apiVersion: record.apiVersion,
      kind: record.kind,
      name: record.name,
      provider: record.provider,
      status: record.status,
      health: record.health,
      drift: status.drift?.resources[record.address] ?? null,
      spec: record.appliedSpec,
      dependsOn: record.dependsOn,
      composite: tree.compositeOf.get(record.address) ?? null,
      updatedAt: record.updatedAt,
    }));
    return { items, claims: claimReadiness(tree.claims, items) };
  });

  app.get("/api/v1/composites", { schema: { summary: "The platform's composite kinds, documented from their schemas" } }, async () => ({ items: agent.compositeKinds().map(documentComposite) }));

  app.get("/api/v1/composites.md", { schema: { summary: "The same documentation as Markdown (what plumb docs prints)" } }, async (_request, reply) => {
    return reply.type("text/markdown; charset=utf-8").send(compositesMarkdown(agent.compositeKinds()));
  });

  app.get<{ Params: Static<typeof stackName> }>("/api/v1/stacks/:stack/plan", { schema: { summary: "Plan preview: desired (last applied render) against live state, field by field", params: stackName } }, async (request) => {
    const name = request.params.stack;
    knownStack(name);
    const preview = await agent.previewPlan(name);
    if (preview === undefined) throw new PlumbError("PLUMB_NOT_FOUND", `stack ${name} has not been applied yet`, { hint: `wait for its first sync, or POST /api/v1/stacks/${name}/sync` });
    const { plan, revision } = preview;
    return { revision, summary: plan.summary, warnings: plan.warnings, changes: plan.changes.filter((change) => change.action !== "noop").map(({ desiredSpec: _desired, targetSpec: _target, ...change }) => change) };
  });

  app.get<{ Params: Static<typeof stackName>; Querystring: Static<typeof limitQuery> }>("/api/v1/stacks/:stack/runs", { schema: { summary: "Runs, newest first", params: stackName, querystring: limitQuery } }, async (request) => {
    knownStack(request.params.stack);
    return { items: await store.listRuns(request.params.stack, request.query.limit ?? 100) };
  });

  app.get<{ Params: Static<typeof stackName> & { run: string } }>(
    "/api/v1/stacks/:stack/runs/:run",
    { schema: { summary: "One run with its journal", params: Type.Intersect([stackName, Type.Object({ run: Type.String({ format: "uuid" }) })]) } },
    async (request) => {
      knownStack(request.params.stack);
      const run = (await store.listRuns(request.params.stack, 1000)).find((item) => item.id === request.params.run);
      if (run === undefined) throw new PlumbError("PLUMB_NOT_FOUND", `no run ${request.params.run} in stack ${request.params.stack}`);
      const journal = await store.listJournal(request.params.stack, run.id);
      return { run, changes: journal.map((entry) => ({ address: entry.address, action: entry.action, state: entry.state, outcome: entry.outcome, at: entry.updatedAt })) };
    },
  );

  app.get<{ Params: Static<typeof stackName>; Querystring: Static<typeof limitQuery> }>("/api/v1/stacks/:stack/events", { schema: { summary: "Events, newest first", params: stackName, querystring: limitQuery } }, async (request) => {
    knownStack(request.params.stack);
    return { items: await store.listEvents(request.params.stack, request.query.limit ?? 100) };
  });

  const action = (route: string, description: string, run: (name: string, actor: string, body: unknown) => Promise<string> | string, body?: TSchema) =>
    app.post<{ Params: Static<typeof stackName> }>(route, { preHandler: requireRole("admin"), schema: { summary: description, params: stackName, ...(body === undefined ? {} : { body }), response: { 202: accepted, 403: errorBody, 404: errorBody } } }, async (request, reply) => {
      knownStack(request.params.stack);
      const actor = request.token?.name ?? "unknown";
      const message = await run(request.params.stack, actor, request.body);
      await store.appendAudit([{ kind: "action", actor, stack: request.params.stack, resource: null, commit: null, author: null, commitMessage: null, summary: { action: route.split("/").pop() ?? route, ...(typeof request.body === "object" && request.body !== null ? (request.body as JsonObject) : {}) } }]);
      return reply.status(202).send({ accepted: true, message });
    });
  action(
    "/api/v1/stacks/:stack/sync",
    "Run the commit loop now and apply what it plans; a suspended stack or an open deny window holds it unless override is true",
    (name, actor, body) => {
      const override = (body as Static<typeof syncBody> | undefined)?.override === true;
      agent.requestSync(name, "api", actor, true, override);
      return `sync of ${name} queued${override ? " (overriding suspension and sync windows)" : ""}`;
    },
    syncBody,
  );
  action("/api/v1/stacks/:stack/refresh", "Re-read live state and compare now; drift is healed only where selfHeal would heal it", (name, actor) => {
    agent.requestRefresh(name, actor);
    return `drift check of ${name} queued`;
  });
  action("/api/v1/stacks/:stack/suspend", "Stop automatic applies", async (name, actor) => {
    await agent.setSuspended(name, true, actor);
    return `${name} suspended`;
  });
  action("/api/v1/stacks/:stack/resume", "Resume automatic applies", async (name, actor) => {
    await agent.setSuspended(name, false, actor);
    return `${name} resumed`;
  });
  action(
    "/api/v1/stacks/:stack/rollback",
    "Re-apply the recorded render of an earlier revision; automatic sync stays suspended until resumed",
    (name, actor, body) => {
      const { revision, override } = body as Static<typeof rollbackBody>;
      agent.requestRollback(name, revision, actor, override === true);
      return `rollback of ${name} to ${revision} queued`;
    },
    rollbackBody,
  );

  const auditFilters = {
    stack: Type.Optional(Type.String({ maxLength: 63 })),
    resource: Type.Optional(Type.String({ maxLength: 600 })),
    kind: Type.Optional(Type.Union(auditKinds.map((kind) => Type.Literal(kind)))),
    actor: Type.Optional(Type.String({ maxLength: 200, description: "A token's name, agent, or cli:<user>." })),
    since: Type.Optional(Type.String({ format: "date-time", description: "ISO date-time: events at or after it." })),
    until: Type.Optional(Type.String({ format: "date-time", description: "ISO date-time: events before it." })),
  };
  type AuditFilterQuery = { [K in keyof typeof auditFilters]?: string };
  const storeFilter = (query: AuditFilterQuery): Omit<AuditFilter, "limit"> => {
    const filter: Omit<AuditFilter, "limit"> = {};
    for (const key of ["stack", "resource", "kind", "actor"] as const) if (query[key] !== undefined) filter[key] = query[key];
    for (const key of ["since", "until"] as const) if (query[key] !== undefined) filter[key] = new Date(query[key]).toISOString();
    return filter;
  };
  const auditQuery = Type.Object({
    ...auditFilters,
    after: Type.Optional(Type.Integer({ minimum: 0, description: "Only events after this sequence number (paging in chain order)." })),
    before: Type.Optional(Type.Integer({ minimum: 0, description: "Only events before this sequence number (paging newest first)." })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
    order: Type.Optional(Type.Union([Type.Literal("chain"), Type.Literal("newest")], { default: "chain", description: "chain: oldest first (for export and paging with after); newest: the latest first." })),
  });
  app.get<{ Querystring: Static<typeof auditQuery> }>("/api/v1/audit", { schema: { summary: "The audit trail in chain order (or newest first), with filters", querystring: auditQuery } }, async (request) => {
    const { after, before, limit = 200, order } = request.query;
    const items = await store.listAudit({ ...storeFilter(request.query), limit, newestFirst: order === "newest", ...(after === undefined ? {} : { afterSequence: after }), ...(before === undefined ? {} : { beforeSequence: before }) });
    return { items };
  });

  const auditExportQuery = Type.Object({ ...auditFilters, format: Type.Optional(Type.Union(auditExportFormats.map((format) => Type.Literal(format)), { default: "jsonl" })) });
  app.get<{ Querystring: Static<typeof auditExportQuery> }>("/api/v1/audit/export", { schema: { summary: "Every matching audit event, oldest first, as JSON lines or CSV (what plumb audit export writes)", querystring: auditExportQuery } }, async (request, reply) => {
    const format = request.query.format ?? "jsonl";
    const lines = auditExportLines(store, storeFilter(request.query), format);
    // Streamed bodies skip the onSend hook, so each line passes the redaction layer here.
    const body = Readable.from((async function* () {
      for await (const line of lines) yield redactor.redact(line);
    })());
    return reply
      .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8")
      .header("content-disposition", `attachment; filename="audit.${format}"`)
      .send(body);
  });

  const dailyQuery = Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) });
  app.get<{ Querystring: Static<typeof dailyQuery> }>("/api/v1/audit/daily", { schema: { summary: "Audit events per UTC day and kind over the last days (drift found and healed over time)", querystring: dailyQuery } }, async (request) => {
    const days = request.query.days ?? 30;
    const since = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
    return { since, items: await store.countAuditByDay(since) };
  });

  app.get<{ Querystring: Static<typeof limitQuery> }>("/api/v1/runs", { schema: { summary: "The latest runs of every stack, newest first", querystring: limitQuery } }, async (request) => {
    return { items: await store.listRuns(undefined, request.query.limit ?? 100) };
  });

  const complianceQuery = Type.Object({
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 30, description: "ATO dates within this many days count as expiring." })),
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv"), Type.Literal("md")], { default: "json" })),
  });
  app.get<{ Querystring: Static<typeof complianceQuery> }>("/api/v1/compliance", { schema: { summary: "The compliance report: inventory, ATO dates, missing metadata, violations, drift, health", querystring: complianceQuery } }, async (request, reply) => {
    const report = await agent.complianceReport(request.query.days ?? 30);
    if (request.query.format === "csv") return reply.type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="compliance.csv"').send(reportCsv(report));
    if (request.query.format === "md") return reply.type("text/markdown; charset=utf-8").send(reportMarkdown(report));
    return report;
  });

  app.post<{ Body: Static<typeof tokenBody> }>("/api/v1/tokens", { preHandler: requireRole("admin"), schema: { summary: "Create a token; its value is shown only in this response", body: tokenBody } }, async (request, reply) => {
    const { token, record } = await createToken(store, request.body.name, request.body.role).catch((error: unknown) => {
      throw /unique|constraint/i.test(errorMessage(error)) ? new PlumbError("PLUMB_USAGE", `a token named ${request.body.name} exists`, { hint: "choose another name" }) : error;
    });
    await store.appendAudit([{ kind: "action", actor: request.token?.name ?? "unknown", stack: "(api)", resource: null, commit: null, author: null, commitMessage: null, summary: { action: "token.create", name: record.name, role: record.role } }]);
    return reply.status(201).send({ ...record, token });
  });

  app.get<{ Querystring: { stack?: string } }>("/api/v1/events", { schema: { summary: "Server-sent events: status changes and events as they happen", querystring: Type.Object({ stack: Type.Optional(Type.String({ maxLength: 63 })) }) } }, (request, reply) => {
    reply.hijack();
    const response = reply.raw;
    response.writeHead(200, { ...securityHeaders, "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    response.write(": connected\n\n");
    const wanted = request.query.stack;
    const listener = (notice: AgentNotice) => {
      const stack = notice.type === "status" ? notice.status.stack : notice.event.stack;
      if (wanted !== undefined && stack !== wanted) return;
      response.write(`event: ${notice.type}\ndata: ${redactor.redact(JSON.stringify(notice.type === "status" ? notice.status : notice.event))}\n\n`);
    };
    agent.notices.on("notice", listener);
    const heartbeat = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
    request.raw.on("close", () => {
      clearInterval(heartbeat);
      agent.notices.off("notice", listener);
    });
  });

  // Webhooks: raw bytes in, capped, signature checked before any parsing.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: maxWebhookBytes }, (_request, body, done) => done(null, body));
    scope.post("/hooks/git", { schema: { hide: true } }, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (options.webhookSecret === undefined) return sendError(reply, new PlumbError("PLUMB_UNAUTHORIZED", "webhooks are not enabled on this agent", { hint: "start the agent with PLUMB_WEBHOOK_SECRET set" }));
      const verdict = verifyWebhook(request.headers, body, options.webhookSecret);
      if (!verdict.ok) return sendError(reply, new PlumbError("PLUMB_UNAUTHORIZED", verdict.reason));
      const event = request.headers["x-github-event"] ?? request.headers["x-gitea-event"] ?? request.headers["x-gitlab-event"];
      if (event === "ping") return reply.status(200).send({ accepted: true, triggered: [] });
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString("utf8"));
      } catch {
        return sendError(reply, new PlumbError("PLUMB_USAGE", "the webhook body is not JSON", { hint: "configure the webhook to send application/json" }));
      }
      const push = readPush(payload);
      if (push === undefined) return reply.status(202).send({ accepted: true, triggered: [], message: "not a push event; nothing to do" });
      const triggered = [...new Set(push.repositoryUrls.flatMap((url) => agent.notifyPush(url, push.ref)))];
      request.log.info({ sender: verdict.sender, ref: push.ref, triggered }, "webhook");
      return reply.status(202).send({ accepted: true, triggered });
    });
  });

  return app;
}

interface TreeItem {
  address: string;
  status: string;
  health: string;
  drift: unknown;
}

/**
 * A claim is Ready when every resource it composed (through nested claims too)
 * is recorded, Synced, Healthy and without drift, as Crossplane reports a
 * composite ready when its composed resources are.
 */
export function claimReadiness(claims: readonly RenderedClaim[], items: readonly TreeItem[]): (RenderedClaim & { ready: boolean; reason: string })[] {
  const byAddress = new Map(items.map((item) => [item.address, item]));
  const claimByAddress = new Map(claims.map((claim) => [claim.address, claim]));
  const notReady = (claim: RenderedClaim): string | undefined => {
    for (const child of claim.children) {
      const nested = claimByAddress.get(child);
      if (nested !== undefined) {
        const reason = notReady(nested);
        if (reason !== undefined) return reason;
        continue;
      }
      const item = byAddress.get(child);
      if (item === undefined) return `${child} is not applied yet`;
      if (item.status !== "Synced") return `${child} is ${item.status}`;
      if (item.health !== "Healthy") return `${child} is ${item.health}`;
      if (item.drift !== null) return `${child} has drifted`;
    }
    return undefined;
  };
  return claims.map((claim) => {
    const reason = notReady(claim);
    return { ...claim, ready: reason === undefined, reason: reason ?? `all ${claim.children.length} composed resources are ready` };
  });
}

/**
 * The dashboard: the files `npm run build` puts in dist/web, served at `/`.
 * They hold no data; everything they show comes from the API with the token
 * the user types in.
 */
async function serveDashboard(app: FastifyInstance): Promise<void> {
  const root = path.join(packageRoot(), "dist", "web");
  if (!existsSync(path.join(root, "index.html"))) {
    app.get("/", async (_request, reply) => reply.status(404).type("text/plain").send("The dashboard is not built: run npm run build.\n"));
    return;
  }
  await app.register(fastifyStatic, { root, prefix: "/", index: ["index.html"], wildcard: false });
}
