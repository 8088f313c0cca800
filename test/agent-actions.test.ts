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
  repository.commit("three stacks");
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

  it("refuses a sync body that is not an override flag", async () => {
    const response = await agent.api<{ message: string }>("POST", "/api/v1/stacks/paused/sync", { body: { override: "yes" } });
    expect(response.status).toBe(400);
    expect(response.body.message).toContain("override");
  });
});
