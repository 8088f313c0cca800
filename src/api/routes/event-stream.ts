// Route group: the server-sent event stream of status changes and events, each
// message through the redaction layer (a hijacked reply skips the hooks).

import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { AgentNotice } from "../../agent/stack-status.js";
import { redactor } from "../../secrets/redaction.js";
import { securityHeaders } from "../responses.js";
import { allows } from "../authorization.js";
import type { RouteContext } from "../route-context.js";

export async function eventStreamRoutes(app: FastifyInstance, { queries, stackProject }: RouteContext): Promise<void> {
  app.get<{ Querystring: { stack?: string } }>(
    "/api/v1/events",
    {
      schema: {
        summary: "Server-sent events: status changes and events as they happen",
        querystring: Type.Object({ stack: Type.Optional(Type.String({ maxLength: 63 })) }),
      },
    },
    (request, reply) => {
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        ...securityHeaders,
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
      });
      response.write(": connected\n\n");
      const wanted = request.query.stack;
      const listener = (notice: AgentNotice) => {
        const stack = notice.type === "status" ? notice.status.stack : notice.event.stack;
        if (wanted !== undefined && stack !== wanted) return;
        // Only what the token may see: another project's stacks do not exist for it.
        if (!allows(request.principal, "view", stackProject(stack))) return;
        response.write(`event: ${notice.type}\ndata: ${redactor.redact(JSON.stringify(notice.type === "status" ? notice.status : notice.event))}\n\n`);
      };
      queries.notices.on("notice", listener);
      const heartbeat = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
      request.raw.on("close", () => {
        clearInterval(heartbeat);
        queries.notices.off("notice", listener);
      });
    },
  );
}
