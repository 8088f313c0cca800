// A stand-in for HashiCorp Vault (no Vault server can be installed here): a
// real HTTP server that follows Vault's documented API for what Plumb uses —
// KV version 2 reads and writes (GET/POST /v1/<mount>/data/<path>, with
// check-and-set), token authentication (X-Vault-Token) with token expiry, and
// AppRole login (POST /v1/auth/approle/login). Errors come as Vault sends
// them: 403 {"errors":["permission denied"]}, 404 {"errors":[]}.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";

export interface VaultStandIn {
  address: string;
  /** A token that never expires, as an operator would hand out. */
  rootToken: string;
  roleId: string;
  secretId: string;
  /** A new token with the server's TTL, as `vault token create` gives. */
  issueToken(): string;
  /** Makes every token issued so far (root included) expire now. */
  expireTokens(): void;
  /** AppRole logins so far. */
  logins(): number;
  /** Writes as an operator would (`vault kv put`). */
  put(path: string, data: Record<string, string>): void;
  stop(): Promise<void>;
}

async function body(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text === "" ? undefined : JSON.parse(text);
}

export async function startVaultStandIn(options: { tokenTtlSeconds?: number } = {}): Promise<VaultStandIn> {
  const rootToken = `hvs.${randomUUID()}`;
  const roleId = randomUUID();
  const secretId = randomUUID();
  const tokens = new Map<string, number>([[rootToken, Number.POSITIVE_INFINITY]]);
  const kv = new Map<string, { data: Record<string, string>; version: number }>();
  let logins = 0;
  const ttlMs = (options.tokenTtlSeconds ?? 3600) * 1000;

  const server: Server = createServer((request, response) => {
    const send = (status: number, value?: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(value === undefined ? "" : JSON.stringify(value));
    };
    void (async () => {
      const url = new URL(request.url ?? "/", "http://stand-in");
      if (request.method === "POST" && url.pathname === "/v1/auth/approle/login") {
        const login = (await body(request)) as { role_id?: string; secret_id?: string } | undefined;
        if (login?.role_id !== roleId || login.secret_id !== secretId) return send(400, { errors: ["invalid role or secret ID"] });
        logins++;
        const token = `hvs.${randomUUID()}`;
        tokens.set(token, Date.now() + ttlMs);
        return send(200, { auth: { client_token: token, lease_duration: ttlMs / 1000, renewable: true, policies: ["plumb"] } });
      }
      const token = request.headers["x-vault-token"];
      const expires = typeof token === "string" ? tokens.get(token) : undefined;
      if (expires === undefined || expires <= Date.now()) return send(403, { errors: ["permission denied"] });
      const match = /^\/v1\/([^/]+)\/data\/(.+)$/.exec(url.pathname);
      if (match === null) return send(404, { errors: [] });
      const key = `${match[1]}/${match[2]}`;
      if (request.method === "GET") {
        const entry = kv.get(key);
        if (entry === undefined) return send(404, { errors: [] });
        return send(200, { data: { data: entry.data, metadata: { version: entry.version, created_time: new Date().toISOString() } } });
      }
      if (request.method === "POST") {
        const write = (await body(request)) as { data?: Record<string, string>; options?: { cas?: number } } | undefined;
        const current = kv.get(key);
        if (write?.options?.cas !== undefined && write.options.cas !== (current?.version ?? 0)) {
          return send(400, { errors: [`check-and-set parameter did not match the current version`] });
        }
        const version = (current?.version ?? 0) + 1;
        kv.set(key, { data: write?.data ?? {}, version });
        return send(200, { data: { version, created_time: new Date().toISOString() } });
      }
      return send(405, { errors: [] });
    })().catch(() => send(500, { errors: ["internal error"] }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    address: `http://127.0.0.1:${port}`,
    rootToken,
    roleId,
    secretId,
    issueToken() {
      const token = `hvs.${randomUUID()}`;
      tokens.set(token, Date.now() + ttlMs);
      return token;
    },
    expireTokens() {
      for (const token of tokens.keys()) tokens.set(token, 0);
    },
    logins: () => logins,
    put(path, data) {
      const key = `secret/${path}`;
      kv.set(key, { data, version: (kv.get(key)?.version ?? 0) + 1 });
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
