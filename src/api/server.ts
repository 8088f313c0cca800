// The agent's HTTP server: the REST API under /api/v1 (validated with the same
// schemas its OpenAPI document is generated from), the event stream, the Git
// webhook receiver, the dashboard, health and Prometheus metrics. This file
// wires the server — browser protections, redaction, one error handler, one
// auth hook — and registers one plugin per route group from routes/.

import swagger from "@fastify/swagger";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { AgentCommands, StackQueries } from "../agent/queries.js";
import type { AgentMetrics } from "../agent/metrics.js";
import { PlumbError } from "../errors.js";
import { redactor } from "../secrets/redaction.js";
import { installErrorHandling, securityHeaders, sendError } from "./responses.js";
import { routeContext } from "./route-context.js";
import { actionRoutes } from "./routes/actions.js";
import { auditRoutes } from "./routes/audit.js";
import { catalogRoutes } from "./routes/catalog.js";
import { dashboardRoutes } from "./routes/dashboard.js";
import { promotionRoutes } from "./routes/promotions.js";
import { notificationRoutes } from "./routes/notifications.js";
import { agentRoutes } from "./routes/agents.js";
import { eventStreamRoutes } from "./routes/event-stream.js";
import { historyRoutes } from "./routes/history.js";
import { stackRoutes } from "./routes/stacks.js";
import { tokenRoutes } from "./routes/tokens.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { authenticator } from "./authentication.js";
import type { Principal } from "./authorization.js";
import { signInRoutes } from "./routes/sign-in.js";
import type { SingleSignOn } from "./single-sign-on.js";

export type { StackSummary } from "./schemas.js";
export { claimReadiness } from "./routes/stacks.js";
export { securityHeaders } from "./responses.js";

export interface ServerOptions {
  /** What the API reads. */
  queries: StackQueries;
  /** What the API and webhooks may ask of the agent. */
  commands: AgentCommands;
  metrics: AgentMetrics;
  logger: Logger;
  /** Single sign-on for the dashboard and the CLI; off when undefined. */
  singleSignOn?: SingleSignOn;
  /** Shared secret for webhook signatures; webhooks are refused without one. */
  webhookSecret: string | undefined;
  version: string;
  /** Serve the dashboard's source maps (off by default: they publish its source). */
  dashboardSourceMaps?: boolean;
}

declare module "fastify" {
  interface FastifyRequest {
    /** Who is calling: a token, or a person signed in through single sign-on. */
    principal?: Principal;
  }
}

export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const { queries, metrics } = options;
  const store = queries.store;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
  });
  await app.register(swagger, {
    openapi: {
      info: { title: "Plumb API", version: options.version, description: "Stacks, resources, runs, events and actions of a Plumb agent." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
  });
  installErrorHandling(app);

  // Every answer, refusals and the dashboard's files included, carries the browser protections.
  app.addHook("onRequest", async (_request, reply) => {
    reply.headers(securityHeaders);
  });

  // Every response body passes the redaction layer, errors included.
  app.addHook("onSend", async (_request, _reply, payload) => (typeof payload === "string" ? redactor.redact(payload) : payload));

  // The API needs a token, an ID token or a session; health, metrics, sign-in, the (signature-checked) webhook and the dashboard's files do not.
  const authenticate = authenticator({
    store,
    singleSignOn: options.singleSignOn,
    grantsFor: (groups) => queries.groupGrants(groups),
  });
  app.addHook("onRequest", async (request, reply) => {
    if (!request.url.startsWith("/api/")) return;
    try {
      request.principal = await authenticate(request);
    } catch (error) {
      if (!(error instanceof PlumbError)) throw error;
      if (error.code === "PLUMB_UNAUTHORIZED") reply.header("www-authenticate", 'Bearer error="invalid_token"');
      await sendError(reply, error);
      return reply;
    }
  });

  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));
  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) =>
    queries.ready() ? { status: "ready" } : reply.status(503).send({ status: "starting" }),
  );
  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    metrics.queueDepth.set(queries.queueDepth());
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  const context = routeContext(queries, options.commands);
  await app.register(dashboardRoutes, { sourceMaps: options.dashboardSourceMaps ?? false });
  await app.register(tokenRoutes, context);
  await app.register(stackRoutes, context);
  await app.register(historyRoutes, context);
  await app.register(actionRoutes, context);
  await app.register(auditRoutes, context);
  await app.register(catalogRoutes, context);
  await app.register(eventStreamRoutes, context);
  await app.register(agentRoutes, context);
  await app.register(promotionRoutes, context);
  await app.register(notificationRoutes, context);
  await app.register(webhookRoutes, { ...context, webhookSecret: options.webhookSecret });
  await app.register(signInRoutes, { ...context, singleSignOn: options.singleSignOn });
  return app;
}
