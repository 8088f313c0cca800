// A tampered or broken state store: garbage, truncation, a directory in its
// place, rows edited by someone with database access. Plumb says what is wrong
// with the store and how to recover, and a tampered row never makes it write
// outside a provider's root.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { cliPath, createWorkspace, fileResource, runCli, runCliAsync, type Workspace } from "../helpers.js";

let workspace: Workspace;
afterEach(() => workspace?.cleanup());

function applied(): Workspace {
  workspace = createWorkspace({ prune: true });
  workspace.write("files.yaml", fileResource("a", "a.txt", "one\n") + fileResource("b", "sub/b.txt", "two\n"));
  const result = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
  expect(result.status, result.stderr).toBe(0);
  return workspace;
}

const database = () => path.join(workspace.dataDir, "plumb.db");

function tamper(statement: string, ...parameters: unknown[]): void {
  const connection = new BetterSqlite3(database());
  connection.prepare(statement).run(...parameters);
  connection.close();
}

describe("a tampered state store", () => {
  it("of garbage is named damaged, with how to recover", () => {
    applied();
    rmSync(`${database()}-wal`, { force: true });
    rmSync(`${database()}-shm`, { force: true });
    writeFileSync(database(), "this is not a database ".repeat(1000));
    for (const args of [
      ["plan", workspace.stackDir],
      ["audit", "verify"],
      ["state", "list"],
    ]) {
      const result = runCli([...args, "--data-dir", workspace.dataDir]);
      expect(result.status, args.join(" ")).toBe(1);
      expect(result.stderr).toContain("is damaged");
      expect(result.stderr).toContain("PLUMB_STORE_CORRUPT");
      expect(result.stderr).toContain("restore");
    }
  });

  it("cut in half is named damaged", () => {
    applied();
    runCli(["state", "list", "--data-dir", workspace.dataDir]);
    rmSync(`${database()}-wal`, { force: true });
    rmSync(`${database()}-shm`, { force: true });
    const size = readFileSync(database()).length;
    truncateSync(database(), Math.floor(size / 2));
    const result = runCli(["audit", "verify", "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/is damaged|BROKEN|malformed/);
  });

  it("replaced by a directory gets a clear error", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", fileResource("a", "a.txt", "one\n"));
    mkdirSync(path.join(database()), { recursive: true });
    const result = runCli(["plan", workspace.stackDir, "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/state store at .*plumb\.db/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("that does not exist is not created by audit verify", () => {
    workspace = createWorkspace();
    const missing = path.join(workspace.root, "typo");
    const result = runCli(["audit", "verify", "--data-dir", missing]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("there is no state store in");
    expect(existsSync(missing)).toBe(false);
  });

  it("with a record whose path was edited to climb out deletes nothing outside the root", () => {
    applied();
    const outside = path.join(workspace.root, "outside.txt");
    writeFileSync(outside, "keep\n");
    tamper("UPDATE resources SET applied_spec = ? WHERE address = ?", JSON.stringify({ path: "../outside.txt", content: "one\n" }), "file.plumb.dev/v1/File/a");
    workspace.write("files.yaml", fileResource("b", "sub/b.txt", "two\n"));
    const result = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(`${result.stdout}${result.stderr}`).toContain("resolves outside the provider's root");
    expect(readFileSync(outside, "utf8")).toBe("keep\n");
  });

  it("with a pending journal entry edited to write outside the root writes nothing there", () => {
    applied();
    const connection = new BetterSqlite3(database());
    const run = connection.prepare("SELECT id FROM runs LIMIT 1").get() as { id: string };
    connection
      .prepare(
        "INSERT INTO journal (id, run_id, stack, address, action, intent, state, outcome, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?)",
      )
      .run(
        "tampered",
        run.id,
        "test",
        "file.plumb.dev/v1/File/evil",
        "create",
        JSON.stringify({
          apiVersion: "file.plumb.dev/v1",
          kind: "File",
          name: "evil",
          provider: "default",
          targetSpec: { path: "../../evil.txt", content: "x" },
          desiredSpec: { path: "../../evil.txt", content: "x" },
          dependsOn: [],
          prune: true,
          deletionPolicy: "Delete",
        }),
        new Date().toISOString(),
        new Date().toISOString(),
      );
    connection.close();
    const result = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(result.stdout).toContain("unresolvable");
    expect(existsSync(path.join(workspace.root, "..", "evil.txt"))).toBe(false);
    expect(readdirSync(workspace.root).sort()).toEqual(["data", "out", "stack"]);
  });

  it("with an audit event's summary rewritten is caught by audit verify", () => {
    applied();
    tamper("UPDATE audit_events SET summary = ? WHERE sequence = 1", JSON.stringify({ action: "create", reason: "nothing to see" }));
    const result = runCli(["audit", "verify", "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("BROKEN at event #1");
  });

  it("with a resource row that is not JSON says which resource, and leaves the rest", () => {
    applied();
    tamper("UPDATE resources SET applied_spec = ? WHERE address = ?", "{not json", "file.plumb.dev/v1/File/a");
    const result = runCli(["plan", workspace.stackDir, "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("file.plumb.dev/v1/File/a");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("a new state store opened by several processes at once", () => {
  it("is migrated once, and every process gets its answer", async () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", fileResource("a", "a.txt", "one\n"));
    const results = await Promise.all(Array.from({ length: 12 }, () => runCliAsync(["plan", workspace.stackDir, "--data-dir", workspace.dataDir])));
    for (const result of results) {
      expect(result.stderr).toBe("");
      expect(result.status).toBe(0);
    }
  });
});

describe("a full disk under the state store", () => {
  it("is named, with the directory to free, and the next run on a roomier disk converges", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", Array.from({ length: 300 }, (_, index) => fileResource(`f${index}`, `f${index}.txt`, "x".repeat(2000))).join(""));
    // A 400 kB file system of its own for the data directory (bubblewrap mounts it; nothing else changes).
    const full = spawnSync(
      "bwrap",
      [
        "--dev-bind",
        "/",
        "/",
        "--size",
        "400000",
        "--tmpfs",
        workspace.dataDir,
        process.execPath,
        cliPath,
        "apply",
        workspace.stackDir,
        "--yes",
        "--data-dir",
        workspace.dataDir,
      ],
      { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
    );
    expect(full.status).toBe(1);
    expect(full.stderr).toContain("PLUMB_STORE_FULL");
    expect(full.stderr).toContain(`free space on the file system of`);
    expect(full.stderr).not.toMatch(/\n\s+at /);
    const roomy = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(roomy.status, roomy.stderr).toBe(0);
    expect(runCli(["plan", workspace.stackDir, "--detailed-exitcode", "--data-dir", workspace.dataDir]).status).toBe(0);
  });
});
