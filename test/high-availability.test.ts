// Several real agent processes on one real PostgreSQL store: they share a
// fleet (an agent started later takes its share), never work on one stack at
// once (checked from the journal and the runs), answer for each other's stacks,
// take over from an agent killed mid-apply within the lease time, refuse every
// write of an agent that was paused past its lease, and ride out a restart of
// the database; the audit trail verifies after all of it.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { fileResource, runCliAsync } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
const leaseSeconds = 3;
const smallStacks = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
const bulkFiles = 150;
let work: string;
let repository: TestRepository;
let store: string;
const agents = new Map<string, RunningAgent>();
/** Agents under SIGSTOP: alive as far as Node can tell (no exit code), but they answer nothing. */
const paused = new Set<RunningAgent>();
let environment: Record<string, string>;

function writeFleet(version: string, bulkVersion = version): void {
  for (const stack of [...smallStacks, "bulk"]) {
    const root = path.join(work, "out", stack);
    repository.write(
      `platform/${stack}.yaml`,
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${stack} }\nspec:\n  source: { path: apps/${stack} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(root)} } } }\n  sync: { auto: true, prune: true, selfHeal: true, interval: 1s, driftInterval: 1h }\n`,
    );
    const count = stack === "bulk" ? bulkFiles : 4;
    const content = stack === "bulk" ? bulkVersion : version;
    const files = Array.from({ length: count }, (_, index) => fileResource(`f${index}`, `f${index}.txt`, `${stack} ${index} ${content}\n`));
    repository.write(`apps/${stack}/files.yaml`, files.join(""));
  }
}

function expectFiles(stack: string, version: string): void {
  const directory = path.join(work, "out", stack);
  const count = stack === "bulk" ? bulkFiles : 4;
  // Exactly the declared files (nothing orphaned, nothing twice), each with the declared content.
  expect(readdirSync(directory).sort()).toEqual(Array.from({ length: count }, (_, index) => `f${index}.txt`).sort());
  for (let index = 0; index < count; index++) expect(readFileSync(path.join(directory, `f${index}.txt`), "utf8")).toBe(`${stack} ${index} ${version}\n`);
}

async function startNamed(name: string): Promise<RunningAgent> {
  const agent = await startAgent(
    [
      "--platform",
      repository.url,
      "--path",
      "platform",
      "--data-dir",
      path.join(work, `data-${name}`),
      "--store",
      store,
      "--agent-name",
      name,
      "--lease-duration",
      `${leaseSeconds}s`,
      "--platform-interval",
      "2s",
      "--workers",
      "2",
    ],
    // The first agent writes the bootstrap token; the others find one in the store and leave the file as it is.
    { tokenFile: path.join(work, "token"), env: environment },
  );
  agents.set(name, agent);
  return agent;
}

/** The first agent's token works on every agent: tokens live in the store. */
function anyAgent(): RunningAgent {
  for (const agent of agents.values()) if (agent.process.exitCode === null && agent.process.signalCode === null && !paused.has(agent)) return agent;
  throw new Error("no agent runs");
}

async function api<Result>(agent: RunningAgent, method: string, route: string, body?: unknown): Promise<{ status: number; body: Result }> {
  return agent.api<Result>(method, route, { token: adminToken, ...(body === undefined ? {} : { body }) });
}

let adminToken: string;

async function query<Row extends Record<string, unknown>>(sql: string, parameters: unknown[] = []): Promise<Row[]> {
  return server.query<Row>(sql, parameters, "plumb_fleet");
}

async function allApplied(revision: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      const agent = anyAgent();
      for (const stack of [...smallStacks, "bulk"]) {
        const answer = await api<StackSummary>(agent, "GET", `/api/v1/stacks/${stack}`);
        if (answer.body.lastAppliedRevision !== revision) return undefined;
      }
      return true;
    },
    timeoutMs,
    `every stack at ${revision}`,
  );
}

async function holderOf(stack: string): Promise<string | undefined> {
  const rows = await query<{ name: string }>("SELECT agents.name FROM leases JOIN agents ON agents.id = leases.holder WHERE leases.stack = $1", [stack]);
  return rows[0]?.name;
}

/** Waits until the holder of `bulk` has written journal entries of a new run and not finished them all: it is mid-apply. */
async function midApplyOfBulk(after: string): Promise<{ holder: string; epoch: number }> {
  return eventually(
    async () => {
      const rows = await query<{ epoch: string; pending: string }>(
        "SELECT epoch, count(*) FILTER (WHERE state = 'pending') AS pending, count(*) AS total FROM journal WHERE stack = 'bulk' AND created_at > $1 GROUP BY epoch",
        [after],
      );
      const busy = rows.find((row) => Number(row.pending) > 0);
      if (busy === undefined) return undefined;
      const holder = await holderOf("bulk");
      return holder === undefined ? undefined : { holder, epoch: Number(busy.epoch) };
    },
    30_000,
    "an apply of bulk under way",
  );
}

describe("several agents on one PostgreSQL store", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-ha-"));
    await server.query("CREATE DATABASE plumb_fleet");
    store = `postgres://postgres@127.0.0.1:${server.port}/plumb_fleet`;
    environment = { PGPASSWORD: server.password };
    repository = createTestRepository();
  });

  afterAll(async () => {
    for (const agent of agents.values()) {
      if (paused.has(agent)) agent.process.kill("SIGCONT");
      await agent.stop("SIGKILL");
    }
    repository?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("share a fleet, an agent started later takes its share, and no stack is ever worked on by two at once", async () => {
    writeFleet("v1");
    const first = repository.commit("v1");
    adminToken = (await startNamed("agent-a")).adminToken;
    await startNamed("agent-b");
    await allApplied(first);
    for (const stack of [...smallStacks, "bulk"]) expectFiles(stack, "v1");

    await startNamed("agent-c");
    // Seven stacks over three agents: each ends up with two or three of them.
    const spread = await eventually(
      async () => {
        const rows = await query<{ name: string; held: string }>(
          "SELECT agents.name, count(leases.stack) AS held FROM agents LEFT JOIN leases ON leases.holder = agents.id GROUP BY agents.name",
        );
        const held = Object.fromEntries(rows.map((row) => [row.name, Number(row.held)]));
        return ["agent-a", "agent-b", "agent-c"].every((name) => (held[name] ?? 0) >= 2 && (held[name] ?? 0) <= 3) ? held : undefined;
      },
      30_000,
      "the stacks spread over three agents",
    );
    expect(Object.values(spread).reduce((sum, count) => sum + count, 0)).toBe(7);
    const listed = await api<{ answeredBy: string; items: { name: string; stacksHeld: number }[] }>(
      agents.get("agent-c") as RunningAgent,
      "GET",
      "/api/v1/agents",
    );
    expect(listed.body.answeredBy).toBe("agent-c");
    expect(listed.body.items.map((item) => item.name).sort()).toEqual(["agent-a", "agent-b", "agent-c"]);
    expect(listed.body.items.reduce((sum, item) => sum + item.stacksHeld, 0)).toBe(7);
    const metrics = await anyAgent().api<string>("GET", "/metrics", { token: null });
    expect(metrics.body).toMatch(/plumb_leases_held [1-9]/);
    expect(metrics.body).toMatch(/plumb_agents_live 3/);

    writeFleet("v2");
    const second = repository.commit("v2");
    await allApplied(second);
    for (const stack of [...smallStacks, "bulk"]) expectFiles(stack, "v2");
    // Every run was made by one agent; the three agents all made some.
    const makers = await query<{ agent: string }>("SELECT DISTINCT agent FROM runs WHERE revision = $1", [second]);
    expect(makers.length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it("answers through any agent: an action on one is carried out by the holder, and the event stream shows the other's work", async () => {
    const holder = (await holderOf("alpha")) as string;
    const other = [...agents.keys()].find((name) => name !== holder) as string;
    const via = agents.get(other) as RunningAgent;
    const stream = await fetch(`${via.url}/api/v1/events?stack=alpha`, { headers: { authorization: `Bearer ${adminToken}` } });
    const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    const heard = (async () => {
      const decoder = new TextDecoder();
      while (!seen.includes("run.finished")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += decoder.decode(value);
      }
    })();
    // A change by hand that only a sync with force repairs here (the drift loop is an hour away, a poll finds no new commit).
    writeFileSync(path.join(work, "out", "alpha", "f0.txt"), "changed by hand\n");
    const before = new Date().toISOString();
    expect((await api(via, "POST", "/api/v1/stacks/alpha/sync")).status).toBe(202);
    const run = await eventually(
      async () => (await query<{ agent: string; trigger: string }>("SELECT agent, trigger FROM runs WHERE stack = 'alpha' AND started_at > $1", [before]))[0],
      20_000,
      "the handed-over sync",
    );
    expect(run).toEqual({ agent: holder, trigger: "api" });
    await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await reader.cancel();
    expect(seen).toContain("run.finished");
    expect(seen).toContain('"stack":"alpha"');
    expectFiles("alpha", "v2");
  }, 60_000);

  it("takes over from an agent killed mid-apply within the lease time, with nothing orphaned or made twice", async () => {
    writeFleet("v2", "v3");
    const before = new Date().toISOString();
    const third = repository.commit("bulk v3");
    const { holder, epoch } = await midApplyOfBulk(before);
    const killedAt = Date.now();
    await (agents.get(holder) as RunningAgent).stop("SIGKILL");
    const takenOver = await eventually(
      async () => {
        const rows = await query<{ epoch: string; name: string }>(
          "SELECT leases.epoch, agents.name FROM leases JOIN agents ON agents.id = leases.holder WHERE stack = 'bulk'",
        );
        const row = rows[0];
        return row !== undefined && Number(row.epoch) > epoch ? { at: Date.now(), by: row.name } : undefined;
      },
      30_000,
      "another agent holding bulk",
    );
    expect(takenOver.by).not.toBe(holder);
    // Within the lease, plus one renewal round of the survivor (a third of it), the poll, and slack for a busy
    // 2-core machine running other tests beside (the benchmark measures it on a quiet one).
    expect(takenOver.at - killedAt).toBeLessThan((leaseSeconds + leaseSeconds / 3 + 3) * 1000);
    await allApplied(third);
    expectFiles("bulk", "v3");
    const pending = await query("SELECT id FROM journal WHERE stack = 'bulk' AND state = 'pending'");
    expect(pending).toEqual([]);
    const interrupted = await query<{ result: string }>("SELECT result FROM runs WHERE stack = 'bulk' AND agent = $1 AND revision = $2", [holder, third]);
    expect(interrupted.map((row) => row.result)).toEqual(["interrupted"]);
    agents.delete(holder);
  }, 90_000);

  it("refuses every write of an agent paused past its lease, which wakes up and writes nothing", async () => {
    await startNamed("agent-d");
    writeFleet("v2", "v4");
    const before = new Date().toISOString();
    const fourth = repository.commit("bulk v4");
    const { holder, epoch } = await midApplyOfBulk(before);
    const sleeper = agents.get(holder) as RunningAgent;
    sleeper.process.kill("SIGSTOP");
    paused.add(sleeper);
    try {
      await allApplied(fourth, 60_000);
      expectFiles("bulk", "v4");
    } finally {
      sleeper.process.kill("SIGCONT");
      paused.delete(sleeper);
    }
    const wokeAt = new Date().toISOString();
    // It has time to try: whatever it does now must be refused.
    await eventually(async () => (sleeper.output().includes("no longer holds stack bulk") ? true : undefined), 20_000, "the paused agent to notice");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stale = await query("SELECT id, state FROM journal WHERE stack = 'bulk' AND epoch = $1 AND (created_at >= $2 OR updated_at >= $2)", [epoch, wokeAt]);
    expect(stale).toEqual([]);
    const staleRuns = await query("SELECT id FROM runs WHERE stack = 'bulk' AND agent = $1 AND (started_at >= $2 OR finished_at >= $2)", [holder, wokeAt]);
    expect(staleRuns).toEqual([]);
    const status = await query<{ epoch: string }>("SELECT epoch FROM stack_status WHERE stack = 'bulk'");
    expect(Number(status[0]?.epoch)).toBeGreaterThan(epoch);
    expectFiles("bulk", "v4");
    expect(sleeper.process.exitCode).toBeNull();
  }, 120_000);

  it("rides out a restart of the store's PostgreSQL under load and loses nothing", async () => {
    writeFleet("v5", "v5");
    const fifth = repository.commit("v5 everywhere");
    await midApplyOfBulk(new Date(Date.now() - 5000).toISOString());
    await server.restart();
    await allApplied(fifth, 90_000);
    for (const stack of [...smallStacks, "bulk"]) expectFiles(stack, "v5");
    for (const agent of agents.values()) expect(agent.process.exitCode).toBeNull();
    expect(await query("SELECT id FROM journal WHERE state = 'pending'")).toEqual([]);
  }, 150_000);

  it("never had two agents on one stack, and keeps one audit chain that verifies", async () => {
    // Each run's span, from its first journal entry to the last one it finished itself (entries a successor resolved end when they began).
    const spans = await query<{ stack: string; run_id: string; started: string; ended: string }>(
      `SELECT stack, run_id, min(created_at) AS started, max(CASE WHEN state = 'resolved' THEN created_at ELSE updated_at END) AS ended
         FROM journal GROUP BY stack, run_id ORDER BY stack, started`,
    );
    expect(spans.length).toBeGreaterThan(20);
    const byStack = new Map<string, typeof spans>();
    for (const span of spans) byStack.set(span.stack, [...(byStack.get(span.stack) ?? []), span]);
    for (const [stack, list] of byStack)
      for (let index = 1; index < list.length; index++) {
        const previous = list[index - 1] as (typeof spans)[number];
        const current = list[index] as (typeof spans)[number];
        expect(
          current.started >= previous.ended,
          `${stack}: run ${current.run_id} started at ${current.started} before ${previous.run_id} ended at ${previous.ended}`,
        ).toBe(true);
      }
    const runs = await query<{ stack: string; started_at: string; finished_at: string }>(
      "SELECT stack, started_at, finished_at FROM runs WHERE finished_at IS NOT NULL ORDER BY stack, started_at",
    );
    for (let index = 1; index < runs.length; index++) {
      const previous = runs[index - 1] as (typeof runs)[number];
      const current = runs[index] as (typeof runs)[number];
      if (previous.stack === current.stack) expect(current.started_at >= previous.finished_at).toBe(true);
    }
    const verified = await runCliAsync(["audit", "verify", "--store", store], { env: environment });
    expect(verified.stdout).toMatch(/intact: [0-9]+ event\(s\)/);
  }, 60_000);
});
