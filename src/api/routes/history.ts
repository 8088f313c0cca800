// Route group: history — a stack's runs (one with its journal), its events,
// and the fleet's latest runs.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { PlumbError } from "../../errors.js";
import { platformWide } from "../authorization.js";
import type { RouteContext } from "../route-context.js";
import { runList } from "../response-schemas.js";
import { limitQuery, stackName } from "../schemas.js";

export async function historyRoutes(app: FastifyInstance, { store, authorizeStack, visibleStacks }: RouteContext): Promise<void> {
  app.get<{ Params: Static<typeof stackName>; Querystring: Static<typeof limitQuery> }>(
    "/api/v1/stacks/:stack/runs",
    { schema: { summary: "Runs, newest first", params: stackName, querystring: limitQuery, response: { 200: runList } } },
    async (request) => {
      await authorizeStack(request, request.params.stack);
      return { items: await store.listRuns(request.params.stack, request.query.limit ?? 100) };
    },
  );

  app.get<{ Params: Static<typeof stackName> & { run: string } }>(
    "/api/v1/stacks/:stack/runs/:run",
    { schema: { summary: "One run with its journal", params: Type.Intersect([stackName, Type.Object({ run: Type.String({ format: "uuid" }) })]) } },
    async (request) => {
      await authorizeStack(request, request.params.stack);
      const run = (await store.listRuns(request.params.stack, 1000)).find((item) => item.id === request.params.run);
      if (run === undefined) throw new PlumbError("PLUMB_NOT_FOUND", `no run ${request.params.run} in stack ${request.params.stack}`);
      const journal = await store.listJournal(request.params.stack, run.id);
      return {
        run,
        changes: journal.map((entry) => ({ address: entry.address, action: entry.action, state: entry.state, outcome: entry.outcome, at: entry.updatedAt })),
      };
    },
  );

  app.get<{ Params: Static<typeof stackName>; Querystring: Static<typeof limitQuery> }>(
    "/api/v1/stacks/:stack/events",
    { schema: { summary: "Events, newest first", params: stackName, querystring: limitQuery } },
    async (request) => {
      await authorizeStack(request, request.params.stack);
      return { items: await store.listEvents(request.params.stack, request.query.limit ?? 100) };
    },
  );

  app.get<{ Querystring: Static<typeof limitQuery> }>(
    "/api/v1/runs",
    { schema: { summary: "The latest runs of every stack, newest first", querystring: limitQuery, response: { 200: runList } } },
    async (request) => {
      return { items: await store.listRuns(platformWide(request.principal) ? undefined : visibleStacks(request), request.query.limit ?? 100) };
    },
  );
}
