// Hostile requests against a running agent: malformed and oversize bodies,
// query strings that overflow, paths that try to climb, unsigned and forged
// webhooks, tokens of every size. Each gets a 4xx with a clear JSON body and
// the browser protections; the agent keeps answering and never logs a trace.

import { createHmac } from "node:crypto";
import { request as httpRequest } from "node:http";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "../agent-process.js";

const secret = "hostile-hook-secret";
let work: string;
let agent: RunningAgent;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-hostile-api-"));
  const platform = path.join(work, "platform");
  mkdirSync(path.join(platform, "apps", "web"), { recursive: true });
  writeFileSync(
    path.join(platform, "web.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web }\nspec:\n  source: { path: apps/web }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out"))} } } }\n`,
  );
  writeFileSync(
    path.join(platform, "apps", "web", "f.yaml"),
    "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: f }\nspec: { path: f.txt, content: x }\n",
  );
  agent = await startAgent(["--platform", platform, "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
    env: { PLUMB_WEBHOOK_SECRET: secret },
  });
});

afterAll(async () => {
  await agent?.stop();
  rmSync(work, { recursive: true, force: true });
});

interface Attempt {
  name: string;
  method: string;
  route: string;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  token?: string | null;
  status: number;
  message?: RegExp;
  /** The server may also refuse by closing the connection before the client has sent everything. */
  mayClose?: boolean;
}

const sign = (body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

const attempts: Attempt[] = [
  { name: "a day count past every number", method: "GET", route: "/api/v1/audit/daily?days=1e309", status: 400, message: /days/ },
  { name: "a negative limit", method: "GET", route: "/api/v1/runs?limit=-1", status: 400, message: /limit/ },
  { name: "a limit past every number", method: "GET", route: "/api/v1/stacks?limit=1e309", status: 400, message: /limit/ },
  { name: "a sequence that is not a number", method: "GET", route: "/api/v1/audit?before=abc", status: 400, message: /before/ },
  { name: "a date that is not a date", method: "GET", route: "/api/v1/audit?since=yesterday", status: 400, message: /since/ },
  { name: "an unknown audit kind", method: "GET", route: "/api/v1/audit?kind=drift.detect", status: 400, message: /kind/ },
  { name: "a stack name that climbs", method: "GET", route: "/api/v1/stacks/..%2F..%2Fetc%2Fpasswd", status: 400, message: /stack/ },
  { name: "a stack name with a NUL", method: "GET", route: "/api/v1/stacks/web%00", status: 400, message: /stack/ },
  { name: "a run id that is not one", method: "GET", route: "/api/v1/stacks/web/runs/'%20OR%201=1--", status: 400, message: /run/ },
  {
    name: "a token with an unknown role",
    method: "POST",
    route: "/api/v1/tokens",
    body: { name: "x", role: "root" },
    status: 400,
    message: /role must be equal to one of the allowed values: "viewer", "operator", "admin", "platform-admin"/,
  },
  { name: "a token name with a newline", method: "POST", route: "/api/v1/tokens", body: { name: "evil\nname", role: "viewer" }, status: 400, message: /name/ },
  {
    name: "a body that is not JSON",
    method: "POST",
    route: "/api/v1/tokens",
    rawBody: '{"name": "x", "role": ',
    headers: { "content-type": "application/json" },
    status: 400,
  },
  {
    name: "a body of 1 MiB",
    method: "POST",
    route: "/api/v1/tokens",
    rawBody: JSON.stringify({ name: "x".repeat(1 << 20), role: "viewer" }),
    headers: { "content-type": "application/json" },
    status: 413,
  },
  {
    name: "a body of the wrong type",
    method: "POST",
    route: "/api/v1/tokens",
    rawBody: "name=x&role=admin",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    status: 415,
  },
  {
    name: "a prototype-polluting body",
    method: "POST",
    route: "/api/v1/stacks/web/sync",
    rawBody: '{"__proto__": {"admin": true}, "override": false}',
    headers: { "content-type": "application/json" },
    status: 400,
  },
  { name: "an override that is not a flag", method: "POST", route: "/api/v1/stacks/web/sync", body: { override: "yes" }, status: 400, message: /override/ },
  {
    name: "a rollback to something that is not a commit",
    method: "POST",
    route: "/api/v1/stacks/web/rollback",
    body: { revision: "HEAD~1; rm -rf /" },
    status: 400,
    message: /revision/,
  },
  { name: "a token of 8 KiB", method: "GET", route: "/api/v1/stacks", token: "plumb_".padEnd(8 * 1024, "A"), status: 401 },
  { name: "a token that is almost right", method: "GET", route: "/api/v1/stacks", token: "plumb_", status: 401 },
  { name: "an event stream for a name of 1,000 characters", method: "GET", route: `/api/v1/events?stack=${"a".repeat(1000)}`, status: 400, message: /stack/ },
  {
    name: "an unsigned webhook",
    method: "POST",
    route: "/hooks/git",
    rawBody: '{"ref":"refs/heads/main"}',
    headers: { "content-type": "application/json", "x-github-event": "push" },
    token: null,
    status: 401,
    message: /not signed/,
  },
  {
    name: "a webhook signed with another secret",
    method: "POST",
    route: "/hooks/git",
    rawBody: "{}",
    headers: {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-hub-signature-256": `sha256=${createHmac("sha256", "other").update("{}").digest("hex")}`,
    },
    token: null,
    status: 401,
    message: /does not match/,
  },
  {
    name: "a signed webhook that is not JSON",
    method: "POST",
    route: "/hooks/git",
    rawBody: "not json",
    headers: { "content-type": "application/json", "x-github-event": "push", "x-hub-signature-256": sign("not json") },
    token: null,
    status: 400,
    message: /not JSON/,
  },
  {
    name: "a webhook over the 1 MiB cap",
    method: "POST",
    route: "/hooks/git",
    rawBody: "x".repeat((1 << 20) + 1),
    headers: { "content-type": "application/json", "x-github-event": "push", "x-hub-signature-256": sign("x") },
    token: null,
    status: 413,
    mayClose: true,
  },
  {
    name: "a GitLab token that is a prefix of the secret",
    method: "POST",
    route: "/hooks/git",
    rawBody: "{}",
    headers: { "content-type": "application/json", "x-gitlab-token": secret.slice(0, 6) },
    token: null,
    status: 401,
  },
  { name: "a route that does not exist", method: "GET", route: "/api/v1/%2e%2e/%2e%2e/etc/passwd", status: 404, message: /no route/ },
  { name: "headers of 32 KiB", method: "GET", route: "/api/v1/stacks", headers: { "x-padding": "p".repeat(32 * 1024) }, status: 431 },
];

/**
 * One request over node:http, which keeps the answer even when the server
 * refuses an oversize body and closes before the client has written it all
 * (fetch reports that as EPIPE and loses the answer).
 */
function send(attempt: Attempt): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const body = attempt.body !== undefined ? JSON.stringify(attempt.body) : attempt.rawBody;
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${agent.url}${attempt.route}`, {
      method: attempt.method,
      headers: {
        ...(attempt.token === null ? {} : { authorization: `Bearer ${attempt.token ?? agent.adminToken}` }),
        ...(attempt.body === undefined ? {} : { "content-type": "application/json" }),
        ...(body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) }),
        ...attempt.headers,
      },
    });
    let answered = false;
    request.on("response", (response) => {
      answered = true;
      let text = "";
      response.on("data", (chunk: Buffer) => (text += chunk.toString()));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
    });
    request.on("error", (error) => {
      if (!answered) reject(error);
    });
    request.end(body);
  });
}

describe("hostile requests", () => {
  for (const attempt of attempts) {
    it(attempt.name, async () => {
      let response;
      try {
        response = await send(attempt);
      } catch (error) {
        const code = (error as { code?: string }).code ?? "";
        if (attempt.mayClose === true && (code === "ECONNRESET" || code === "EPIPE")) return;
        throw error;
      }
      const text = response.text;
      expect(response.status, text).toBe(attempt.status);
      // Node's HTTP parser refuses oversize headers before any route or hook runs.
      if (attempt.status === 431) return;
      const body = JSON.parse(text) as { code?: string; message?: string };
      expect(body.code).toMatch(/^PLUMB_|^FST_/);
      if (attempt.message !== undefined) expect(body.message).toMatch(attempt.message);
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    });
  }

  it("kept answering, kept no token it refused, and logged no stack trace", async () => {
    expect((await agent.api("GET", "/healthz", { token: null })).status).toBe(200);
    const web = await agent.api("GET", "/api/v1/stacks/web");
    // Seen once under a loaded CI run (a 404 here); the answer and the agent's log say why next time.
    expect(web.status, `${JSON.stringify(web.body)}\n${agent.output().slice(-4000)}`).toBe(200);
    expect(agent.output()).not.toMatch(/\n\s+at .*\(|"level":50/);
    expect(agent.output()).not.toContain("A".repeat(64));
  });

  it("sends the browser protections on the event stream and the dashboard too", async () => {
    const controller = new AbortController();
    const stream = await fetch(`${agent.url}/api/v1/events`, { headers: { authorization: `Bearer ${agent.adminToken}` }, signal: controller.signal });
    expect(stream.headers.get("content-security-policy")).toContain("default-src 'self'");
    controller.abort();
    const page = await fetch(`${agent.url}/`);
    expect(page.headers.get("x-frame-options")).toBe("DENY");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
  });
});
