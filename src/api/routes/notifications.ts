// Route group: notifications — the platform's sinks with how many messages
// each has in every state, the delivery log (what was sent, how often the
// same news came again meanwhile, retried or given up on, and why), and a test message to one sink.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { isPlatformAdmin, platformWide } from "../authorization.js";
import type { RouteContext } from "../route-context.js";
import { errorBody } from "../schemas.js";

const deliveriesQuery = Type.Object({
  sink: Type.Optional(Type.String({ maxLength: 63 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});
const sinkName = Type.Object({ sink: Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }) });

const notificationList = Type.Object({
  sinks: Type.Array(
    Type.Object({
      name: Type.String(),
      type: Type.String(),
      file: Type.String(),
      triggers: Type.Array(Type.String()),
      counts: Type.Record(Type.String(), Type.Integer(), { description: "Messages per state: pending, delivered, failed." }),
    }),
  ),
  items: Type.Array(
    Type.Object({
      id: Type.String(),
      sink: Type.String(),
      trigger: Type.String(),
      stack: Type.String(),
      state: Type.String(),
      attempts: Type.Integer(),
      repeats: Type.Integer({ description: "The same news again within the de-duplication window, counted instead of sent." }),
      title: Type.String(),
      lastError: Type.Union([Type.String(), Type.Null()]),
      createdAt: Type.String(),
      deliveredAt: Type.Union([Type.String(), Type.Null()]),
      nextAttemptAt: Type.Union([Type.String(), Type.Null()], { description: "When a pending message is tried again." }),
    }),
  ),
});

export async function notificationRoutes(app: FastifyInstance, { queries, commands, store, visibleStacks, refuse }: RouteContext): Promise<void> {
  app.get<{ Querystring: Static<typeof deliveriesQuery> }>(
    "/api/v1/notifications",
    { schema: { summary: "The notification sinks and the delivery log, newest first", querystring: deliveriesQuery, response: { 200: notificationList } } },
    async (request) => {
      const queue = store.notificationQueue;
      const counts = await queue.counts();
      // A project-scoped token sees its own stacks' messages; the platform's own (tests, the audit chain) need a platform-wide one.
      const visible = platformWide(request.principal) ? undefined : new Set(visibleStacks(request));
      const rows = await queue.list({ limit: request.query.limit ?? 100, ...(request.query.sink === undefined ? {} : { sink: request.query.sink }) });
      return {
        sinks: queries.notificationSinks().map(({ sink, file }) => ({
          name: sink.metadata.name,
          type: sink.spec.type,
          file,
          triggers: [...new Set(sink.spec.subscriptions.flatMap((subscription) => subscription.triggers))],
          counts: Object.fromEntries(counts.filter((count) => count.sink === sink.metadata.name).map((count) => [count.state, count.count])),
        })),
        items: rows
          .filter((row) => visible === undefined || visible.has(row.stack))
          .map((row) => ({
            id: row.id,
            sink: row.sink,
            trigger: row.trigger,
            stack: row.stack,
            state: row.state,
            attempts: row.attempts,
            repeats: row.repeats,
            title: typeof row.payload.title === "string" ? row.payload.title : "",
            lastError: row.lastError,
            createdAt: row.createdAt,
            deliveredAt: row.deliveredAt,
            nextAttemptAt: row.state === "pending" ? new Date(row.nextAttemptAt).toISOString() : null,
          })),
      };
    },
  );

  app.post<{ Params: Static<typeof sinkName> }>(
    "/api/v1/notifications/:sink/test",
    {
      schema: {
        summary: "Send a test message to a sink now (platform-admin); the answer says whether it arrived and why not",
        params: sinkName,
        response: { 200: Type.Object({ delivered: Type.Boolean(), error: Type.Union([Type.String(), Type.Null()]) }), 403: errorBody, 404: errorBody },
      },
    },
    async (request) => {
      if (!isPlatformAdmin(request.principal)) await refuse(request, "notification.test", "only a platform-admin may send test notifications");
      return commands.testNotification(request.params.sink);
    },
  );
}
