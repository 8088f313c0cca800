// Route group: the caller's session and the tokens: created for a role in a
// project (or platform-wide) with an optional expiry, listed without their
// values, revoked. Each creation and revocation is on the audit trail by name,
// role and project, never the value; so is each refusal.

import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { auditOfAction } from "../../engine/record/audit-events.js";
import { errorMessage, PlumbError } from "../../errors.js";
import { stackNamePattern } from "../../stack-definition.js";
import { tokenRoles, type ApiToken } from "../../state/store.js";
import { administers, highestRole, mayGrant } from "../authorization.js";
import { session, tokenList, type tokenView } from "../response-schemas.js";
import type { RouteContext } from "../route-context.js";
import { createToken } from "../tokens.js";

const tokenName = Type.String({ minLength: 1, maxLength: 100, pattern: "^[A-Za-z0-9._-]+$" });
const tokenBody = Type.Object(
  {
    name: tokenName,
    role: Type.Unsafe<(typeof tokenRoles)[number]>({
      type: "string",
      enum: [...tokenRoles],
      description:
        "viewer: read; operator: also sync, refresh, suspend, resume, rollback; admin: also the project's tokens; platform-admin: everything, everywhere.",
    }),
    project: Type.Optional(Type.String({ pattern: stackNamePattern, description: "The project the token is for; omitted: every project." })),
    expiresAt: Type.Optional(Type.String({ format: "date-time", description: "When the token stops working; omitted: never." })),
  },
  { additionalProperties: false },
);

/** What the API shows of a token: everything but its value and hash. */
function view(token: ApiToken): Static<typeof tokenView> {
  return {
    name: token.name,
    role: token.role,
    project: token.project,
    createdAt: token.createdAt,
    createdBy: token.createdBy,
    expiresAt: token.expiresAt,
    lastUsedAt: token.lastUsedAt,
    revokedAt: token.revokedAt,
  };
}

export async function tokenRoutes(app: FastifyInstance, { store, refuse }: RouteContext): Promise<void> {
  const actor = (request: FastifyRequest) => request.principal?.name ?? "unknown";

  app.get(
    "/api/v1/session",
    { schema: { summary: "The calling token's name, role, project and expiry, for clients that show or hide actions", response: { 200: session } } },
    async (request) => {
      const principal = request.principal;
      const grants = principal?.grants ?? [];
      return {
        name: principal?.name ?? "",
        kind: principal?.kind ?? "token",
        role: highestRole(principal),
        project: grants.length === 1 ? (grants[0]?.project ?? null) : null,
        grants: grants.map((grant) => ({ ...grant })),
        expiresAt: principal?.expiresAt ?? null,
        ...(principal?.csrf === undefined ? {} : { csrfToken: principal.csrf }),
      };
    },
  );

  app.post<{ Body: Static<typeof tokenBody> }>(
    "/api/v1/tokens",
    { schema: { summary: "Create a token; its value is shown only in this response", body: tokenBody } },
    async (request, reply) => {
      const { name, role } = request.body;
      const project = request.body.project ?? null;
      if (!mayGrant(request.principal, role, project))
        await refuse(request, "token.create", `${actor(request)} may not create a ${role} token for ${project ?? "every project"}`);
      const expiresAt = request.body.expiresAt === undefined ? null : new Date(request.body.expiresAt).toISOString();
      if (expiresAt !== null && Date.parse(expiresAt) <= Date.now())
        throw new PlumbError("PLUMB_USAGE", `expiresAt ${expiresAt} is in the past`, {
          hint: "give a time in the future, or none for a token that does not expire",
        });
      const { token, record } = await createToken(store, { name, role, project, expiresAt, createdBy: actor(request) }).catch((error: unknown) => {
        throw /unique|constraint/i.test(errorMessage(error))
          ? new PlumbError("PLUMB_USAGE", `a token named ${name} exists`, { hint: "choose another name" })
          : error;
      });
      await store.appendAudit([auditOfAction(actor(request), "(api)", "token.create", { name, role, project, expiresAt })]);
      return reply.status(201).send({ ...view(record), token });
    },
  );

  app.get(
    "/api/v1/tokens",
    { schema: { summary: "The tokens the caller administers: names, roles, projects, expiry and last use, never values", response: { 200: tokenList } } },
    async (request) => {
      if (!request.principal?.grants.some((grant) => grant.role === "admin" || grant.role === "platform-admin"))
        await refuse(request, "token.list", `${actor(request)} does not administer tokens`);
      return { items: (await store.listTokens()).filter((token) => administers(request.principal, token.project)).map(view) };
    },
  );

  app.delete<{ Params: { name: string } }>(
    "/api/v1/tokens/:name",
    { schema: { summary: "Revoke a token: it is refused from now on, and stays listed as revoked", params: Type.Object({ name: tokenName }) } },
    async (request) => {
      const { name } = request.params;
      const target = (await store.listTokens()).find((token) => token.name === name);
      // A token the caller does not administer is not shown to exist; the attempt is still on the audit trail.
      if (target === undefined || !administers(request.principal, target.project)) {
        if (target !== undefined)
          await store.appendAudit([
            auditOfAction(actor(request), "(api)", "denied", { action: "token.revoke", reason: `${actor(request)} does not administer token ${name}` }),
          ]);
        throw new PlumbError("PLUMB_NOT_FOUND", `no token named ${name}`, { hint: "GET /api/v1/tokens lists the tokens you administer" });
      }
      if (!(await store.revokeToken(name, new Date().toISOString())))
        throw new PlumbError("PLUMB_USAGE", `token ${name} is revoked already`, { hint: "nothing to do" });
      await store.appendAudit([auditOfAction(actor(request), "(api)", "token.revoke", { name, role: target.role, project: target.project })]);
      return { revoked: name };
    },
  );
}
