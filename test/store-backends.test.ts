// The state store on both backends: the SQLite file of a data directory and a
// real PostgreSQL (--store postgres://…), through the same interface. Each
// case runs on each; the audit chain stays one gap-free, verifiable chain when
// many writers (several pools, as several agents would be) append at once.
// Then an agent runs a stack on the PostgreSQL store and the CLI reads it.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { openStore } from "../src/cli/context.js";
import { auditEvents } from "../src/state/audit-export.js";
import { verifyAuditChain } from "../src/state/audit.js";
import { maxAttempts, retryDelayMs, type QueuedNotification } from "../src/state/notification-queue.js";
import type { Store } from "../src/state/store.js";
import { eventually, startAgent } from "./agent-process.js";
import { createTestRepository } from "./git-repository.js";
import { runCliAsync } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
let work: string;
let databases = 0;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-stores-"));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** A fresh, empty store of each kind: a new data directory, or a new database on the server. */
const backends: [string, () => Promise<{ open: () => Promise<Store>; location: { dataDir: string; store?: string } }>][] = [
  [
    "SQLite",
    async () => {
      const location = { dataDir: mkdtempSync(path.join(work, "sqlite-")) };
      return { open: () => openStore(location), location };
    },
  ],
  [
    "PostgreSQL",
    async () => {
      const database = `plumb_${++databases}`;
      await server.query(`CREATE DATABASE ${database}`);
      process.env.PGPASSWORD = server.password;
      const location = { dataDir: mkdtempSync(path.join(work, "pg-")), store: `postgres://postgres@127.0.0.1:${server.port}/${database}` };
      return { open: () => openStore(location), location };
    },
  ],
];

describe.each(backends)("the %s store", (_name, fresh) => {
  it("keeps runs, statuses, events, tokens and sessions, and opens again without migrating twice", async () => {
    const { open } = await fresh();
    const store = await open();
    await store.createRun({
      id: "0b6a2f64-6a4e-4b61-9d0c-000000000001",
      stack: "web",
      trigger: "cli",
      revision: null,
      digest: "d1",
      environment: null,
      planSummary: null,
      result: "running",
      error: null,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      actor: null,
    });
    await store.finishRun("0b6a2f64-6a4e-4b61-9d0c-000000000001", "succeeded", null, {
      create: 1,
      update: 0,
      replace: 0,
      delete: 0,
      orphan: 0,
      retain: 0,
      noop: 0,
    });
    await store.putStackStatus({
      stack: "web",
      suspended: true,
      conditions: [],
      lastAppliedRevision: "abc",
      lastAttemptedRevision: "abc",
      lastAppliedDigest: "d1",
      drift: null,
    });
    await store.appendEvents([{ stack: "web", runId: null, address: null, type: "note", message: "hello" }]);
    await store.createToken(
      {
        id: "t1",
        name: "ci",
        role: "operator",
        project: "web",
        createdAt: new Date().toISOString(),
        expiresAt: null,
        lastUsedAt: null,
        revokedAt: null,
        createdBy: "admin",
      },
      "hash-1",
    );
    await store.createSession("session-hash", {
      subject: "alice",
      name: "alice@example.org",
      groups: ["a", "b"],
      csrf: "c",
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    await store.close();

    const again = await open();
    try {
      const [run] = await again.listRuns("web", 10);
      expect(run).toMatchObject({ result: "succeeded", planSummary: { create: 1 } });
      expect(await again.getStackStatus("web")).toMatchObject({ suspended: true, lastAppliedRevision: "abc" });
      expect((await again.listEvents("web", 10)).map((event) => event.message)).toEqual(["hello"]);
      expect(await again.findToken("hash-1")).toMatchObject({ name: "ci", role: "operator", project: "web", revokedAt: null });
      expect(await again.revokeToken("ci", new Date().toISOString())).toBe(true);
      expect(await again.revokeToken("ci", new Date().toISOString())).toBe(false);
      expect(await again.findSession("session-hash", new Date().toISOString())).toMatchObject({ name: "alice@example.org", groups: ["a", "b"] });
      expect(await again.findSession("session-hash", new Date(Date.now() + 120_000).toISOString())).toBeUndefined();
      expect((await again.deleteSession("session-hash"))?.subject).toBe("alice");
    } finally {
      await again.close();
    }
  });

  it("keeps one gap-free, verifiable audit chain when several writers append at once", async () => {
    const { open, location } = await fresh();
    // PostgreSQL: three stores on one database, three connection pools, as three agents would have. SQLite has one
    // writer per data directory (the agent locks it), so its writers are concurrent appends through one store.
    const writers = location.store === undefined ? [await open()] : await Promise.all([open(), open(), open()]);
    const perWriter = 45 / writers.length;
    try {
      await Promise.all(
        writers.flatMap((store, writer) =>
          Array.from({ length: perWriter }, (_, index) =>
            store.appendAudit([
              { kind: "action", actor: `writer-${writer}`, stack: "web", resource: null, commit: null, author: null, commitMessage: null, summary: { index } },
              {
                kind: "action",
                actor: `writer-${writer}`,
                stack: "web",
                resource: null,
                commit: null,
                author: null,
                commitMessage: null,
                summary: { index, second: true },
              },
            ]),
          ),
        ),
      );
      const store = writers[0] as Store;
      const verdict = await verifyAuditChain(auditEvents(store, {}), await store.auditHead());
      expect(verdict).toEqual(expect.objectContaining({ ok: true, count: 90 }));
    } finally {
      await Promise.all(writers.map((store) => store.close()));
    }
  });

  it("queues notifications: repeats counted on the first, each message claimed by one sender, retried with backoff, then given up on", async () => {
    const { open, location } = await fresh();
    // Two senders on PostgreSQL (two agents); SQLite has one agent per store.
    const senders = location.store === undefined ? [await open()] : await Promise.all([open(), open()]);
    const queue = (senders[0] as Store).notificationQueue;
    try {
      const message = (stack: string) => ({
        sink: "ops",
        trigger: "sync-failed",
        stack,
        dedupKey: `ops|sync-failed|${stack}`,
        windowMs: 3_600_000,
        payload: { title: stack },
      });
      const now = Date.now();
      expect(await queue.enqueue(message("web"), now)).toBe("queued");
      expect(await queue.enqueue(message("web"), now + 1000)).toBe("repeat");
      expect(await queue.enqueue(message("web"), now + 2000)).toBe("repeat");
      for (let index = 0; index < 20; index++) await queue.enqueue(message(`app-${index}`), now);
      // After the window the same news is queued again: the reminder.
      expect(await queue.enqueue(message("web"), now + 3_600_001)).toBe("queued");
      // Every due message goes to exactly one sender, however many ask at once.
      const claimed = (
        await Promise.all(senders.flatMap((sender) => [sender.notificationQueue.claimDue(50, now + 10), sender.notificationQueue.claimDue(50, now + 10)]))
      ).flat();
      expect(claimed.map((item) => item.stack).sort()).toEqual([...Array.from({ length: 20 }, (_, index) => `app-${index}`), "web"].sort());
      expect(new Set(claimed.map((item) => item.id)).size).toBe(claimed.length);
      const web = claimed.find((item) => item.stack === "web") as QueuedNotification;
      expect(web).toMatchObject({ attempts: 1, repeats: 2, state: "pending" });
      // Claimed for a minute: not due again meanwhile.
      expect(await queue.claimDue(50, now + 30_000)).toEqual([]);
      expect(await queue.attemptFailed(web, "HTTP 503", now + 100)).toBe("pending");
      expect((await queue.claimDue(50, now + 100 + retryDelayMs(1) - 1)).map((item) => item.id)).not.toContain(web.id);
      let current = (await queue.claimDue(50, now + 100 + retryDelayMs(1))).find((item) => item.id === web.id) as QueuedNotification;
      expect(current.attempts).toBe(2);
      let at = now + 200_000;
      while (current.attempts < maxAttempts) {
        await queue.attemptFailed(current, "HTTP 503", at);
        at += 700_000;
        current = (await queue.claimDue(50, at)).find((item) => item.id === web.id) as QueuedNotification;
      }
      expect(await queue.attemptFailed(current, "HTTP 503 for good", at)).toBe("failed");
      const logged = (await queue.list({ sink: "ops", limit: 100 })).find((item) => item.id === web.id);
      expect(logged).toMatchObject({ state: "failed", attempts: maxAttempts, lastError: "HTTP 503 for good" });
      await queue.delivered((claimed.find((item) => item.stack === "app-0") as QueuedNotification).id);
      expect(await queue.counts()).toEqual(
        expect.arrayContaining([
          { sink: "ops", state: "delivered", count: 1 },
          { sink: "ops", state: "failed", count: 1 },
        ]),
      );
    } finally {
      await Promise.all(senders.map((store) => store.close()));
    }
  });
});

describe("an agent on the PostgreSQL store", () => {
  it("applies a stack, and the CLI reads its audit trail from the same database", async () => {
    const database = `plumb_${++databases}`;
    await server.query(`CREATE DATABASE ${database}`);
    const store = `postgres://postgres@127.0.0.1:${server.port}/${database}`;
    const repository = createTestRepository();
    const output = path.join(work, "agent-out");
    repository.write(
      "platform/web.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web }\nspec:\n  source: { path: apps/web }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(output)} } } }\n  sync: { auto: true, interval: 1h }\n`,
    );
    repository.write("apps/web/file.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: note }\nspec: { path: note.txt, content: hi }\n");
    const commit = repository.commit("one stack");
    const environment = { PGPASSWORD: server.password };
    const agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "agent-data"), "--store", store], {
      tokenFile: path.join(work, "agent-token"),
      env: environment,
    });
    try {
      await eventually(
        async () => ((await agent.api<StackSummary>("GET", "/api/v1/stacks/web")).body.lastAppliedRevision === commit ? true : undefined),
        30_000,
      );
      expect(agent.output()).not.toContain(server.password);
    } finally {
      await agent.stop();
      repository.cleanup();
    }
    const verified = await runCliAsync(["audit", "verify", "--store", store], { env: environment });
    expect(verified.stderr).toBe("");
    expect(verified.stdout).toMatch(/intact: [1-9][0-9]* event/);
    const missing = await runCliAsync(["audit", "verify", "--store", `postgres://postgres@127.0.0.1:${server.port}/postgres`], { env: environment });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("there is no Plumb state in postgres://postgres@127.0.0.1");
    const wrong = await runCliAsync(["state", "list", "--store", `postgres://postgres:not-the-password@127.0.0.1:${server.port}/${database}`], { env: {} });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).not.toContain("not-the-password");
  }, 90_000);
});

describe("an agent whose PostgreSQL store goes away", () => {
  it("keeps running while the database refuses it, and goes on where it left off when it is back", async () => {
    const database = `plumb_${++databases}`;
    await server.query(`CREATE DATABASE ${database}`);
    const store = `postgres://postgres@127.0.0.1:${server.port}/${database}`;
    const repository = createTestRepository();
    const output = path.join(work, "outage-out");
    repository.write(
      "platform/web.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web }\nspec:\n  source: { path: apps/web }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(output)} } } }\n  sync: { auto: true, selfHeal: true, interval: 1s, driftInterval: 1s }\n`,
    );
    const file = (content: string) => `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: note }\nspec: { path: note.txt, content: ${content} }\n`;
    repository.write("apps/web/file.yaml", file("before"));
    const first = repository.commit("before the outage");
    const environment = { PGPASSWORD: server.password };
    const agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "outage-data"), "--store", store], {
      tokenFile: path.join(work, "outage-token"),
      env: environment,
    });
    try {
      await eventually(
        async () => ((await agent.api<StackSummary>("GET", "/api/v1/stacks/web")).body.lastAppliedRevision === first ? true : undefined),
        30_000,
      );
      // The database goes away: new connections refused, the agent's open ones cut.
      await server.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS false`);
      await server.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [database]);
      repository.write("apps/web/file.yaml", file("after"));
      const second = repository.commit("during the outage");
      await new Promise((resolve) => setTimeout(resolve, 5000));
      expect(agent.process.exitCode).toBeNull();
      // It was felt: the jobs of the outage failed and said why.
      expect(agent.output()).toContain(`database \\"${database}\\" is not currently accepting connections`);
      expect((await agent.api("GET", "/healthz", { token: null })).status).toBe(200);
      // Back: the commit made during the outage is applied, and the trail still verifies.
      await server.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS true`);
      await eventually(
        async () => ((await agent.api<StackSummary>("GET", "/api/v1/stacks/web")).body.lastAppliedRevision === second ? true : undefined),
        60_000,
      );
      expect(readFileSync(path.join(output, "note.txt"), "utf8")).toBe("after");
    } finally {
      await agent.stop();
      repository.cleanup();
    }
    expect((await runCliAsync(["audit", "verify", "--store", store], { env: environment })).stdout).toContain("intact");
  }, 120_000);
});

describe("plumb store migrate", () => {
  it("moves a SQLite store into an empty PostgreSQL database with its audit chain intact, and refuses a database in use", async () => {
    const dataDir = mkdtempSync(path.join(work, "to-move-"));
    const source = await openStore({ dataDir });
    await source.putStackStatus({
      stack: "web",
      suspended: false,
      conditions: [],
      lastAppliedRevision: "abc",
      lastAttemptedRevision: "abc",
      lastAppliedDigest: "d",
      drift: null,
    });
    await source.appendEvents([{ stack: "web", runId: null, address: null, type: "note", message: "one" }]);
    for (let index = 0; index < 30; index++)
      await source.appendAudit([
        { kind: "action", actor: "admin", stack: "web", resource: null, commit: null, author: null, commitMessage: null, summary: { index } },
      ]);
    await source.close();

    const database = `plumb_${++databases}`;
    await server.query(`CREATE DATABASE ${database}`);
    const target = `postgres://postgres@127.0.0.1:${server.port}/${database}`;
    const environment = { PGPASSWORD: server.password };
    const moved = await runCliAsync(["store", "migrate", "--from", dataDir, "--to", target], { env: environment });
    expect(moved.stderr).toBe("");
    expect(moved.stdout).toMatch(/audit_events\s+30 row\(s\)/);
    expect(moved.stdout).toContain(`moved to ${target}; audit trail intact there: 30 event(s)`);
    expect((await runCliAsync(["audit", "verify", "--store", target], { env: environment })).stdout).toContain("intact: 30 event(s)");

    // The moved store goes on: a new event and a new audit event follow the old ones.
    process.env.PGPASSWORD = server.password;
    const continued = await openStore({ dataDir, store: target });
    try {
      await continued.appendEvents([{ stack: "web", runId: null, address: null, type: "note", message: "two" }]);
      await continued.appendAudit([
        { kind: "action", actor: "admin", stack: "web", resource: null, commit: null, author: null, commitMessage: null, summary: {} },
      ]);
      expect((await continued.listEvents("web", 10)).map((event) => event.message).sort()).toEqual(["one", "two"]);
      expect(await verifyAuditChain(auditEvents(continued, {}), await continued.auditHead())).toEqual(expect.objectContaining({ ok: true, count: 31 }));
    } finally {
      await continued.close();
    }

    const again = await runCliAsync(["store", "migrate", "--from", dataDir, "--to", target], { env: environment });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("the target store is not empty");
  }, 60_000);
});
