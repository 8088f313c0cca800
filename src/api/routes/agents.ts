// Route group: the agents sharing the store, as any of them sees it: each live
// agent with its heartbeat and how many stacks it holds (never which ones: a
// token scoped to one project must not learn another's stack names).

import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { RouteContext } from "../route-context.js";

const agentList = Type.Object({
  answeredBy: Type.String({ description: "The agent that answered this request" }),
  items: Type.Array(
    Type.Object({
      name: Type.String(),
      startedAt: Type.String(),
      heartbeatAgeMs: Type.Number({ description: "Time since its last heartbeat, on the store's clock" }),
      stacksHeld: Type.Integer(),
    }),
  ),
});

export async function agentRoutes(app: FastifyInstance, { queries }: RouteContext): Promise<void> {
  app.get(
    "/api/v1/agents",
    {
      schema: { summary: "The agents sharing this store (several on PostgreSQL, one on SQLite) and how many stacks each holds", response: { 200: agentList } },
    },
    async () => queries.agents(),
  );
}
