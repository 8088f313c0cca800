// `plumb login`: signs a person in through the agent's identity provider with
// the authorization code flow, PKCE and a loopback redirect (RFC 8252), and
// keeps the ID token (mode 0600) for the commands that talk to that agent.
// Nothing opens a browser by itself: the address is printed to open anywhere.

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import * as oidc from "openid-client";
import { PlumbError } from "../errors.js";
import { action } from "./context.js";

interface LoginFlags {
  url: string;
  timeout: string;
}

interface SavedLogin {
  idToken: string;
  name: string;
  expiresAt: string | null;
}

function credentialsFile(): string {
  return path.join(process.env.PLUMB_CONFIG_DIR ?? path.join(os.homedir(), ".config", "plumb"), "credentials.json");
}

async function readCredentials(): Promise<Record<string, SavedLogin>> {
  try {
    return JSON.parse(await readFile(credentialsFile(), "utf8")) as Record<string, SavedLogin>;
  } catch {
    return {};
  }
}

/** The ID token `plumb login` kept for this agent, while it is valid. */
export async function savedLogin(url: string): Promise<string | undefined> {
  const saved = (await readCredentials())[new URL(url).origin];
  if (saved === undefined || (saved.expiresAt !== null && Date.parse(saved.expiresAt) <= Date.now())) return undefined;
  return saved.idToken;
}

/** The first request to the loopback address that carries the identity provider's answer. */
function awaitCallback(server: Server, timeoutMs: number): Promise<URL> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PlumbError("PLUMB_USAGE", `no sign-in within ${timeoutMs / 1000} s`, { hint: "run plumb login again" })),
      timeoutMs,
    );
    server.on("request", (request, response) => {
      const url = new URL(request.url ?? "/", "http://127.0.0.1");
      if (url.pathname !== "/callback") {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("Signed in to Plumb. You can close this tab.\n");
      clearTimeout(timer);
      resolve(url);
    });
  });
}

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description("sign in through the agent's identity provider (single sign-on); later commands to that agent use it")
    .option("--url <url>", "the agent's address", process.env.PLUMB_URL ?? "http://127.0.0.1:8080")
    .option("--timeout <seconds>", "how long to wait for the sign-in", "300")
    .action(
      action(async (flags: LoginFlags) => {
        const agent = new URL(flags.url);
        const config = (await fetch(new URL("/auth/config", agent))
          .then((response) => response.json())
          .catch((error: unknown) => {
            throw new PlumbError("PLUMB_USAGE", `cannot reach the agent at ${agent.origin}: ${(error as Error).message}`, { hint: "check --url" });
          })) as { enabled?: boolean; issuer?: string; cliClientId?: string };
        if (config.enabled !== true || config.issuer === undefined || config.cliClientId === undefined)
          throw new PlumbError("PLUMB_USAGE", `the agent at ${agent.origin} has no single sign-on for the command line`, {
            hint: "use an API token (PLUMB_TOKEN), or start the agent with --oidc-cli-client-id",
          });
        const configuration = await oidc.discovery(new URL(config.issuer), config.cliClientId, undefined, oidc.None());
        const server = createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        try {
          const port = (server.address() as { port: number }).port;
          const redirectUri = `http://127.0.0.1:${port}/callback`;
          const verifier = oidc.randomPKCECodeVerifier();
          const state = oidc.randomState();
          const nonce = oidc.randomNonce();
          const address = oidc.buildAuthorizationUrl(configuration, {
            redirect_uri: redirectUri,
            scope: "openid email profile groups",
            code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
            code_challenge_method: "S256",
            state,
            nonce,
          });
          process.stdout.write(`Open this address in a browser to sign in:\n\n  ${address.href}\n\n`);
          const callback = await awaitCallback(server, Number(flags.timeout) * 1000);
          const tokens = await oidc.authorizationCodeGrant(configuration, new URL(callback.search, redirectUri), {
            pkceCodeVerifier: verifier,
            expectedState: state,
            expectedNonce: nonce,
            idTokenExpected: true,
          });
          const claims = tokens.claims();
          const idToken = tokens.id_token;
          if (idToken === undefined || claims === undefined)
            throw new PlumbError("PLUMB_UNAUTHORIZED", "the identity provider gave no ID token", { hint: "check the CLI client's settings" });
          const name = typeof claims.email === "string" ? claims.email : claims.sub;
          const saved = await readCredentials();
          saved[agent.origin] = { idToken, name, expiresAt: new Date(claims.exp * 1000).toISOString() };
          await mkdir(path.dirname(credentialsFile()), { recursive: true, mode: 0o700 });
          await writeFile(credentialsFile(), `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
          process.stdout.write(`signed in to ${agent.origin} as ${name} until ${new Date(claims.exp * 1000).toISOString()}\n`);
        } finally {
          server.close();
        }
      }),
    );
}
