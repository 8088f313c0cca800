// Route group: actions a person takes on a stack (admin tokens): sync (of
// every resource or of chosen ones), refresh, suspend, resume and rollback,
// each put on the audit trail with what was asked (an override included);
// and a sync's dry run, which only answers.

import { Type, type Static, type TSchema } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { JsonObject } from "../../sdk/resource.js";
import { auditOfAction } from "../../engine/record/audit-events.js";
import type { RouteContext } from "../route-context.js";
import { accepted, errorBody, stackName } from "../schemas.js";
import { planPreview } from "../response-schemas.js";
import { previewOfPlan } from "../plan-preview.js";
import { PlumbError } from "../../errors.js";

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
const syncBody = Type.Union([
  Type.Object(
    {
      override: overrideField,
      resources: Type.Optional(
        Type.Array(Type.String({ minLength: 1, maxLength: 600 }), {
          minItems: 1,
          maxItems: 5000,
          description: "Apply only these resources' changes (addresses); for stacks that neither sync automatically nor self-heal, or are suspended.",
        }),
      ),
      dryRun: Type.Optional(
        Type.Boolean({ description: "Answer with what the sync would do now (newest revision rendered and planned against live state) and apply nothing." }),
      ),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
type SyncBody = Exclude<Static<typeof syncBody>, null>;

const dryRunAnswer = Type.Composite([Type.Object({ dryRun: Type.Literal(true) }), planPreview]);

export async function actionRoutes(app: FastifyInstance, { commands, queries, store, authorizeStack }: RouteContext): Promise<void> {
  // A dry run is a question, not an action: it answers with the plan at once, changes nothing and is not on the audit trail.
  app.post<{ Params: Static<typeof stackName>; Body: Static<typeof syncBody> }>(
    "/api/v1/stacks/:stack/sync",
    {
      schema: {
        summary:
          "Run the commit loop now and apply what it plans (202); with resources, only their changes (a selective sync); with dryRun, answer with the plan and apply nothing (200). A suspended stack or an open deny window holds it unless override is true",
        params: stackName,
        body: syncBody,
        response: { 200: dryRunAnswer, 202: accepted, 403: errorBody, 404: errorBody, 409: errorBody },
      },
    },
    async (request, reply) => {
      const name = request.params.stack;
      const body: SyncBody = request.body ?? {};
      await authorizeStack(request, name, "operate", "sync");
      const actor = request.principal?.name ?? "unknown";
      if (body.dryRun === true) {
        const answer = await queries.dryRun(name, body.resources);
        if (answer === undefined) throw new PlumbError("PLUMB_NOT_FOUND", `stack ${name} does not exist`);
        return reply.status(200).send({ dryRun: true, ...previewOfPlan(answer.plan, answer.revision) });
      }
      if (body.resources !== undefined) {
        const sync = queries.syncPolicy(name);
        const undoneBy =
          sync.auto === true
            ? "it syncs automatically, and its next poll would apply the rest"
            : sync.selfHeal === true
              ? "it self-heals, and its drift loop would undo the choice"
              : undefined;
        const suspended = (await store.getStackStatus(name))?.suspended === true;
        if (undoneBy !== undefined && !suspended)
          throw new PlumbError("PLUMB_SELECTIVE_SYNC", `a selective sync of ${name} would not hold: ${undoneBy}`, {
            hint: `suspend ${name} first (POST /api/v1/stacks/${name}/suspend, then sync with override), or sync every resource`,
          });
      }
      const override = body.override === true;
      await commands.requestSync(name, "api", actor, true, override, body.resources);
      await store.appendAudit([auditOfAction(actor, name, "sync", body as JsonObject)]);
      const what = body.resources === undefined ? "sync" : `selective sync (${body.resources.length} resource(s))`;
      return reply.status(202).send({ accepted: true, message: `${what} of ${name} queued${override ? " (overriding suspension and sync windows)" : ""}` });
    },
  );
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
