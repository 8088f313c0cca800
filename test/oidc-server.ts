// A real OpenID Connect provider (oidc-provider, a certified implementation)
// in the test process, over HTTPS with a CA of the test's own, for single
// sign-on tests. Its built-in development login page takes any password; the
// users' groups are set here. Two clients: the dashboard's (confidential,
// redirect to the agent) and the CLI's (public, native, loopback redirect).

import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import Provider from "oidc-provider";
import { admissionTls } from "../src/api/admission-tls.js";
import { freePort } from "./postgres-server.js";

export interface OidcServer {
  issuer: string;
  /** The CA (a PEM file) that signs the provider's certificate: NODE_EXTRA_CA_CERTS for the agent and the CLI. */
  caFile: string;
  clientSecret: string;
  stop(): Promise<void>;
}

export async function startOidcServer(options: { agentUrl: string; users: Record<string, string[]> }): Promise<OidcServer> {
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-oidc-"));
  const tls = await admissionTls({ directory, host: "127.0.0.1" });
  const port = await freePort();
  const issuer = `https://127.0.0.1:${port}`;
  const clientSecret = "dashboard-client-secret";
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "plumb-dashboard",
        client_secret: clientSecret,
        redirect_uris: [`${options.agentUrl}/auth/callback`],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
      {
        client_id: "plumb-cli",
        application_type: "native",
        token_endpoint_auth_method: "none",
        redirect_uris: ["http://127.0.0.1/callback"],
        grant_types: ["authorization_code"],
        response_types: ["code"],
      },
    ],
    claims: { openid: ["sub"], email: ["email"], profile: ["name"], groups: ["groups"] },
    scopes: ["openid", "email", "profile", "groups"],
    // The ID token carries the claims itself: the agent reads groups from it.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    async findAccount(_context, subject) {
      return {
        accountId: subject,
        async claims() {
          return { sub: subject, email: `${subject}@example.org`, name: subject, groups: options.users[subject] ?? [] };
        },
      };
    },
  });
  provider.proxy = false;
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, provider.callback());
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    issuer,
    caFile: path.join(directory, "ca.crt"),
    clientSecret,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
