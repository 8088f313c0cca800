// What the agent's actions may apply: a refresh only re-reads and compares (it
// heals only where selfHeal would), a sync applies but not into a suspended
// stack or a deny window unless the caller overrides, and the override is on
// the audit trail.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";

let repository: TestRepository;
let work: string;
let agent: RunningAgent;

function stackDocument(name: string, sync: string): string {
  return `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } } }\n  sync: { auto: true, prune: true, interval: 1h, driftInterval: 1h, ${sync} }\n`;
}

function manualFiles(a: string, b: string): string {
  return [a, b]
    .map(
      (content, index) =>
        `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${"ab"[index]} }\nspec: { path: ${"ab"[index]}.txt, content: ${content} }\n`,
    )
    .join("---\n");
}

const manualFile = (name: string) => path.join(work, "out", "manual", `${name}.txt`);
const exists = (file: string) => {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
};

const file = (name: string) => path.join(work, "out", name, "greeting.txt");
const ready = async (name: string) =>
  (await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`)).body.conditions.find((condition) => condition.type === "Ready");

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-actions-"));
  repository = createTestRepository();
  for (const [name, sync] of <[string, string][]>[
    ["no-heal", "selfHeal: false"],
    ["paused", "selfHeal: true"],
    ["windowed", "selfHeal: true, windows: [ { kind: deny, schedule: '0 0 * * *', duration: 24h } ]"],
  ]) {
    repository.write(`platform/${name}.yaml`, stackDocument(name, sync));
    repository.write(
      `apps/${name}/files.yaml`,
      `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: greeting }\nspec: { path: greeting.txt, content: "from git\\n" }\n`,
    );
  }
  // A stack synced only by hand: the one a selective sync is for.
  repository.write(
    "platform/manual.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: manual }\nspec:\n  source: { path: apps/manual }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", "manual"))} } } }\n  sync: { auto: false, prune: true, interval: 1h, driftInterval: 1h }\n`,
  );
  repository.write("apps/manual/files.yaml", manualFiles("one", "two"));
  repository.commit("four stacks");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
  });
  await eventually(
    async () => ((await ready("no-heal"))?.status === "True" && (await ready("paused"))?.status === "True" ? true : undefined),
    30_000,
    "two stacks applied",
  );
});

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("agent actions", () => {
  it("refresh finds drift on a stack without selfHeal and leaves it in place; a sync then applies", async () => {
    writeFileSync(file("no-heal"), "by hand\n");
    expect((await agent.api("POST", "/api/v1/stacks/no-heal/refresh")).status).toBe(202);
    const found = await eventually(
      async () => {
        const condition = await ready("no-heal");
        return condition?.reason === "Drifted" ? condition : undefined;
      },
      15_000,
      "drift reported",
    );
    expect(found.message).toContain("selfHeal is off");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(readFileSync(file("no-heal"), "utf8")).toBe("by hand\n");
    expect((await agent.api("POST", "/api/v1/stacks/no-heal/sync")).status).toBe(202);
    await eventually(async () => (readFileSync(file("no-heal"), "utf8") === "from git\n" ? true : undefined), 15_000, "synced by hand");
  });

  it("neither refresh nor sync applies to a suspended stack; sync with override does, and says so on the audit trail", async () => {
    expect((await agent.api("POST", "/api/v1/stacks/paused/suspend")).status).toBe(202);
    writeFileSync(file("paused"), "by hand\n");
    expect((await agent.api("POST", "/api/v1/stacks/paused/refresh")).status).toBe(202);
    await eventually(async () => ((await ready("paused"))?.reason === "Drifted" ? true : undefined), 15_000, "drift reported");
    expect((await agent.api("POST", "/api/v1/stacks/paused/sync")).status).toBe(202);
    await eventually(async () => ((await ready("paused"))?.message.includes("suspended") === true ? true : undefined), 15_000, "held by suspension");
    expect(readFileSync(file("paused"), "utf8")).toBe("by hand\n");
    const overridden = await agent.api<{ message: string }>("POST", "/api/v1/stacks/paused/sync", { body: { override: true } });
    expect(overridden.status).toBe(202);
    expect(overridden.body.message).toContain("overriding");
    await eventually(async () => (readFileSync(file("paused"), "utf8") === "from git\n" ? true : undefined), 15_000, "applied with override");
    const audit = await agent.api<{ items: { kind: string; stack: string; summary: { action?: string; override?: boolean } }[] }>(
      "GET",
      "/api/v1/audit?stack=paused&kind=action",
    );
    expect(audit.body.items.map((event) => event.summary)).toContainEqual({ action: "sync", override: true });
  });

  it("a deny window holds the first apply and a person's sync; an override applies", async () => {
    await eventually(async () => ((await ready("windowed"))?.message.includes("deny window") === true ? true : undefined), 15_000, "held by the window");
    expect((await agent.api("POST", "/api/v1/stacks/windowed/sync")).status).toBe(202);
    await eventually(
      async () => ((await ready("windowed"))?.message.includes("sync with override") === true ? true : undefined),
      15_000,
      "held for a person too",
    );
    expect(() => readFileSync(file("windowed"), "utf8")).toThrow(/ENOENT/);
    expect((await agent.api("POST", "/api/v1/stacks/windowed/sync", { body: { override: true } })).status).toBe(202);
    await eventually(async () => (readFileSync(file("windowed"), "utf8") === "from git\n" ? true : undefined), 15_000, "applied with override");
  });

  it("a dry run answers with what a sync would do and applies nothing; a selective sync applies only the chosen resources and holds the rest", async () => {
    type DryRun = { dryRun: boolean; revision: string; summary: Record<string, number>; changes: { address: string; action: string }[] };
    await eventually(async () => ((await ready("manual"))?.message.includes("sync.auto is off") === true ? true : undefined), 15_000, "held for a person");
    const whole = await agent.api<DryRun>("POST", "/api/v1/stacks/manual/sync", { body: { dryRun: true } });
    expect(whole.status).toBe(200);
    expect(whole.body.dryRun).toBe(true);
    expect(whole.body.summary.create).toBe(2);
    expect(whole.body.changes.map((change) => change.address).sort()).toEqual(["file.plumb.dev/v1/File/a", "file.plumb.dev/v1/File/b"]);
    expect(exists(manualFile("a"))).toBeUndefined();

    const chosen = await agent.api<DryRun>("POST", "/api/v1/stacks/manual/sync", { body: { dryRun: true, resources: ["file.plumb.dev/v1/File/a"] } });
    expect(chosen.body.changes.map((change) => `${change.action} ${change.address}`)).toEqual(["create file.plumb.dev/v1/File/a"]);
    expect(chosen.body.summary.create).toBe(1);

    const first = await agent.api<{ message: string }>("POST", "/api/v1/stacks/manual/sync", { body: { resources: ["file.plumb.dev/v1/File/a"] } });
    expect(first.status).toBe(202);
    expect(first.body.message).toContain("selective sync (1 resource(s))");
    await eventually(async () => (exists(manualFile("a")) === "one" ? true : undefined), 15_000, "a applied");
    await eventually(async () => ((await ready("manual"))?.message.includes("selective sync applied 1") === true ? true : undefined), 15_000, "the rest held");
    expect(exists(manualFile("b"))).toBeUndefined();
    expect((await agent.api("POST", "/api/v1/stacks/manual/sync")).status).toBe(202);
    await eventually(async () => (exists(manualFile("b")) === "two" ? true : undefined), 15_000, "b applied by a whole sync");
    await eventually(async () => ((await ready("manual"))?.status === "True" ? true : undefined), 15_000, "Ready");

    // A new commit changes both; a dry run and a sync of one of them touch only that one.
    repository.write("apps/manual/files.yaml", manualFiles("uno", "dos"));
    repository.commit("both files change");
    const next = await agent.api<DryRun>("POST", "/api/v1/stacks/manual/sync", { body: { dryRun: true, resources: ["file.plumb.dev/v1/File/a"] } });
    expect(next.body.changes.map((change) => `${change.action} ${change.address}`)).toEqual(["update file.plumb.dev/v1/File/a"]);
    expect(exists(manualFile("a"))).toBe("one");
    expect((await agent.api("POST", "/api/v1/stacks/manual/sync", { body: { resources: ["file.plumb.dev/v1/File/a"] } })).status).toBe(202);
    await eventually(async () => (exists(manualFile("a")) === "uno" ? true : undefined), 15_000, "a updated");
    const held = await eventually(
      async () => {
        const condition = await ready("manual");
        return condition?.message.includes("selective sync applied 1") === true ? condition : undefined;
      },
      15_000,
      "the rest held",
    );
    expect(held.status).toBe("False");
    expect(exists(manualFile("b"))).toBe("two");
    // The drift loop compares against what is applied now — the chosen resource at the new commit, the other at the old — so neither is drift.
    expect((await agent.api("POST", "/api/v1/stacks/manual/refresh")).status).toBe(202);
    await eventually(
      async () => {
        const events = await agent.api<{ items: { type: string }[] }>("GET", "/api/v1/stacks/manual/events?limit=50");
        return events.body.items.some((event) => event.type === "drift.detected")
          ? "drift"
          : (await agent.api<StackSummary>("GET", "/api/v1/stacks/manual")).body.drift === null
            ? true
            : undefined;
      },
      15_000,
      "drift checked",
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await agent.api<StackSummary>("GET", "/api/v1/stacks/manual")).body.drift).toBeNull();
    expect(
      (await agent.api<{ items: { type: string }[] }>("GET", "/api/v1/stacks/manual/events?limit=50")).body.items.map((event) => event.type),
    ).not.toContain("drift.detected");
    expect([exists(manualFile("a")), exists(manualFile("b"))]).toEqual(["uno", "two"]);

    expect((await agent.api("POST", "/api/v1/stacks/manual/sync")).status).toBe(202);
    await eventually(async () => (exists(manualFile("b")) === "dos" ? true : undefined), 15_000, "b applied");
    await eventually(async () => ((await ready("manual"))?.status === "True" ? true : undefined), 15_000, "Ready");
    const audit = await agent.api<{ items: { summary: { action?: string; resources?: string[] } }[] }>("GET", "/api/v1/audit?stack=manual&kind=action");
    expect(audit.body.items.map((event) => event.summary)).toContainEqual({ action: "sync", resources: ["file.plumb.dev/v1/File/a"] });
    // A dry run is a question: it is not on the audit trail.
    expect(audit.body.items.filter((event) => JSON.stringify(event.summary).includes("dryRun"))).toEqual([]);
  });

  it("refuses a selective sync that the stack's own policy would undo, and one of a stack that does not exist", async () => {
    const automatic = await agent.api<{ code: string; message: string }>("POST", "/api/v1/stacks/no-heal/sync", {
      body: { resources: ["file.plumb.dev/v1/File/greeting"] },
    });
    expect(automatic.status).toBe(409);
    expect(automatic.body.code).toBe("PLUMB_SELECTIVE_SYNC");
    expect(automatic.body.message).toContain("syncs automatically");
    expect((await agent.api("POST", "/api/v1/stacks/absent/sync", { body: { dryRun: true } })).status).toBe(404);
    expect((await agent.api("POST", "/api/v1/stacks/manual/sync", { body: { resources: [] } })).status).toBe(400);
  });

  it("refuses a sync body that is not an override flag", async () => {
    const response = await agent.api<{ message: string }>("POST", "/api/v1/stacks/paused/sync", { body: { override: "yes" } });
    expect(response.status).toBe(400);
    expect(response.body.message).toContain("override");
  });
});
