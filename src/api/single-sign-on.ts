// Single sign-on with OpenID Connect: the dashboard signs people in with the
// authorization code flow and PKCE (openid-client), and keeps them in a
// cookie session; the CLI signs in on its own (a loopback redirect) and sends
// the identity provider's ID token as its bearer token, which is checked here
// against the provider's keys. Either way a person's roles are what the
// platform's projects give their groups, looked up on every request.

import { createHash, randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import * as oidc from "openid-client";
import { PlumbError } from "../errors.js";

export interface SingleSignOnSettings {
  /** The identity provider, e.g. https://login.example.org/realms/platform. */
  issuer: string;
  /** The dashboard's client (confidential when a secret is given, else public with PKCE). */
  clientId: string;
  clientSecret: string | undefined;
  /** The CLI's client (public, loopback redirect); its ID tokens are accepted as bearer tokens. */
  cliClientId: string | undefined;
  /** The agent's address as browsers reach it: the redirect is <publicUrl>/auth/callback. */
  publicUrl: string;
  /** The ID token claim that lists the person's groups. */
  groupsClaim: string;
}

/** Who the identity provider says signed in. */
export interface SignedIn {
  subject: string;
  name: string;
  groups: string[];
}

/** A sign-in started and not finished, by its state: the PKCE verifier and nonce stay on the server. */
interface Pending {
  verifier: string;
  nonce: string;
  expires: number;
}

const pendingLifetimeMs = 10 * 60_000;
const maxPending = 10_000;

export class SingleSignOn {
  private configuration: Promise<oidc.Configuration> | undefined;
  private keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly pending = new Map<string, Pending>();

  constructor(readonly settings: SingleSignOnSettings) {}

  get redirectUri(): string {
    return `${this.settings.publicUrl.replace(/\/$/, "")}/auth/callback`;
  }

  /** Discovery, once; a failure is not kept, so the next sign-in asks again. */
  private discover(): Promise<oidc.Configuration> {
    this.configuration ??= oidc.discovery(new URL(this.settings.issuer), this.settings.clientId, this.settings.clientSecret).catch((error: unknown) => {
      this.configuration = undefined;
      throw new PlumbError("PLUMB_PROVIDER_TRANSIENT", `the identity provider ${this.settings.issuer} cannot be reached: ${(error as Error).message}`, {
        hint: "check --oidc-issuer and that the agent reaches it",
      });
    });
    return this.configuration;
  }

  /** Where to send the browser to sign in. */
  async startSignIn(): Promise<URL> {
    const configuration = await this.discover();
    const now = Date.now();
    for (const [state, pending] of this.pending) if (pending.expires <= now) this.pending.delete(state);
    if (this.pending.size >= maxPending) throw new PlumbError("PLUMB_PROVIDER_TRANSIENT", "too many sign-ins in progress", { hint: "try again in a minute" });
    const state = oidc.randomState();
    const verifier = oidc.randomPKCECodeVerifier();
    const nonce = oidc.randomNonce();
    this.pending.set(state, { verifier, nonce, expires: now + pendingLifetimeMs });
    return oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.redirectUri,
      scope: `openid email profile ${this.settings.groupsClaim}`,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      nonce,
    });
  }

  /** The identity provider's redirect back: the code exchanged (state, PKCE and nonce checked) for who signed in. */
  async finishSignIn(callbackUrl: URL): Promise<SignedIn> {
    const state = callbackUrl.searchParams.get("state") ?? "";
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (pending === undefined || pending.expires <= Date.now())
      throw new PlumbError("PLUMB_UNAUTHORIZED", "this sign-in was not started here, or took longer than ten minutes", { hint: "sign in again" });
    const configuration = await this.discover();
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: pending.verifier,
        expectedState: state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      return this.person(tokens.claims() ?? {});
    } catch (error) {
      if (error instanceof PlumbError) throw error;
      throw new PlumbError("PLUMB_UNAUTHORIZED", `the identity provider's answer was refused: ${(error as Error).message}`, { hint: "sign in again" });
    }
  }

  /** An ID token the CLI (or the dashboard's client) got from the identity provider, as a bearer token. */
  async verifyBearer(token: string): Promise<SignedIn & { expiresAt: string | null }> {
    const configuration = await this.discover();
    const metadata = configuration.serverMetadata();
    if (metadata.jwks_uri === undefined) throw new PlumbError("PLUMB_UNAUTHORIZED", "the identity provider publishes no keys", { hint: "use an API token" });
    this.keys ??= createRemoteJWKSet(new URL(metadata.jwks_uri));
    const audience = [this.settings.clientId, ...(this.settings.cliClientId === undefined ? [] : [this.settings.cliClientId])];
    try {
      const { payload } = await jwtVerify(token, this.keys, { issuer: metadata.issuer, audience });
      return { ...this.person(payload), expiresAt: payload.exp === undefined ? null : new Date(payload.exp * 1000).toISOString() };
    } catch (error) {
      throw new PlumbError("PLUMB_UNAUTHORIZED", `the bearer token is not a valid ID token of ${metadata.issuer}: ${(error as Error).message}`, {
        hint: "run plumb login again, or use an API token",
      });
    }
  }

  private person(claims: JWTPayload | Record<string, unknown>): SignedIn {
    const subject = typeof claims.sub === "string" ? claims.sub : "";
    if (subject === "") throw new PlumbError("PLUMB_UNAUTHORIZED", "the identity provider named no subject", { hint: "sign in again" });
    const raw = claims[this.settings.groupsClaim];
    const groups = Array.isArray(raw) ? raw.filter((group): group is string => typeof group === "string") : [];
    const email = typeof claims.email === "string" ? claims.email : undefined;
    return { subject, name: email ?? subject, groups };
  }
}

/** A new session's cookie value and the hash it is stored under. */
export function newSessionId(): { id: string; hash: string } {
  const id = randomBytes(32).toString("base64url");
  return { id, hash: sessionHash(id) };
}

export function sessionHash(id: string): string {
  return createHash("sha256").update(`session:${id}`).digest("hex");
}

export const sessionCookie = "plumb_session";

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return rest.join("=");
  }
  return undefined;
}
