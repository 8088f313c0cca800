// Route group: actions a person takes on a stack (admin tokens): sync,
// refresh, suspend, resume and rollback, each put on the audit trail with
// what was asked (an override included).

import { Type, type Static, type TSchema } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { JsonObject } from "../../sdk/resource.js";
import { auditOfAction } from "../../engine/record/audit-events.js";
import type { RouteContext } from "../route-context.js";
import { accepted, errorBody, stackName } from "../schemas.js";

const overrideField = Type.Optional(
  Type.Boolean({ description: "Apply although the stack is suspended or a deny window is open; recorded on the audit trail." }),
);
const rollbackBody = Type.Object(
  {
    revision: Type.String({ minLength: 7, maxLength: 64, pattern: "^[0-9a-f]+$", description: "A commit (or render digest) that was applied before." }),
    override: overrideField,
  },
  { additionalProperties: false },
);
const syncBody = Type.Union([Type.Object({ override: overrideField }, { additionalProperties: false }), Type.Null()]);

export async function actionRoutes(app: FastifyInstance, { commands, store, authorizeStack }: RouteContext): Promise<void> {
  const action = (route: string, description: string, run: (name: string, actor: string, body: unknown) => Promise<string> | string, body?: TSchema) =>
    app.post<{ Params: Static<typeof stackName> }>(
      route,
      {
        schema: {
          summary: description,
          params: stackName,
          ...(body === undefined ? {} : { body }),
          response: { 202: accepted, 403: errorBody, 404: errorBody },
        },
      },
      async (request, reply) => {
        await authorizeStack(request, request.params.stack, "operate", route.split("/").pop() ?? route);
        const actor = request.principal?.name ?? "unknown";
        const message = await run(request.params.stack, actor, request.body);
        const details = typeof request.body === "object" && request.body !== null ? (request.body as JsonObject) : {};
        await store.appendAudit([auditOfAction(actor, request.params.stack, route.split("/").pop() ?? route, details)]);
        return reply.status(202).send({ accepted: true, message });
      },
    );
  action(
    "/api/v1/stacks/:stack/sync",
    "Run the commit loop now and apply what it plans; a suspended stack or an open deny window holds it unless override is true",
    async (name, actor, body) => {
      const override = (body as Static<typeof syncBody> | undefined)?.override === true;
      await commands.requestSync(name, "api", actor, true, override);
      return `sync of ${name} queued${override ? " (overriding suspension and sync windows)" : ""}`;
    },
    syncBody,
  );
  action("/api/v1/stacks/:stack/refresh", "Re-read live state and compare now; drift is healed only where selfHeal would heal it", async (name, actor) => {
    await commands.requestRefresh(name, actor);
    return `drift check of ${name} queued`;
  });
  action("/api/v1/stacks/:stack/suspend", "Stop automatic applies", async (name, actor) => {
    await commands.setSuspended(name, true, actor);
    return `${name} suspended`;
  });
  action("/api/v1/stacks/:stack/resume", "Resume automatic applies", async (name, actor) => {
    await commands.setSuspended(name, false, actor);
    return `${name} resumed`;
  });
  action(
    "/api/v1/stacks/:stack/rollback",
    "Re-apply the recorded render of an earlier revision; automatic sync stays suspended until resumed",
    async (name, actor, body) => {
      const { revision, override } = body as Static<typeof rollbackBody>;
      await commands.requestRollback(name, revision, actor, override === true);
      return `rollback of ${name} to ${revision} queued`;
    },
    rollbackBody,
  );
}
