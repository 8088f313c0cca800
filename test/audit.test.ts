// The audit trail: what applies append, its export, and `plumb audit verify`
// against rows edited, removed, reordered or cut off directly in the SQLite file.

import { copyFileSync, mkdirSync } from "node:fs";
import { userInfo } from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvField } from "../src/csv.js";
import { redactSecrets } from "../src/state/audit.js";
import { createWorkspace, fileResource, runCli, type Workspace } from "./helpers.js";

let workspace: Workspace;

beforeAll(() => {
  workspace = createWorkspace({ name: "audited", prune: true });
  workspace.write("files.yaml", fileResource("a", "a.txt", "one") + fileResource("b", "b.txt", "one") + fileResource("c", "c.txt", '=HYPERLINK("x")'));
  expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]).status).toBe(0);
  workspace.write("files.yaml", fileResource("a", "a.txt", "two") + fileResource("b", "b.txt", "one") + fileResource("c", "c.txt", '=HYPERLINK("x")'));
  expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]).status).toBe(0);
});

afterAll(() => workspace?.cleanup());

interface ExportedEvent {
  sequence: number;
  kind: string;
  actor: string;
  stack: string;
  resource: string;
  summary: { action: string; fields: { path: string; before: unknown; after: unknown }[] };
  previousHash: string;
  hash: string;
}

function exported(dataDir = workspace.dataDir, extra: string[] = []): ExportedEvent[] {
  const result = runCli(["audit", "export", "--data-dir", dataDir, ...extra]);
  expect(result.status, result.stderr).toBe(0);
  return result.stdout
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as ExportedEvent);
}

/** A copy of the store to tamper with, leaving the original intact for the next case. */
function tamperedCopy(name: string, statements: string[]): string {
  const directory = path.join(workspace.root, `tampered-${name}`);
  mkdirSync(directory, { recursive: true });
  const source = new BetterSqlite3(path.join(workspace.dataDir, "plumb.db"));
  source.pragma("wal_checkpoint(TRUNCATE)");
  source.close();
  copyFileSync(path.join(workspace.dataDir, "plumb.db"), path.join(directory, "plumb.db"));
  const database = new BetterSqlite3(path.join(directory, "plumb.db"));
  for (const statement of statements) database.exec(statement);
  database.close();
  return directory;
}

describe("the audit trail", () => {
  it("records every change with actor, resource and the fields that changed, chained by hash", () => {
    const events = exported();
    // The first run's three creates are recorded as each one finishes (in any order), the second run's update after them.
    const described = events.map((event) => `${event.summary.action} ${event.resource}`);
    expect(described.slice(0, 3).sort()).toEqual(["create file.plumb.dev/v1/File/a", "create file.plumb.dev/v1/File/b", "create file.plumb.dev/v1/File/c"]);
    expect(described[3]).toBe("update file.plumb.dev/v1/File/a");
    const update = events[3] as ExportedEvent;
    expect(update).toMatchObject({ sequence: 4, kind: "change.intentional", actor: `cli:${userInfo().username}`, stack: "audited" });
    expect(update.summary.fields).toEqual([{ path: "/content", before: "one", after: "two" }]);
    for (const [index, event] of events.entries()) expect(event.previousHash).toBe(index === 0 ? "0".repeat(64) : events[index - 1]?.hash);
    const verified = runCli(["audit", "verify", "--data-dir", workspace.dataDir]);
    expect(verified.status).toBe(0);
    expect(verified.stdout).toContain(`4 event(s), head ${update.hash}`);
  });

  it("names the first event that was edited, removed, reordered or cut off", () => {
    const cases: [string, string[], RegExp][] = [
      ["edited", ["UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2"], /#2.*edited/],
      ["summary", [`UPDATE audit_events SET summary = replace(summary, '"two"', '"one"') WHERE sequence = 4`], /#4.*edited/],
      ["removed", ["DELETE FROM audit_events WHERE sequence = 2"], /#2 is missing.*removed/],
      [
        "reordered",
        [
          "UPDATE audit_events SET sequence = -1 WHERE sequence = 1",
          "UPDATE audit_events SET sequence = 1 WHERE sequence = 2",
          "UPDATE audit_events SET sequence = 2 WHERE sequence = -1",
        ],
        /#1 does not follow/,
      ],
      ["truncated", ["DELETE FROM audit_events WHERE sequence = 4"], /#4 onwards were removed/],
    ];
    for (const [name, statements, expected] of cases) {
      const result = runCli(["audit", "verify", "--data-dir", tamperedCopy(name, statements)]);
      expect(result.status, name).toBe(1);
      expect(result.stderr, name).toMatch(expected);
    }
  });

  it("exports CSV, filters by stack, resource and time, and refuses a bad --since", () => {
    const csv = runCli(["audit", "export", "--format", "csv", "--data-dir", workspace.dataDir]);
    expect(csv.status).toBe(0);
    const lines = csv.stdout.trim().split("\n");
    expect(lines[0]).toBe("sequence,at,kind,actor,stack,resource,commit,author,commitMessage,summary,previousHash,hash");
    expect(lines).toHaveLength(5);
    expect(csv.stdout).toContain('""after"":""=HYPERLINK');
    // A commit message (or any text) that a spreadsheet would run as a formula is defused.
    expect(csvField('=HYPERLINK("http://evil")')).toBe(`"'=HYPERLINK(""http://evil"")"`);
    expect(csvField("+1")).toBe("'+1");
    expect(csvField("plain, with comma")).toBe('"plain, with comma"');
    expect(csvField(null)).toBe("");
    expect(exported(workspace.dataDir, ["--stack", "someone-else"])).toEqual([]);
    expect(exported(workspace.dataDir, ["--since", "2999-01-01"])).toEqual([]);
    expect(exported(workspace.dataDir, ["--since", "1d"])).toHaveLength(4);
    expect(exported(workspace.dataDir, ["--resource", "file.plumb.dev/v1/File/a"])).toHaveLength(2);
    const bad = runCli(["audit", "export", "--since", "last tuesday", "--data-dir", workspace.dataDir]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("--since");
  });

  it("redacts values under secret-looking names", () => {
    expect(redactSecrets({ login: true, password: "hunter2", nested: { apiToken: "t0k" }, list: [{ secret: 5 }] })).toEqual({
      login: true,
      password: "[redacted]",
      nested: { apiToken: "[redacted]" },
      list: [{ secret: "[redacted]" }],
    });
  });
});
