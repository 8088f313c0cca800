// Who may do what, route by route: every route of the agent × every kind of
// caller (none, an expired token, a revoked token, viewer, operator and admin
// of project alpha, viewer of project beta, platform-admin), each answer
// checked against the table below. The routes come from the server's own
// OpenAPI document: a route added without a row fails this test.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { writeTwoProjects } from "./two-projects.js";

const callers = ["anonymous", "expired", "revoked", "viewer-alpha", "operator-alpha", "admin-alpha", "viewer-beta", "platform-admin"] as const;
type Caller = (typeof callers)[number];

let repository: TestRepository;
let work: string;
let agent: RunningAgent;
let commit: string;
const tokens = new Map<Caller, string | null>();

interface Row {
  method: string;
  /** As the OpenAPI document writes it. */
  route: string;
  /** The request sent, per caller (a new token's name differs per caller). */
  path: (caller: Caller) => string;
  body?: (caller: Caller) => unknown;
  statuses: Record<Caller, number>;
}

/** Statuses in the order of `callers`. */
const expect8 = (...statuses: number[]) => Object.fromEntries(callers.map((caller, index) => [caller, statuses[index] as number])) as Record<Caller, number>;
const stackRead = expect8(401, 401, 401, 200, 200, 200, 404, 200);
const stackAction = expect8(401, 401, 401, 403, 202, 202, 404, 202);
const anyToken = expect8(401, 401, 401, 200, 200, 200, 200, 200);
const open = expect8(200, 200, 200, 200, 200, 200, 200, 200);
let runId = "";

const rows: Row[] = [
  { method: "GET", route: "/api/v1/session", path: () => "/api/v1/session", statuses: anyToken },
  { method: "GET", route: "/api/v1/stacks", path: () => "/api/v1/stacks", statuses: anyToken },
  { method: "GET", route: "/api/v1/environments", path: () => "/api/v1/environments", statuses: anyToken },
  { method: "GET", route: "/api/v1/runs", path: () => "/api/v1/runs", statuses: anyToken },
  { method: "GET", route: "/api/v1/composites", path: () => "/api/v1/composites", statuses: anyToken },
  { method: "GET", route: "/api/v1/agents", path: () => "/api/v1/agents", statuses: anyToken },
  // The delivery log: any token reads it; a project-scoped one sees only its own stacks' messages.
  { method: "GET", route: "/api/v1/notifications", path: () => "/api/v1/notifications", statuses: anyToken },
  // Only a platform-admin may send a test message; this platform declares no sink, so even it gets 404.
  {
    method: "POST",
    route: "/api/v1/notifications/{sink}/test",
    path: () => "/api/v1/notifications/none/test",
    statuses: expect8(401, 401, 401, 403, 403, 403, 403, 404),
  },
  // Another project's stacks do not exist for a token: promoting one is "no such application".
  { method: "GET", route: "/api/v1/promotions", path: () => "/api/v1/promotions?target=a-app&from=dev&to=prod", statuses: stackRead },
  { method: "GET", route: "/api/v1/composites.md", path: () => "/api/v1/composites.md", statuses: anyToken },
  { method: "GET", route: "/api/v1/audit", path: () => "/api/v1/audit", statuses: anyToken },
  { method: "GET", route: "/api/v1/audit/export", path: () => "/api/v1/audit/export", statuses: anyToken },
  { method: "GET", route: "/api/v1/audit/daily", path: () => "/api/v1/audit/daily", statuses: anyToken },
  { method: "GET", route: "/api/v1/compliance", path: () => "/api/v1/compliance", statuses: anyToken },
  { method: "GET", route: "/api/v1/compliance/summary", path: () => "/api/v1/compliance/summary", statuses: anyToken },
  { method: "GET", route: "/api/v1/catalog/backstage", path: () => "/api/v1/catalog/backstage", statuses: anyToken },
  { method: "GET", route: "/api/v1/events", path: () => "/api/v1/events?stack=a-app", statuses: anyToken },
  { method: "GET", route: "/api/v1/stacks/{stack}", path: () => "/api/v1/stacks/a-app", statuses: stackRead },
  { method: "GET", route: "/api/v1/stacks/{stack}/resources", path: () => "/api/v1/stacks/a-app/resources", statuses: stackRead },
  { method: "GET", route: "/api/v1/stacks/{stack}/plan", path: () => "/api/v1/stacks/a-app/plan", statuses: stackRead },
  {
    method: "GET",
    route: "/api/v1/stacks/{stack}/manifest",
    path: () => `/api/v1/stacks/a-app/manifest?address=${encodeURIComponent("file.plumb.dev/v1/File/note")}`,
    statuses: stackRead,
  },
  { method: "GET", route: "/api/v1/stacks/{stack}/sync-policy", path: () => "/api/v1/stacks/a-app/sync-policy", statuses: stackRead },
  { method: "GET", route: "/api/v1/stacks/{stack}/runs", path: () => "/api/v1/stacks/a-app/runs", statuses: stackRead },
  { method: "GET", route: "/api/v1/stacks/{stack}/runs/{run}", path: () => `/api/v1/stacks/a-app/runs/${runId}`, statuses: stackRead },
  { method: "GET", route: "/api/v1/stacks/{stack}/events", path: () => "/api/v1/stacks/a-app/events", statuses: stackRead },
  { method: "POST", route: "/api/v1/stacks/{stack}/refresh", path: () => "/api/v1/stacks/a-app/refresh", statuses: stackAction },
  { method: "POST", route: "/api/v1/stacks/{stack}/sync", path: () => "/api/v1/stacks/a-app/sync", statuses: stackAction },
  { method: "POST", route: "/api/v1/stacks/{stack}/suspend", path: () => "/api/v1/stacks/a-app/suspend", statuses: stackAction },
  { method: "POST", route: "/api/v1/stacks/{stack}/resume", path: () => "/api/v1/stacks/a-app/resume", statuses: stackAction },
  {
    method: "POST",
    route: "/api/v1/stacks/{stack}/rollback",
    path: () => "/api/v1/stacks/a-app/rollback",
    body: () => ({ revision: commit }),
    statuses: stackAction,
  },
  {
    method: "POST",
    route: "/api/v1/tokens",
    path: () => "/api/v1/tokens",
    body: (caller) => ({ name: `made-by-${caller}`, role: "viewer", project: "alpha" }),
    statuses: expect8(401, 401, 401, 403, 403, 201, 403, 201),
  },
  { method: "GET", route: "/api/v1/tokens", path: () => "/api/v1/tokens", statuses: expect8(401, 401, 401, 403, 403, 200, 403, 200) },
  // Each caller tries to revoke a token of project alpha made for it to try on.
  {
    method: "DELETE",
    route: "/api/v1/tokens/{name}",
    path: (caller) => `/api/v1/tokens/target-for-${caller}`,
    statuses: expect8(401, 401, 401, 404, 404, 200, 404, 200),
  },
];

/** Routes the OpenAPI document leaves out on purpose: health, metrics, the document itself, the webhook, the dashboard, sign-in. */
const hiddenRows: Row[] = [
  { method: "GET", route: "/api/v1/openapi.json", path: () => "/api/v1/openapi.json", statuses: anyToken },
  { method: "GET", route: "/healthz", path: () => "/healthz", statuses: open },
  { method: "GET", route: "/readyz", path: () => "/readyz", statuses: open },
  { method: "GET", route: "/metrics", path: () => "/metrics", statuses: open },
  // No webhook secret is set on this agent: every sender is refused, whatever token it holds.
  { method: "POST", route: "/hooks/git", path: () => "/hooks/git", body: () => ({}), statuses: expect8(401, 401, 401, 401, 401, 401, 401, 401) },
  { method: "GET", route: "/", path: () => "/", statuses: open },
  // Single sign-on is not set up on this agent (test/single-sign-on.test.ts signs in for real).
  { method: "GET", route: "/auth/config", path: () => "/auth/config", statuses: open },
  { method: "GET", route: "/auth/login", path: () => "/auth/login", statuses: expect8(404, 404, 404, 404, 404, 404, 404, 404) },
  { method: "GET", route: "/auth/callback", path: () => "/auth/callback?code=x&state=y", statuses: expect8(404, 404, 404, 404, 404, 404, 404, 404) },
  { method: "POST", route: "/auth/logout", path: () => "/auth/logout", statuses: open },
];

/** One request as `caller`; an event stream is read only to its status. */
async function send(caller: Caller, method: string, route: string, body?: unknown): Promise<{ status: number; text: string }> {
  const token = tokens.get(caller) ?? null;
  const abort = new AbortController();
  const response = await fetch(`${agent.url}${route}`, {
    method,
    signal: abort.signal,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    abort.abort();
    return { status: response.status, text: "" };
  }
  return { status: response.status, text: await response.text() };
}

async function createToken(name: string, role: string, project?: string, expiresAt?: string): Promise<string> {
  const created = await agent.api<{ token: string }>("POST", "/api/v1/tokens", {
    body: { name, role, ...(project === undefined ? {} : { project }), ...(expiresAt === undefined ? {} : { expiresAt }) },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.token;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-authorization-"));
  repository = createTestRepository();
  writeTwoProjects(repository, path.join(work, "out"));
  commit = repository.commit("two projects, a stack each");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
  });
  for (const stack of ["a-app", "b-app"])
    await eventually(async () => {
      const { body } = await agent.api<StackSummary>("GET", `/api/v1/stacks/${stack}`);
      return body.lastAppliedRevision === commit ? true : undefined;
    }, 30_000);
  runId = (await agent.api<{ items: { id: string }[] }>("GET", "/api/v1/stacks/a-app/runs")).body.items[0]?.id ?? "";

  tokens.set("anonymous", null);
  tokens.set("platform-admin", agent.adminToken);
  tokens.set("viewer-alpha", await createToken("viewer-alpha", "viewer", "alpha"));
  tokens.set("operator-alpha", await createToken("operator-alpha", "operator", "alpha"));
  tokens.set("admin-alpha", await createToken("admin-alpha", "admin", "alpha"));
  tokens.set("viewer-beta", await createToken("viewer-beta", "viewer", "beta"));
  tokens.set("revoked", await createToken("revoked", "platform-admin"));
  expect((await agent.api("DELETE", "/api/v1/tokens/revoked")).status).toBe(200);
  tokens.set("expired", await createToken("expired", "platform-admin", undefined, new Date(Date.now() + 1500).toISOString()));
  for (const caller of callers) await createToken(`target-for-${caller}`, "viewer", "alpha");
  await new Promise((resolve) => setTimeout(resolve, 1600));
}, 90_000);

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("authorization", () => {
  it("has a row for every route the server documents, and no row for a route it does not have", async () => {
    const document = (await agent.api<{ paths: Record<string, Record<string, unknown>> }>("GET", "/api/v1/openapi.json")).body;
    const documented = Object.entries(document.paths).flatMap(([route, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`));
    expect(documented.sort()).toEqual(rows.map((row) => `${row.method} ${row.route}`).sort());
    for (const row of hiddenRows) expect(documented).not.toContain(`${row.method} ${row.route}`);
  });

  it("answers every route × caller as the table says", async () => {
    const mismatches: string[] = [];
    for (const row of [...rows, ...hiddenRows]) {
      for (const caller of callers) {
        const { status, text } = await send(caller, row.method, row.path(caller), row.body?.(caller));
        if (status !== row.statuses[caller])
          mismatches.push(`${row.method} ${row.path(caller)} as ${caller}: ${status}, expected ${row.statuses[caller]} (${text.slice(0, 160)})`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("says why a revoked or expired token is refused, and shows another project's stacks to no one", async () => {
    expect((await send("revoked", "GET", "/api/v1/stacks")).text).toContain("token revoked was revoked at");
    expect((await send("expired", "GET", "/api/v1/stacks")).text).toContain("token expired expired at");

    const list = JSON.parse((await send("viewer-beta", "GET", "/api/v1/stacks")).text) as { total: number; items: StackSummary[]; problems: string[] };
    expect(list.items.map((stack) => stack.name)).toEqual(["b-app"]);
    expect(list.total).toBe(1);
    const everything = `${(await send("viewer-beta", "GET", "/api/v1/runs")).text}${(await send("viewer-beta", "GET", "/api/v1/audit")).text}${(await send("viewer-beta", "GET", "/api/v1/compliance")).text}${(await send("viewer-beta", "GET", "/api/v1/catalog/backstage")).text}${(await send("viewer-beta", "GET", "/api/v1/environments")).text}`;
    expect(everything).toContain("b-app");
    expect(everything).not.toContain("a-app");
    expect((await send("viewer-beta", "GET", "/api/v1/stacks/a-app")).text).toContain("no stack named a-app");
  });

  it("lists tokens without their values, and only the project's to its admin", async () => {
    const adminView = JSON.parse((await send("admin-alpha", "GET", "/api/v1/tokens")).text) as { items: Record<string, unknown>[] };
    expect(new Set(adminView.items.map((item) => item.project))).toEqual(new Set(["alpha"]));
    expect(adminView.items.map((item) => item.name)).toContain("viewer-alpha");
    const all = (await send("platform-admin", "GET", "/api/v1/tokens")).text;
    for (const value of tokens.values()) if (value !== null) expect(all).not.toContain(value);
    expect(JSON.parse(all).items.find((item: { name: string }) => item.name === "revoked").revokedAt).not.toBeNull();
    expect(JSON.parse(all).items.find((item: { name: string }) => item.name === "viewer-beta").lastUsedAt).not.toBeNull();
  });

  it("puts every refused action on the audit trail: who, what and why", async () => {
    const audit = JSON.parse((await send("platform-admin", "GET", "/api/v1/audit?kind=action&order=newest&limit=1000")).text) as {
      items: { actor: string; summary: { action?: string; reason?: string } }[];
    };
    const denied = audit.items.filter((item) => item.summary.action !== undefined && item.summary.reason !== undefined);
    expect(denied).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          actor: "viewer-alpha",
          summary: expect.objectContaining({ action: "sync a-app", reason: expect.stringContaining("needs operator in project alpha") }),
        }),
        expect.objectContaining({ actor: "operator-alpha", summary: expect.objectContaining({ action: "token.create" }) }),
        expect.objectContaining({ actor: "viewer-alpha", summary: expect.objectContaining({ action: "token.revoke" }) }),
      ]),
    );
  });
});
