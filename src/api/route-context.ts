// What every route group is given: the agent's read model (queries) and the
// actions it accepts (commands), its store, the stack checks and summaries
// they share, and the role check for actions.

import type { Static } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import type { AgentCommands, StackQueries } from "../agent/queries.js";
import { notCheckedStatus } from "../agent/stack-status.js";
import { PlumbError } from "../errors.js";
import { auditOfAction } from "../engine/record/audit-events.js";
import type { StackStatus, Store } from "../state/store.js";
import { allows, type Permission, type Principal } from "./authorization.js";
import type { stackSummary } from "./schemas.js";
import { stackState } from "./stack-list.js";

export interface RouteContext {
  queries: StackQueries;
  commands: AgentCommands;
  store: Store;
  /** The project a stack belongs to: its platform Stack document's spec.project, else default. */
  stackProject(name: string): string;
  /**
   * Throws PLUMB_NOT_FOUND for a stack the agent does not manage or the caller
   * may not see, and PLUMB_FORBIDDEN (on the audit trail) when it may see it
   * but not do `permission` there.
   */
  authorizeStack(request: FastifyRequest, name: string, permission?: Permission, action?: string): Promise<void>;
  /** The stacks the caller may see. */
  visibleStacks(request: FastifyRequest): string[];
  /** Refuses (PLUMB_FORBIDDEN, on the audit trail) what the caller's token may not do. */
  refuse(request: FastifyRequest, action: string, why: string): Promise<never>;
  /** A stack as the API reports it; `recorded` undefined: the agent has not looked at it yet. */
  summary(name: string, recorded: StackStatus | undefined): Static<typeof stackSummary>;
  /** The summaries of every stack the caller may see, from one query for all statuses. */
  everySummary(request: FastifyRequest): Promise<Static<typeof stackSummary>[]>;
}

export function routeContext(queries: StackQueries, commands: AgentCommands): RouteContext {
  const store = queries.store;
  const stackProject = (name: string) => queries.platformStack(name)?.document.spec?.project ?? "default";
  const refuse = async (request: FastifyRequest, action: string, why: string): Promise<never> => {
    await store.appendAudit([auditOfAction(request.principal?.name ?? "anonymous", "(api)", "denied", { action, reason: why })]);
    throw new PlumbError("PLUMB_FORBIDDEN", why, { hint: "ask a project admin for a token with the role this needs" });
  };
  const summary = (name: string, recorded: StackStatus | undefined): Static<typeof stackSummary> => {
    const status = recorded ?? notCheckedStatus(name);
    const platform = queries.platformStack(name);
    const document = platform?.document;
    const source = document?.spec?.source;
    return {
      name,
      project: stackProject(name),
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
      stackSet: platform?.stackSet ?? null,
    };
  };
  return {
    queries,
    commands,
    store,
    stackProject,
    async authorizeStack(request, name, permission = "view", action = permission) {
      const project = stackProject(name);
      if (!queries.hasStack(name) || !allows(request.principal, "view", project))
        throw new PlumbError("PLUMB_NOT_FOUND", `no stack named ${name}`, { hint: "GET /api/v1/stacks lists the stacks this token may see" });
      if (!allows(request.principal, permission, project))
        await refuse(
          request,
          `${action} ${name}`,
          `${request.principal?.name ?? ""} holds ${grantsText(request.principal)}; ${action} needs ${permission === "operate" ? "operator" : "admin"} in project ${project}`,
        );
    },
    visibleStacks: (request) => queries.stackNames().filter((name) => allows(request.principal, "view", stackProject(name))),
    refuse,
    summary,
    async everySummary(request) {
      const statuses = new Map((await store.listStackStatuses()).map((status) => [status.stack, status]));
      return queries
        .stackNames()
        .filter((name) => allows(request.principal, "view", stackProject(name)))
        .map((name) => summary(name, statuses.get(name)));
    },
  };
}

/** "operator in payments, viewer everywhere", for refusals. */
function grantsText(principal: Principal | undefined): string {
  const grants = principal?.grants ?? [];
  return grants.length === 0 ? "no role" : grants.map((grant) => `${grant.role} in ${grant.project ?? "every project"}`).join(", ");
}
