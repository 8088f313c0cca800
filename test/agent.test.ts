// The agent end to end: a real git repository over file://, the agent as a
// child process, its API and webhooks over real HTTP.

import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { runCli } from "./helpers.js";

const webhookSecret = "hook-secret-for-tests";

let repository: TestRepository;
let work: string;
let output: string;
let agent: RunningAgent;
let firstCommit: string;

function stackDocument(name: string, sourcePath: string, extra = ""): string {
  return [
    "apiVersion: plumb.dev/v1",
    "kind: Stack",
    `metadata: { name: ${name}, labels: { team: web } }`,
    "spec:",
    `  source: { path: ${sourcePath} }`,
    `  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(output, name))} } } }`,
    `  sync: { auto: true, prune: true, selfHeal: true, interval: 1h, driftInterval: 2s${extra} }`,
    "",
  ].join("\n");
}

const greeting = (text: string) =>
  `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: greeting }\nspec: { path: greeting.txt, content: ${JSON.stringify(text)} }\n`;

function signedPush(body: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "x-github-event": "push",
    "x-hub-signature-256": `sha256=${createHmac("sha256", webhookSecret).update(body).digest("hex")}`,
  };
}

const condition = (stack: StackSummary, type: string) => stack.conditions.find((item) => item.type === type);
const readGreeting = () => (existsSync(path.join(output, "app", "greeting.txt")) ? readFileSync(path.join(output, "app", "greeting.txt"), "utf8") : undefined);

async function stack(name: string): Promise<StackSummary> {
  const response = await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`);
  if (response.status !== 200) throw new Error(`GET stack ${name}: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-agent-"));
  output = path.join(work, "out");
  repository = createTestRepository();
  repository.write("platform/app.yaml", stackDocument("app", "apps/app"));
  repository.write("platform/broken.yaml", stackDocument("broken", "apps/broken"));
  repository.write("platform/bad-interval.yaml", stackDocument("bad-interval", "apps/app").replace("interval: 1h", "interval: 0s"));
  repository.write("platform/manual.yaml", stackDocument("manual", "apps/manual").replace("auto: true", "auto: false"));
  repository.write("apps/app/files.yaml", greeting("v1"));
  repository.write("apps/manual/files.yaml", greeting("by hand only"));
  repository.write("apps/broken/bad.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: x\nspec: [\n");
  firstCommit = repository.commit("first revision");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
    env: { PLUMB_WEBHOOK_SECRET: webhookSecret },
  });
});

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("plumb agent", () => {
  it("applies the platform's stacks and reports broken ones without holding up the rest", async () => {
    await eventually(async () => (condition(await stack("app"), "Ready")?.status === "True" ? true : undefined), 20_000, "app Ready");
    expect(readGreeting()).toBe("v1");
    expect((await stack("app")).lastAppliedRevision).toBe(firstCommit);

    const broken = await eventually(async () => {
      const current = await stack("broken");
      return condition(current, "Stalled")?.status === "True" ? current : undefined;
    });
    expect(condition(broken, "Stalled")?.reason).toBe("RenderFailed");
    expect(condition(broken, "Stalled")?.message).toMatch(/bad\.yaml:\d+/);

    const invalid = await stack("bad-interval");
    expect(condition(invalid, "Stalled")?.reason).toBe("InvalidDefinition");
    expect(condition(invalid, "Stalled")?.message).toContain("bad-interval.yaml");
  });

  it("only reports what a stack without sync.auto would change, applies it on a manual sync, and streams it", async () => {
    const waiting = await eventually(async () => {
      const current = await stack("manual");
      return condition(current, "Ready")?.reason === "OutOfSync" ? current : undefined;
    });
    expect(condition(waiting, "Ready")?.message).toContain("sync.auto is off");
    expect(existsSync(path.join(output, "manual", "greeting.txt"))).toBe(false);

    const controller = new AbortController();
    const stream = await fetch(`${agent.url}/api/v1/events?stack=manual`, {
      headers: { authorization: `Bearer ${agent.adminToken}` },
      signal: controller.signal,
    });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let streamed = "";
    const sawApplied = (async () => {
      while (!streamed.includes('"type":"run.finished"')) {
        const { value, done } = await reader.read();
        if (done) break;
        streamed += Buffer.from(value).toString();
      }
    })();
    expect((await agent.api("POST", "/api/v1/stacks/manual/sync")).status).toBe(202);
    await eventually(async () => (existsSync(path.join(output, "manual", "greeting.txt")) ? true : undefined), 10_000, "manual sync applied");
    await Promise.race([sawApplied, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    controller.abort();
    expect(streamed).toContain("event: status");
    expect(streamed).toContain('"stack":"manual"');
    expect(streamed).not.toContain('"stack":"app"');
    const runs = await agent.api<{ items: { trigger: string; actor: string | null }[] }>("GET", "/api/v1/stacks/manual/runs");
    expect(runs.body.items[0]).toMatchObject({ trigger: "api", actor: "bootstrap-admin" });
  });

  it("applies a pushed commit as soon as a signed webhook says so", async () => {
    repository.write("apps/app/files.yaml", greeting("v2"));
    const second = repository.commit("second revision");
    const body = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: repository.url } });
    const started = Date.now();
    const response = await agent.api<{ triggered: string[] }>("POST", "/hooks/git", { token: null, rawBody: body, headers: signedPush(body) });
    expect(response.status).toBe(202);
    expect(response.body.triggered).toContain("app");
    await eventually(async () => (readGreeting() === "v2" ? true : undefined), 10_000, "v2 applied");
    expect(Date.now() - started).toBeLessThan(10_000);
    await eventually(async () => ((await stack("app")).lastAppliedRevision === second ? true : undefined), 5_000, "revision recorded");
    // The commit did not touch the manual stack: it moves to the new revision without observing or planning.
    const manual = await eventually(
      async () => {
        const current = await stack("manual");
        return current.lastAppliedRevision === second ? current : undefined;
      },
      5_000,
      "manual stack at the new revision",
    );
    expect(condition(manual, "Ready")?.message).toContain("nothing in this stack changed");
  });

  it("reverts a change made by hand within a drift interval and records it as corrective", async () => {
    writeFileSync(path.join(output, "app", "greeting.txt"), "edited by hand");
    await eventually(async () => (readGreeting() === "v2" ? true : undefined), 15_000, "drift healed");
    const events = await agent.api<{ items: { type: string; address: string | null }[] }>("GET", "/api/v1/stacks/app/events");
    const types = events.body.items.map((event) => event.type);
    expect(types).toContain("drift.detected");
    expect(types).toContain("drift.healed");
    const runs = await agent.api<{ items: { trigger: string; result: string }[] }>("GET", "/api/v1/stacks/app/runs");
    expect(runs.body.items.some((run) => run.trigger === "drift" && run.result === "succeeded")).toBe(true);
  });

  it("rolls back to an earlier revision for an admin and suspends automatic sync", async () => {
    const response = await agent.api("POST", "/api/v1/stacks/app/rollback", { body: { revision: firstCommit.slice(0, 10) } });
    expect(response.status).toBe(202);
    await eventually(async () => (readGreeting() === "v1" ? true : undefined), 10_000, "rolled back");
    const current = await stack("app");
    expect(current.suspended).toBe(true);
    const runs = await agent.api<{ items: { trigger: string; actor: string | null; revision: string }[] }>("GET", "/api/v1/stacks/app/runs");
    expect(runs.body.items[0]).toMatchObject({ trigger: "rollback", actor: "bootstrap-admin", revision: firstCommit });
    // Resuming follows Git again.
    expect((await agent.api("POST", "/api/v1/stacks/app/resume")).status).toBe(202);
    await eventually(async () => (readGreeting() === "v2" ? true : undefined), 10_000, "back on the branch head");
  });

  it("answers only health and metrics without a token, and keeps actions from read-only tokens", async () => {
    for (const [method, route] of [
      ["GET", "/api/v1/stacks"],
      ["GET", "/api/v1/stacks/app"],
      ["GET", "/api/v1/openapi.json"],
      ["GET", "/api/v1/events"],
      ["GET", "/api/v1/audit"],
      ["GET", "/api/v1/no-such-route"],
      ["POST", "/api/v1/stacks/app/sync"],
      ["POST", "/api/v1/stacks/app/rollback"],
      ["POST", "/api/v1/tokens"],
    ] as const) {
      expect((await agent.api(method, route, { token: null })).status, `${method} ${route}`).toBe(401);
      expect((await agent.api(method, route, { token: "plumb_not-a-real-token" })).status, `${method} ${route} with a wrong token`).toBe(401);
    }
    expect((await agent.api("GET", "/healthz", { token: null })).status).toBe(200);
    expect((await agent.api("GET", "/readyz", { token: null })).status).toBe(200);
    const metrics = await agent.api<string>("GET", "/metrics", { token: null });
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain("plumb_runs_total");

    const created = await agent.api<{ token: string; role: string }>("POST", "/api/v1/tokens", { body: { name: "viewer", role: "viewer" } });
    expect(created.status).toBe(201);
    const viewer = created.body.token;
    expect((await agent.api("GET", "/api/v1/stacks", { token: viewer })).status).toBe(200);
    for (const action of ["sync", "refresh", "suspend", "resume"])
      expect((await agent.api("POST", `/api/v1/stacks/app/${action}`, { token: viewer })).status, action).toBe(403);
    expect((await agent.api("POST", "/api/v1/stacks/app/rollback", { token: viewer, body: { revision: firstCommit } })).status).toBe(403);
    expect((await agent.api("POST", "/api/v1/tokens", { token: viewer, body: { name: "x", role: "platform-admin" } })).status).toBe(403);
    expect(agent.output()).not.toContain(viewer);
  });

  it("lists stacks with filters and paging, and documents the API it validates with", async () => {
    const all = await agent.api<{ total: number; items: StackSummary[] }>("GET", "/api/v1/stacks?limit=2");
    expect(all.body.total).toBe(4);
    expect(all.body.items).toHaveLength(2);
    const stalled = await agent.api<{ items: StackSummary[] }>("GET", "/api/v1/stacks?condition=Stalled");
    expect(stalled.body.items.map((item) => item.name).sort()).toEqual(["bad-interval", "broken"]);
    expect((await agent.api("GET", "/api/v1/stacks?limit=0")).status).toBe(400);

    type Listed = { total: number; items: StackSummary[]; facets: { environments: string[]; teams: string[]; states: Record<string, number> } };
    const names = async (query: string) => (await agent.api<Listed>("GET", `/api/v1/stacks?${query}`)).body.items.map((item) => item.name);
    expect(await names("sort=name&order=desc")).toEqual(["manual", "broken", "bad-interval", "app"]);
    // State puts what needs a person first: the two stalled stacks, then the rest by name.
    expect((await names("sort=state")).slice(0, 2)).toEqual(["bad-interval", "broken"]);
    expect(await names("sort=state&order=desc&limit=2&offset=2")).toEqual(["bad-interval", "broken"]);
    expect(await names("q=BROK")).toEqual(["broken"]);
    expect(await names("team=web&state=Stalled")).toEqual(["bad-interval", "broken"]);
    expect(await names("team=nobody")).toEqual([]);
    expect(await names("environment=prod")).toEqual([]);
    const listed = (await agent.api<Listed>("GET", "/api/v1/stacks?limit=1")).body;
    expect(listed.facets.teams).toEqual(["web"]);
    expect(listed.facets.states.Stalled).toBe(2);
    expect(Object.values(listed.facets.states).reduce((sum, count) => sum + count, 0)).toBe(4);
    expect(listed.items[0]?.state).toBe("Ready");
    type Matrix = {
      environments: string[];
      applications: { name: string; cells: Record<string, { stack: string; revision: string | null; state: string }> }[];
    };
    const matrix = (await agent.api<Matrix>("GET", "/api/v1/environments")).body;
    expect(matrix.environments).toEqual(["(none)"]);
    expect(matrix.applications.map((application) => application.name)).toEqual(["app", "bad-interval", "broken", "manual"]);
    expect(matrix.applications[0]?.cells["(none)"]).toMatchObject({ stack: "app", state: "Ready", revision: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect((await agent.api<Matrix>("GET", "/api/v1/environments?q=BAD")).body.applications.map((application) => application.name)).toEqual(["bad-interval"]);
    const badSort = await agent.api<{ message: string }>("GET", "/api/v1/stacks?sort=colour");
    expect(badSort.status).toBe(400);
    expect(badSort.body.message).toContain("sort");
    expect((await agent.api("GET", "/api/v1/stacks/NOT_A_NAME")).status).toBe(400);
    expect((await agent.api("GET", "/api/v1/stacks/missing")).status).toBe(404);
    const openapi = await agent.api<{ openapi: string; paths: Record<string, unknown> }>("GET", "/api/v1/openapi.json");
    expect(openapi.body.openapi).toMatch(/^3\./);
    expect(Object.keys(openapi.body.paths)).toEqual(
      expect.arrayContaining(["/api/v1/stacks", "/api/v1/stacks/{stack}/rollback", "/api/v1/stacks/{stack}/resources"]),
    );
  });

  it("checks webhook signatures before parsing, caps bodies and survives garbage", async () => {
    const body = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: repository.url } });
    expect((await agent.api("POST", "/hooks/git", { token: null, rawBody: body, headers: { "content-type": "application/json" } })).status).toBe(401);
    expect(
      (
        await agent.api("POST", "/hooks/git", {
          token: null,
          rawBody: body,
          headers: { ...signedPush(body), "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
        })
      ).status,
    ).toBe(401);
    expect((await agent.api("POST", "/hooks/git", { token: null, rawBody: body, headers: { "x-gitlab-token": "wrong" } })).status).toBe(401);
    expect(
      (await agent.api("POST", "/hooks/git", { token: null, rawBody: body, headers: { "x-gitlab-token": webhookSecret, "content-type": "application/json" } }))
        .status,
    ).toBe(202);
    const huge = "x".repeat(1024 * 1024 + 10);
    expect((await agent.api("POST", "/hooks/git", { token: null, rawBody: huge, headers: signedPush(huge) })).status).toBe(413);
    const malformed = "{ not json";
    expect((await agent.api("POST", "/hooks/git", { token: null, rawBody: malformed, headers: signedPush(malformed) })).status).toBe(400);

    const statuses = new Set<number>();
    for (let index = 0; index < 2000; index++) {
      const random = randomBytes(index % 300);
      const headers: Record<string, string> =
        index % 3 === 0
          ? signedPush(random.toString("latin1"))
          : { "content-type": index % 2 === 0 ? "application/json" : "text/plain", "x-hub-signature-256": `sha256=${random.toString("hex").slice(0, 64)}` };
      const response = await agent.api("POST", "/hooks/git", {
        token: null,
        rawBody: index % 3 === 0 ? Buffer.from(random.toString("latin1"), "latin1") : random,
        headers,
      });
      statuses.add(response.status);
    }
    expect(
      [...statuses].every((status) => [202, 400, 401].includes(status)),
      [...statuses].join(","),
    ).toBe(true);
    expect((await agent.api("GET", "/healthz", { token: null })).status).toBe(200);
    expect(agent.process.exitCode).toBeNull();
  });

  it("keeps managing a stack whose Stack document breaks, and says where it broke", async () => {
    repository.write("platform/app.yaml", stackDocument("app", "apps/app").replace("sync: {", "sync: { notAField: 1,"));
    repository.commit("a typo in the platform");
    const body = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: repository.url } });
    expect((await agent.api("POST", "/hooks/git", { token: null, rawBody: body, headers: signedPush(body) })).status).toBe(202);
    const listed = await eventually(async () => {
      const response = await agent.api<{ items: StackSummary[]; problems: string[] }>("GET", "/api/v1/stacks");
      return response.body.problems.some((problem) => problem.includes("app.yaml")) ? response.body : undefined;
    });
    expect(listed.problems.find((problem) => problem.includes("app.yaml"))).toMatch(/app\.yaml:\d+:\d+.*notAField/);
    expect(listed.items.map((item) => item.name)).toContain("app");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(readGreeting()).toBe("v2");
    expect((await stack("app")).name).toBe("app");
  });

  it("keeps an audit trail of intentional, corrective, rollback and manual changes, with commit authors, that verifies", () => {
    const dataDir = path.join(work, "data");
    const exported = runCli(["audit", "export", "--stack", "app", "--data-dir", dataDir]);
    expect(exported.status, exported.stderr).toBe(0);
    const events = exported.stdout
      .trim()
      .split("\n")
      .map(
        (line) =>
          JSON.parse(line) as {
            kind: string;
            actor: string;
            resource: string | null;
            commit: string | null;
            author: string | null;
            commitMessage: string | null;
            summary: { action?: string };
          },
      );
    const kinds = new Set(events.map((event) => event.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(["change.intentional", "change.corrective", "change.rollback", "action"]));
    const corrective = events.find((event) => event.kind === "change.corrective");
    expect(corrective).toMatchObject({
      actor: "agent",
      resource: "file.plumb.dev/v1/File/greeting",
      author: "Ada Author <ada@example.org>",
      commitMessage: "second revision",
    });
    expect(events.find((event) => event.kind === "change.rollback")).toMatchObject({
      actor: "bootstrap-admin",
      commit: firstCommit,
      commitMessage: "first revision",
    });
    expect(events.filter((event) => event.kind === "action").map((event) => event.summary.action)).toEqual(expect.arrayContaining(["rollback", "resume"]));
    const verified = runCli(["audit", "verify", "--data-dir", dataDir]);
    expect(verified.status, verified.stderr).toBe(0);

    const history = runCli(["history", "app", "--resource", "file.plumb.dev/v1/File/greeting"], {
      env: { PLUMB_URL: agent.url, PLUMB_TOKEN: agent.adminToken },
    });
    expect(history.status, history.stderr).toBe(0);
    expect(history.stdout).toMatch(/change\.corrective\s+update\s+agent\s+[0-9a-f]{12} by Ada Author <ada@example\.org> "second revision"\s+\[\/content\]/);
    expect(history.stdout).toContain("change.rollback");
  });

  it("filters the audit trail by kind, actor and time over the API, exports what the CLI exports, and counts it per day", async () => {
    type Audit = { items: { sequence: number; kind: string; actor: string; stack: string; at: string }[] };
    const corrective = (await agent.api<Audit>("GET", "/api/v1/audit?kind=change.corrective&order=newest")).body.items;
    expect(corrective.length).toBeGreaterThan(0);
    expect(corrective.every((event) => event.kind === "change.corrective")).toBe(true);
    const byAdmin = (await agent.api<Audit>("GET", "/api/v1/audit?actor=bootstrap-admin")).body.items;
    expect(byAdmin.map((event) => event.kind)).toEqual(expect.arrayContaining(["change.rollback", "action"]));
    expect(byAdmin.every((event) => event.actor === "bootstrap-admin")).toBe(true);
    const all = (await agent.api<Audit>("GET", "/api/v1/audit?limit=1000")).body.items;
    const middle = all[Math.floor(all.length / 2)] as Audit["items"][number];
    const before = (await agent.api<Audit>("GET", `/api/v1/audit?until=${encodeURIComponent(middle.at)}&limit=1000`)).body.items;
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((event) => event.at < middle.at)).toBe(true);
    const newest = (await agent.api<Audit>("GET", `/api/v1/audit?order=newest&before=${middle.sequence}&limit=3`)).body.items;
    expect(newest.map((event) => event.sequence)).toEqual([middle.sequence - 1, middle.sequence - 2, middle.sequence - 3]);
    expect((await agent.api("GET", "/api/v1/audit?until=yesterday")).status).toBe(400);
    // A misspelt kind is refused rather than answered with an empty trail.
    const misspelt = await agent.api<{ message: string }>("GET", "/api/v1/audit?kind=drift.detect");
    expect(misspelt.status).toBe(400);
    expect(misspelt.body.message).toContain("kind");
    const misspeltCli = runCli(["audit", "export", "--kind", "drift.detect", "--data-dir", path.join(work, "data")]);
    expect(misspeltCli.status).toBe(1);
    expect(misspeltCli.stderr).toContain('--kind "drift.detect" is not a kind of audit event');
    expect(misspeltCli.stderr).toContain("drift.detected");

    const csv = await fetch(`${agent.url}/api/v1/audit/export?format=csv&stack=app`, { headers: { authorization: `Bearer ${agent.adminToken}` } });
    expect(csv.headers.get("content-type")).toContain("text/csv");
    const cli = runCli(["audit", "export", "--stack", "app", "--format", "csv", "--data-dir", path.join(work, "data")]);
    expect(await csv.text()).toBe(cli.stdout);
    const jsonl = await (
      await fetch(`${agent.url}/api/v1/audit/export?kind=change.rollback&actor=bootstrap-admin`, { headers: { authorization: `Bearer ${agent.adminToken}` } })
    ).text();
    const exported = jsonl
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { kind: string });
    expect(exported.length).toBeGreaterThan(0);
    expect(exported.every((event) => event.kind === "change.rollback")).toBe(true);
    expect(
      runCli(["audit", "export", "--kind", "change.rollback", "--actor", "bootstrap-admin", "--until", "0m", "--data-dir", path.join(work, "data")]).stdout,
    ).toBe(jsonl);
    const badUntil = runCli(["audit", "export", "--until", "yesterday", "--data-dir", path.join(work, "data")]);
    expect(badUntil.status).toBe(1);
    expect(badUntil.stderr).toContain('--until "yesterday" is neither a date nor an age');

    const daily = (await agent.api<{ since: string; items: { day: string; kind: string; count: number }[] }>("GET", "/api/v1/audit/daily?days=7")).body;
    const today = new Date().toISOString().slice(0, 10);
    const countedToday = daily.items.filter((item) => item.day === today).reduce((sum, item) => sum + item.count, 0);
    const allAfter = (await agent.api<Audit>("GET", "/api/v1/audit?limit=1000")).body.items;
    expect(countedToday).toBeGreaterThanOrEqual(all.filter((event) => event.at.startsWith(today)).length);
    expect(countedToday).toBeLessThanOrEqual(allAfter.filter((event) => event.at.startsWith(today)).length);
    expect(daily.items.find((item) => item.day === today && item.kind === "change.corrective")?.count).toBeGreaterThan(0);

    const runs = (await agent.api<{ items: { stack: string; startedAt: string }[] }>("GET", "/api/v1/runs?limit=50")).body.items;
    expect([...new Set(runs.map((run) => run.stack))]).toEqual(expect.arrayContaining(["app", "manual"]));
    expect(runs.map((run) => run.startedAt)).toEqual([...runs.map((run) => run.startedAt)].sort().reverse());
  });
});
