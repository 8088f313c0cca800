// Route group: the caller's session and new tokens (admin), each new token on
// the audit trail by name and role, never its value.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { errorMessage, PlumbError } from "../../errors.js";
import { auditOfAction } from "../../engine/record/audit-events.js";
import { session } from "../response-schemas.js";
import type { RouteContext } from "../route-context.js";
import { createToken } from "../tokens.js";

const tokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9._-]+$" }),
    role: Type.Unsafe<"admin" | "read">({ type: "string", enum: ["admin", "read"], description: "admin: read and act; read: read only." }),
  },
  { additionalProperties: false },
);

export async function tokenRoutes(app: FastifyInstance, { store, requireRole }: RouteContext): Promise<void> {
  app.get(
    "/api/v1/session",
    { schema: { summary: "The calling token's name and role, for clients that show or hide actions", response: { 200: session } } },
    async (request) => ({
      name: request.token?.name ?? "",
      role: request.token?.role ?? "read",
    }),
  );

  app.post<{ Body: Static<typeof tokenBody> }>(
    "/api/v1/tokens",
    { preHandler: requireRole("admin"), schema: { summary: "Create a token; its value is shown only in this response", body: tokenBody } },
    async (request, reply) => {
      const { token, record } = await createToken(store, request.body.name, request.body.role).catch((error: unknown) => {
        throw /unique|constraint/i.test(errorMessage(error))
          ? new PlumbError("PLUMB_USAGE", `a token named ${request.body.name} exists`, { hint: "choose another name" })
          : error;
      });
      await store.appendAudit([auditOfAction(request.token?.name ?? "unknown", "(api)", "token.create", { name: record.name, role: record.role })]);
      return reply.status(201).send({ ...record, token });
    },
  );
}
