// Who is calling: an API token (Authorization: Bearer plumb_…), an identity
// provider's ID token from `plumb login` (Bearer <JWT>), or a dashboard
// session cookie from single sign-on — which must send its anti-forgery token
// with anything that changes something. A revoked or expired credential is
// refused with the reason; nothing else about it is said.

import type { FastifyRequest } from "fastify";
import { PlumbError } from "../errors.js";
import type { Store } from "../state/store.js";
import { tokenPrincipal, type Grant, type Principal } from "./authorization.js";
import { cookieValue, sessionCookie, sessionHash, type SingleSignOn } from "./single-sign-on.js";
import { hashToken } from "./tokens.js";

export interface AuthenticationOptions {
  store: Store;
  singleSignOn: SingleSignOn | undefined;
  /** The roles the platform's projects give a person's groups, now. */
  grantsFor(groups: readonly string[]): Grant[];
}

const unsafeMethods = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function unauthorized(message: string, hint: string): PlumbError {
  return new PlumbError("PLUMB_UNAUTHORIZED", message, { hint });
}

export function authenticator(options: AuthenticationOptions): (request: FastifyRequest) => Promise<Principal> {
  const { store } = options;
  const lastMarked = new Map<string, number>();

  const byToken = async (bearer: string): Promise<Principal> => {
    const found = await store.findToken(hashToken(bearer));
    if (found === undefined)
      throw unauthorized("a valid bearer token is required", "send Authorization: Bearer <token>; the first start of the agent printed an admin token");
    if (found.revokedAt !== null) throw unauthorized(`token ${found.name} was revoked at ${found.revokedAt}`, "ask for a new token");
    if (found.expiresAt !== null && Date.parse(found.expiresAt) <= Date.now())
      throw unauthorized(`token ${found.name} expired at ${found.expiresAt}`, "ask for a new token");
    // Last use, at most once a minute per token: a write per request would cost more than it tells.
    const now = Date.now();
    if (now - (lastMarked.get(found.id) ?? 0) >= 60_000) {
      lastMarked.set(found.id, now);
      await store.markTokenUsed(found.id, new Date(now).toISOString());
    }
    return tokenPrincipal(found);
  };

  return async (request) => {
    const header = request.headers.authorization;
    const bearer = typeof header === "string" && header.startsWith("Bearer ") ? header.slice("Bearer ".length).trim() : undefined;
    if (bearer !== undefined && bearer !== "") {
      // Plumb's own tokens are opaque; anything shaped like a JWT is an identity provider's ID token.
      if (options.singleSignOn === undefined || bearer.startsWith("plumb_") || bearer.split(".").length !== 3) return byToken(bearer);
      const person = await options.singleSignOn.verifyBearer(bearer);
      return { name: person.name, kind: "user", grants: options.grantsFor(person.groups), expiresAt: person.expiresAt };
    }
    const cookie = cookieValue(request.headers.cookie, sessionCookie);
    if (cookie === undefined || cookie === "")
      throw unauthorized("a valid bearer token is required", "send Authorization: Bearer <token>, or sign in to the dashboard");
    const session = await store.findSession(sessionHash(cookie), new Date().toISOString());
    if (session === undefined) throw unauthorized("the session has ended", "sign in again");
    if (unsafeMethods.has(request.method) && request.headers["x-csrf-token"] !== session.csrf)
      throw new PlumbError("PLUMB_FORBIDDEN", "a change made with a session cookie must carry its x-csrf-token", {
        hint: "send the csrfToken of GET /api/v1/session in the x-csrf-token header",
      });
    return { name: session.name, kind: "user", grants: options.grantsFor(session.groups), expiresAt: session.expiresAt, csrf: session.csrf };
  };
}
