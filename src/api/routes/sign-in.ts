// Route group: single sign-on for the dashboard. /auth/login sends the browser
// to the identity provider, /auth/callback takes it back and opens a cookie
// session (HttpOnly, SameSite=Lax, Secure behind https), /auth/logout ends
// it; /auth/config tells the dashboard and `plumb login` what to use. Each
// sign-in and sign-out is on the audit trail.

import type { FastifyInstance, FastifyReply } from "fastify";
import { randomBytes } from "node:crypto";
import { auditOfSession } from "../../engine/record/audit-events.js";
import { PlumbError } from "../../errors.js";
import type { RouteContext } from "../route-context.js";
import { cookieValue, newSessionId, sessionCookie, sessionHash, type SingleSignOn } from "../single-sign-on.js";

/** How long a dashboard session lasts; signing in again makes a new one. */
const sessionLifetimeMs = 8 * 3600_000;

export async function signInRoutes(app: FastifyInstance, { store, singleSignOn }: RouteContext & { singleSignOn: SingleSignOn | undefined }): Promise<void> {
  const enabled = (): SingleSignOn => {
    if (singleSignOn === undefined)
      throw new PlumbError("PLUMB_NOT_FOUND", "single sign-on is not set up on this agent", {
        hint: "start the agent with --oidc-issuer, --oidc-client-id and --public-url",
      });
    return singleSignOn;
  };
  const secure = singleSignOn?.settings.publicUrl.startsWith("https:") === true;
  const setCookie = (reply: FastifyReply, value: string, maxAgeSeconds: number) =>
    reply.header("set-cookie", `${sessionCookie}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? "; Secure" : ""}`);

  app.get("/auth/config", { schema: { hide: true } }, async () =>
    singleSignOn === undefined
      ? { enabled: false }
      : {
          enabled: true,
          issuer: singleSignOn.settings.issuer,
          ...(singleSignOn.settings.cliClientId === undefined ? {} : { cliClientId: singleSignOn.settings.cliClientId }),
        },
  );

  app.get("/auth/login", { schema: { hide: true } }, async (_request, reply) => reply.redirect((await enabled().startSignIn()).href, 302));

  app.get("/auth/callback", { schema: { hide: true } }, async (request, reply) => {
    const sso = enabled();
    const person = await sso.finishSignIn(new URL(request.url, sso.redirectUri));
    const { id, hash } = newSessionId();
    const now = Date.now();
    await store.createSession(hash, {
      subject: person.subject,
      name: person.name,
      groups: person.groups,
      csrf: randomBytes(24).toString("base64url"),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + sessionLifetimeMs).toISOString(),
    });
    await store.appendAudit([auditOfSession("sign-in", person.name, person.groups)]);
    return setCookie(reply, id, sessionLifetimeMs / 1000).redirect("/", 302);
  });

  app.post("/auth/logout", { schema: { hide: true } }, async (request, reply) => {
    const cookie = cookieValue(request.headers.cookie, sessionCookie);
    const session = cookie === undefined ? undefined : await store.findSession(sessionHash(cookie), new Date().toISOString());
    if (cookie === undefined || session === undefined) return setCookie(reply, "", 0).send({ signedOut: false });
    // Ending someone's session from another site is a forgery too.
    if (request.headers["x-csrf-token"] !== session.csrf)
      throw new PlumbError("PLUMB_FORBIDDEN", "signing out with a session cookie must carry its x-csrf-token", { hint: "sign out from the dashboard" });
    await store.deleteSession(sessionHash(cookie));
    await store.appendAudit([auditOfSession("sign-out", session.name, session.groups)]);
    return setCookie(reply, "", 0).send({ signedOut: true });
  });
}
