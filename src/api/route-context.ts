// What every route group is given: the agent's read model (queries) and the
// actions it accepts (commands), its store, the stack checks and summaries
// they share, and the role check for actions.

import type { Static } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AgentCommands, StackQueries } from "../agent/queries.js";
import { notCheckedStatus } from "../agent/stack-status.js";
import { PlumbError } from "../errors.js";
import type { StackStatus, Store, TokenRole } from "../state/store.js";
import { sendError } from "./responses.js";
import type { stackSummary } from "./schemas.js";
import { stackState } from "./stack-list.js";

export interface RouteContext {
  queries: StackQueries;
  commands: AgentCommands;
  store: Store;
  /** A preHandler that refuses tokens below `role`. */
  requireRole(role: TokenRole): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
  /** Throws PLUMB_NOT_FOUND for a stack the agent does not manage. */
  knownStack(name: string): void;
  /** A stack as the API reports it; `recorded` undefined: the agent has not looked at it yet. */
  summary(name: string, recorded: StackStatus | undefined): Static<typeof stackSummary>;
  /** Every stack's summary from one query for all statuses. */
  everySummary(): Promise<Static<typeof stackSummary>[]>;
}

export function routeContext(queries: StackQueries, commands: AgentCommands): RouteContext {
  const store = queries.store;
  const summary = (name: string, recorded: StackStatus | undefined): Static<typeof stackSummary> => {
    const status = recorded ?? notCheckedStatus(name);
    const platform = queries.platformStack(name);
    const document = platform?.document;
    const source = document?.spec?.source;
    return {
      name,
      labels: document?.metadata.labels ?? {},
      environment: queries.stackEnvironment(name),
      suspended: status.suspended,
      conditions: status.conditions,
      lastAppliedRevision: status.lastAppliedRevision,
      lastAttemptedRevision: status.lastAttemptedRevision,
      drift: status.drift,
      state: stackState(status),
      updatedAt: recorded?.updatedAt ?? null,
      source: {
        file: platform?.file ?? "",
        ...(source?.repo === undefined ? {} : { repo: source.repo }),
        ...(source?.path === undefined ? {} : { path: source.path }),
      },
    };
  };
  return {
    queries,
    commands,
    store,
    requireRole: (role) => async (request, reply) => {
      if (role === "admin" && request.token?.role !== "admin") {
        await sendError(
          reply,
          new PlumbError("PLUMB_FORBIDDEN", `token "${request.token?.name ?? ""}" is read-only`, { hint: "use a token with the admin role for actions" }),
        );
        return reply;
      }
      return undefined;
    },
    knownStack(name) {
      if (!queries.hasStack(name))
        throw new PlumbError("PLUMB_NOT_FOUND", `no stack named ${name}`, { hint: "GET /api/v1/stacks lists the stacks this agent manages" });
    },
    summary,
    async everySummary() {
      const statuses = new Map((await store.listStackStatuses()).map((status) => [status.stack, status]));
      return queries.stackNames().map((name) => summary(name, statuses.get(name)));
    },
  };
}
