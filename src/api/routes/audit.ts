// Route group: the audit trail (filtered, paged, exported, counted per day)
// and the compliance report.

import { Readable } from "node:stream";
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { reportCsv, reportMarkdown } from "../../policy/report.js";
import { complianceReportSchema, complianceSummarySchema } from "../../policy/report-schema.js";
import { complianceSummary } from "../../policy/report-summary.js";
import { redactor } from "../../secrets/redaction.js";
import { auditExportFormats, auditExportLines } from "../../state/audit-export.js";
import { auditKinds } from "../../state/audit.js";
import type { AuditFilter } from "../../state/store.js";
import { auditList } from "../response-schemas.js";
import { platformWide } from "../authorization.js";
import type { RouteContext } from "../route-context.js";

export async function auditRoutes(app: FastifyInstance, { queries, store, visibleStacks }: RouteContext): Promise<void> {
  const auditFilters = {
    stack: Type.Optional(Type.String({ maxLength: 63 })),
    resource: Type.Optional(Type.String({ maxLength: 600 })),
    kind: Type.Optional(Type.Union(auditKinds.map((kind) => Type.Literal(kind)))),
    actor: Type.Optional(Type.String({ maxLength: 200, description: "A token's name, agent, or cli:<user>." })),
    since: Type.Optional(Type.String({ format: "date-time", description: "ISO date-time: events at or after it." })),
    until: Type.Optional(Type.String({ format: "date-time", description: "ISO date-time: events before it." })),
  };
  type AuditFilterQuery = { [K in keyof typeof auditFilters]?: string };
  /** The query's filters, narrowed to the stacks the caller may see (platform-wide tokens see the whole trail, token events too). */
  const storeFilter = (request: FastifyRequest, query: AuditFilterQuery): Omit<AuditFilter, "limit"> => {
    const filter: Omit<AuditFilter, "limit"> = {};
    for (const key of ["resource", "kind", "actor"] as const) if (query[key] !== undefined) filter[key] = query[key];
    if (platformWide(request.principal)) {
      if (query.stack !== undefined) filter.stack = query.stack;
    } else {
      const visible = visibleStacks(request);
      filter.stack = query.stack === undefined ? visible : visible.filter((name) => name === query.stack);
    }
    for (const key of ["since", "until"] as const) if (query[key] !== undefined) filter[key] = new Date(query[key]).toISOString();
    return filter;
  };
  const auditQuery = Type.Object({
    ...auditFilters,
    after: Type.Optional(Type.Integer({ minimum: 0, description: "Only events after this sequence number (paging in chain order)." })),
    before: Type.Optional(Type.Integer({ minimum: 0, description: "Only events before this sequence number (paging newest first)." })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
    order: Type.Optional(
      Type.Union([Type.Literal("chain"), Type.Literal("newest")], {
        default: "chain",
        description: "chain: oldest first (for export and paging with after); newest: the latest first.",
      }),
    ),
  });
  app.get<{ Querystring: Static<typeof auditQuery> }>(
    "/api/v1/audit",
    { schema: { summary: "The audit trail in chain order (or newest first), with filters", querystring: auditQuery, response: { 200: auditList } } },
    async (request) => {
      const { after, before, limit = 200, order } = request.query;
      const items = await store.listAudit({
        ...storeFilter(request, request.query),
        limit,
        newestFirst: order === "newest",
        ...(after === undefined ? {} : { afterSequence: after }),
        ...(before === undefined ? {} : { beforeSequence: before }),
      });
      return { items };
    },
  );

  const auditExportQuery = Type.Object({
    ...auditFilters,
    format: Type.Optional(
      Type.Union(
        auditExportFormats.map((format) => Type.Literal(format)),
        { default: "jsonl" },
      ),
    ),
  });
  app.get<{ Querystring: Static<typeof auditExportQuery> }>(
    "/api/v1/audit/export",
    { schema: { summary: "Every matching audit event, oldest first, as JSON lines or CSV (what plumb audit export writes)", querystring: auditExportQuery } },
    async (request, reply) => {
      const format = request.query.format ?? "jsonl";
      const lines = auditExportLines(store, storeFilter(request, request.query), format);
      // Streamed bodies skip the onSend hook, so each line passes the redaction layer here.
      const body = Readable.from(
        (async function* () {
          for await (const line of lines) yield redactor.redact(line);
        })(),
      );
      return reply
        .type(format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8")
        .header("content-disposition", `attachment; filename="audit.${format}"`)
        .send(body);
    },
  );

  const dailyQuery = Type.Object({ days: Type.Optional(Type.Integer({ minimum: 1, maximum: 366, default: 30 })) });
  app.get<{ Querystring: Static<typeof dailyQuery> }>(
    "/api/v1/audit/daily",
    { schema: { summary: "Audit events per UTC day and kind over the last days (drift found and healed over time)", querystring: dailyQuery } },
    async (request) => {
      const days = request.query.days ?? 30;
      const since = new Date(Date.now() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
      return { since, items: await store.countAuditByDay(since, platformWide(request.principal) ? undefined : visibleStacks(request)) };
    },
  );

  const complianceQuery = Type.Object({
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, default: 30, description: "ATO dates within this many days count as expiring." })),
    format: Type.Optional(Type.Union([Type.Literal("json"), Type.Literal("csv"), Type.Literal("md")], { default: "json" })),
  });
  app.get<{ Querystring: Static<typeof complianceQuery> }>(
    "/api/v1/compliance",
    {
      schema: {
        summary: "The compliance report: inventory, ATO dates, missing metadata, violations, drift, health (JSON; csv and md as text)",
        querystring: complianceQuery,
        response: { 200: complianceReportSchema },
      },
    },
    async (request, reply) => {
      const visible = new Set(visibleStacks(request));
      const report = await queries.complianceReport(request.query.days ?? 30, (stack) => visible.has(stack));
      if (request.query.format === "csv")
        return reply.type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="compliance.csv"').send(reportCsv(report));
      if (request.query.format === "md") return reply.type("text/markdown; charset=utf-8").send(reportMarkdown(report));
      return report;
    },
  );

  app.get<{ Querystring: { days?: number } }>(
    "/api/v1/compliance/summary",
    {
      schema: {
        summary: "The compliance report's headline numbers: metadata coverage, ATO dates expired and expiring, rule violations",
        querystring: Type.Pick(complianceQuery, ["days"]),
        response: { 200: complianceSummarySchema },
      },
    },
    async (request) => {
      const visible = new Set(visibleStacks(request));
      return complianceSummary(await queries.complianceReport(request.query.days ?? 30, (stack) => visible.has(stack)));
    },
  );
}
