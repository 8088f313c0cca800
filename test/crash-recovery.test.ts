// SIGKILL the CLI at several points of an apply of 1,000 files: the next apply
// must resolve the journal and converge with no orphaned or duplicated files.

import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ProviderConnections } from "../src/engine/connections.js";
import { resolvePendingJournal } from "../src/engine/apply/recover.js";
import { defaultRegistry } from "../src/providers/registry.js";
import { renderStack } from "../src/render/load-stack.js";
import { openSqliteStore } from "../src/state/sqlite.js";
import { cliPath, createWorkspace, fileResource, runCli, type Workspace } from "./helpers.js";

let workspace: Workspace;
afterEach(() => workspace?.cleanup());

function writeStack(count: number): void {
  let text = "";
  for (let index = 0; index < count; index++) text += fileResource(`f${index}`, `f${index}.txt`, `content of file ${index}\n`);
  workspace.write("files.yaml", text);
}

function filesOnDisk(): string[] {
  try {
    return readdirSync(workspace.outputDir);
  } catch {
    return [];
  }
}

/** Starts an apply and SIGKILLs it once `killAt` files exist (or when it would finish anyway). */
function applyAndKill(killAt: number): Promise<{ killed: boolean; filesAtKill: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, "apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir], { stdio: "ignore" });
    let killed = false;
    let filesAtKill = 0;
    const timer = setInterval(() => {
      const count = filesOnDisk().length;
      if (count >= killAt && !killed) {
        killed = child.kill("SIGKILL");
        filesAtKill = count;
      }
    }, 2);
    child.on("exit", () => {
      clearInterval(timer);
      resolve({ killed, filesAtKill });
    });
  });
}

describe("crash recovery", () => {
  it("converges after SIGKILLs mid-apply, with the journal resolved and no orphans", async () => {
    workspace = createWorkspace({ prune: true });
    writeStack(1000);
    const kills = [];
    for (const killAt of [50, 400, 800]) kills.push(await applyAndKill(killAt));
    expect(kills.filter((kill) => kill.killed).length).toBeGreaterThanOrEqual(2);

    // Resources that may have been created by a killed run leave the stack: they must be pruned, not orphaned.
    writeStack(900);
    const final = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(final.stderr).toBe("");
    expect(final.status).toBe(0);
    expect(final.stdout).toContain("Resolved");

    const expected = Array.from({ length: 900 }, (_, index) => `f${index}.txt`).sort();
    expect(filesOnDisk().sort()).toEqual(expected);
    for (const name of ["f0.txt", "f450.txt", "f899.txt"]) {
      const index = name.slice(1, -4);
      expect(readFileSync(path.join(workspace.outputDir, name), "utf8")).toBe(`content of file ${index}\n`);
    }

    const store = await openSqliteStore(workspace.dataDir);
    try {
      const resources = await store.listResources("test");
      expect(resources.length).toBe(900);
      expect(new Set(resources.map((resource) => resource.address)).size).toBe(900);
      expect(await store.pendingJournalEntries("test")).toEqual([]);
      const journal = await store.listJournal("test");
      const resolved = journal.filter((entry) => entry.state === "resolved");
      expect(resolved.length).toBeGreaterThan(0);
      for (const entry of resolved) expect(entry.outcome).toMatch(/^(adopted|not-applied|deleted|still-present): /);
      const runs = await store.listRuns("test", 10);
      expect(runs.filter((run) => run.result === "interrupted").length).toBe(kills.filter((kill) => kill.killed).length);
      expect(runs.some((run) => run.result === "running")).toBe(false);

      // One audit event per change made, killed runs included: each kept file created once,
      // each pruned file created once and deleted once, nothing else.
      const audit = await store.listAudit({ stack: "test", limit: 100_000 });
      const actions = new Map<string, string[]>();
      for (const event of audit) {
        expect(event.kind).toBe("change.intentional");
        actions.set(event.resource as string, [...(actions.get(event.resource as string) ?? []), String(event.summary.action)]);
      }
      for (let index = 0; index < 1000; index++) {
        const address = `file.plumb.dev/v1/File/f${index}`;
        const made = actions.get(address) ?? [];
        if (index < 900) expect(made, address).toEqual(["create"]);
        else expect([[], ["create", "delete"]], address).toContainEqual(made);
      }
      for (const event of audit.filter((item) => item.summary.recovered === true)) expect(["adopted", "deleted"]).toContain(event.summary.resolution);
    } finally {
      await store.close();
    }
    expect(runCli(["plan", workspace.stackDir, "--detailed-exitcode", "--data-dir", workspace.dataDir]).status).toBe(0);
    const verified = runCli(["audit", "verify", "--data-dir", workspace.dataDir]);
    expect(verified.stdout + verified.stderr).toContain("intact");
    expect(verified.status).toBe(0);
  });

  it("resolves a sync hook's change cut off by a crash onto the audit trail, and records no resource for it", async () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", fileResource("migrate", "migrate.txt", "ran\n", { annotations: { "plumb.dev/hook": "pre-sync" } }));
    const registry = defaultRegistry();
    const rendered = await renderStack(workspace.stackDir, { registry });
    const hook = rendered.resources[0];
    if (hook === undefined) throw new Error("the hook did not render");
    // The hook's object was made, but the run was killed before its journal entry was completed.
    mkdirSync(workspace.outputDir, { recursive: true });
    writeFileSync(path.join(workspace.outputDir, "migrate.txt"), "ran\n");
    const store = await openSqliteStore(workspace.dataDir);
    try {
      const audit = { kind: "change.intentional" as const, actor: "test", trigger: "sync", commit: null, author: null, commitMessage: null };
      const intent = { apiVersion: hook.apiVersion, kind: hook.kind, name: hook.name, provider: hook.provider, targetSpec: hook.spec, desiredSpec: hook.spec };
      await store.addJournalEntry({
        runId: "cut-off",
        stack: "test",
        address: hook.address,
        action: "create",
        intent: { ...intent, dependsOn: [], prune: true, deletionPolicy: "Delete", audit, hook: true },
      });
      const resolved = await resolvePendingJournal(store, "test", new ProviderConnections(registry, rendered.definition));
      expect(resolved.map((entry) => entry.resolution)).toEqual(["adopted"]);
      expect(await store.listResources("test")).toEqual([]);
      const recovered = (await store.listAudit({ stack: "test", limit: 10 })).filter((event) => event.summary.recovered === true);
      expect(recovered.map((event) => event.resource)).toEqual([hook.address]);
    } finally {
      await store.close();
    }
  });
});
