// Signed audit checkpoints against an administrator with database access: a
// real agent signs its audit head into a directory outside the store, then the
// store is tampered with directly in its SQLite file — one event edited, the
// last ten deleted with the head moved to match, everything deleted, the store
// replaced by an empty one, the chain rewritten with recomputed hashes, a
// checkpoint forged — and `plumb audit verify` names what no longer matches.
// An untouched trail passes, and an export verifies offline with the key.

import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditHash, type AuditEvent } from "../src/state/audit.js";
import type { AuditEventsTable } from "../src/state/schema.js";
import { eventually, startAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { fileResource, runCli } from "./helpers.js";

let work: string;
let repository: TestRepository;
let dataDir: string;
let checkpoints: string;
let key: string;

function files(version: string): string {
  return Array.from({ length: 12 }, (_, index) => fileResource(`f${index}`, `f${index}.txt`, `${version} ${index}\n`)).join("");
}

function verify(directory: string, extra: string[] = []) {
  return runCli(["audit", "verify", "--data-dir", directory, "--checkpoints", checkpoints, "--public-key", `${key}.pub`, ...extra]);
}

/** A copy of the agent's store, changed by `tamper` with direct SQL as an administrator would. */
function tampered(name: string, tamper: (database: BetterSqlite3.Database) => void): string {
  const directory = path.join(work, `tampered-${name}`);
  mkdirSync(directory, { recursive: true });
  copyFileSync(path.join(dataDir, "plumb.db"), path.join(directory, "plumb.db"));
  const database = new BetterSqlite3(path.join(directory, "plumb.db"));
  tamper(database);
  database.close();
  return directory;
}

/** A row of the audit table, as an administrator with the database sees it. */
type Row = AuditEventsTable;

const eventOf = (row: Row): Omit<AuditEvent, "hash"> => ({
  sequence: row.sequence,
  at: row.at,
  kind: row.kind as AuditEvent["kind"],
  actor: row.actor,
  stack: row.stack,
  resource: row.resource,
  commit: row.commit_sha,
  author: row.author,
  commitMessage: row.commit_message,
  summary: JSON.parse(row.summary) as AuditEvent["summary"],
  previousHash: row.previous_hash,
});

let total = 0;

describe("signed audit checkpoints", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-checkpoints-"));
    dataDir = path.join(work, "data");
    checkpoints = path.join(work, "worm");
    key = path.join(work, "audit-key");
    const made = runCli(["audit", "keygen", "--out", key]);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toContain("-----BEGIN PUBLIC KEY-----");
    expect(readFileSync(key, "utf8")).toContain("PRIVATE KEY");
    repository = createTestRepository();
    repository.write(
      "platform/stack.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: audited }\nspec:\n  source: { path: app }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out"))} } } }\n  sync: { auto: true, prune: true, interval: 1s }\n`,
    );
    repository.write("app/files.yaml", files("v1"));
    repository.commit("v1");
    const agent = await startAgent(
      [
        "--platform",
        repository.url,
        "--path",
        "platform",
        "--data-dir",
        dataDir,
        "--audit-key",
        key,
        "--audit-checkpoints",
        checkpoints,
        "--audit-checkpoint-every",
        "5",
        "--audit-checkpoint-interval",
        "1s",
      ],
      { tokenFile: path.join(work, "token") },
    );
    await eventually(async () =>
      (await agent.api<{ lastAppliedRevision: string | null }>("GET", "/api/v1/stacks/audited")).body.lastAppliedRevision ? true : undefined,
    );
    // The first run's events are signed before the second run starts (every 5 events, or each second).
    await eventually(async () => (readdirSync(checkpoints).length > 0 ? true : undefined), 30_000, "a first checkpoint");
    repository.write("app/files.yaml", files("v2"));
    repository.commit("v2");
    await eventually(async () => (readFileSync(path.join(work, "out", "f11.txt"), "utf8") === "v2 11\n" ? true : undefined));
    await agent.stop();
    total = (new BetterSqlite3(path.join(dataDir, "plumb.db"), { readonly: true }).prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n;
  }, 90_000);

  afterAll(() => {
    repository?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("are signed by the agent outside the store, and an untouched trail matches them", () => {
    expect(total).toBe(24);
    const written = readdirSync(checkpoints).sort();
    expect(written.length).toBeGreaterThanOrEqual(2);
    // The last one, written on shutdown, covers every event; none can be changed in place.
    expect(written[written.length - 1]).toMatch(/^000000000024-[0-9a-f]{16}\.json$/);
    const newest = JSON.parse(readFileSync(path.join(checkpoints, written[written.length - 1] as string), "utf8")) as { sequence: number; signature: string };
    expect(newest.sequence).toBe(24);
    const passed = verify(dataDir);
    expect(passed.stderr).toBe("");
    expect(passed.status).toBe(0);
    expect(passed.stdout).toMatch(new RegExp(`intact: 24 event\\(s\\), head [0-9a-f]{64}, matching ${written.length} signed checkpoint\\(s\\)`));
  });

  it("catch an edited event, the last ten deleted, everything deleted, an empty store and a recomputed chain", () => {
    const edited = verify(tampered("edited", (database) => database.exec("UPDATE audit_events SET actor = 'mallory' WHERE sequence = 3")));
    expect(edited.status).toBe(1);
    expect(edited.stderr).toMatch(/BROKEN at event #3: .*was edited/);

    const lastTen = verify(
      tampered("last-ten", (database) => {
        database.exec("DELETE FROM audit_events WHERE sequence > 14");
        const row = database.prepare("SELECT hash FROM audit_events WHERE sequence = 14").get() as { hash: string };
        database.prepare("UPDATE audit_head SET count = 14, hash = ?").run(row.hash);
      }),
    );
    expect(lastTen.status).toBe(1);
    expect(lastTen.stderr).toMatch(/checkpoint .*000000000024-[0-9a-f]{16}\.json signed 24 event\(s\) at .*, but the trail holds 14: #15 … #24 were removed/);

    const everything = verify(tampered("everything", (database) => database.exec("DELETE FROM audit_events; DELETE FROM audit_head")));
    expect(everything.status).toBe(1);
    expect(everything.stderr).toContain("but the trail holds 0: every event was removed, or the store replaced");

    const emptyStore = path.join(work, "empty-store");
    // A fresh store, as a plan makes one: migrated, and without a single event.
    const scratch = path.join(work, "scratch");
    mkdirSync(scratch);
    writeFileSync(
      path.join(scratch, "files.yaml"),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: scratch }\nspec:\n  providers: { default: { type: file, config: { root: ./out } } }\n${fileResource("x", "x.txt", "x\n")}`,
    );
    expect(runCli(["plan", scratch, "--data-dir", emptyStore]).status).toBe(0);
    const replaced = verify(emptyStore);
    expect(replaced.status).toBe(1);
    expect(replaced.stderr).toContain("every event was removed, or the store replaced");
    // Without checkpoints an empty store is still no proof of anything.
    const bare = runCli(["audit", "verify", "--data-dir", emptyStore]);
    expect(bare.status).toBe(1);
    expect(bare.stderr).toContain("audit trail EMPTY");

    const rewritten = verify(
      tampered("rewritten", (database) => {
        // The administrator edits #2 and recomputes every hash after it, and the head: the chain alone holds.
        const rows = database.prepare("SELECT * FROM audit_events ORDER BY sequence").all() as Row[];
        let previous = (rows[0] as Row).hash;
        for (const row of rows.slice(1)) {
          const event = eventOf(row);
          if (row.sequence === 2) event.actor = "mallory";
          event.previousHash = previous;
          const hash = auditHash(event);
          database.prepare("UPDATE audit_events SET actor = ?, previous_hash = ?, hash = ? WHERE sequence = ?").run(event.actor, previous, hash, row.sequence);
          previous = hash;
        }
        database.prepare("UPDATE audit_head SET hash = ?").run(previous);
      }),
    );
    expect(runCli(["audit", "verify", "--data-dir", path.join(work, "tampered-rewritten")]).status).toBe(0);
    expect(rewritten.status).toBe(1);
    expect(rewritten.stderr).toMatch(
      /BROKEN at event #[0-9]+: event #[0-9]+ is not the one checkpoint .*\.json signed at .*: the chain was rewritten from here or earlier/,
    );
  });

  it("refuse a checkpoint the key did not sign", () => {
    const forgedDirectory = path.join(work, "forged");
    mkdirSync(forgedDirectory);
    for (const name of readdirSync(checkpoints)) {
      const checkpoint = JSON.parse(readFileSync(path.join(checkpoints, name), "utf8")) as { head: string };
      if (name.startsWith("000000000024")) checkpoint.head = createHash("sha256").update("forged").digest("hex");
      writeFileSync(path.join(forgedDirectory, name), JSON.stringify(checkpoint));
    }
    const forged = runCli(["audit", "verify", "--data-dir", dataDir, "--checkpoints", forgedDirectory, "--public-key", `${key}.pub`]);
    expect(forged.status).toBe(1);
    expect(forged.stderr).toMatch(/checkpoint .*000000000024-[0-9a-f]{16}\.json \(event #24\) is not signed by the public key given: forged or edited/);
    const otherKey = path.join(work, "other-key");
    expect(runCli(["audit", "keygen", "--out", otherKey]).status).toBe(0);
    expect(runCli(["audit", "keygen", "--out", otherKey]).stderr).toContain("exists already; a key is never overwritten");
    const wrongKey = runCli(["audit", "verify", "--data-dir", dataDir, "--checkpoints", checkpoints, "--public-key", `${otherKey}.pub`]);
    expect(wrongKey.status).toBe(1);
    expect(wrongKey.stderr).toContain("is not signed by the public key given");
    // A checkpoint file cannot be edited in place by the agent's own user either: it is written read-only.
    expect(readdirSync(checkpoints).every((name) => (statSync(path.join(checkpoints, name)).mode & 0o222) === 0)).toBe(true);
  });

  it("take the agent's key from a secret reference too, and refuse one that is missing or not Ed25519", () => {
    // --store names no database, so an agent whose key reads cleanly stops right after, saying so.
    const agentWith = (value: string, env: Record<string, string>) =>
      runCli(["agent", "--platform", work, "--store", "not-a-database", "--audit-key", value, "--audit-checkpoints", path.join(work, "key-check-worm")], {
        env,
      });
    const missing = agentWith("secret:audit/private", {});
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("PLUMB_SECRET_AUDIT_PRIVATE");
    const notAKey = agentWith("secret:audit/private", { PLUMB_SECRET_AUDIT_PRIVATE: "not a key" });
    expect(notAKey.stderr).toContain("--audit-key secret:audit/private is not a PEM private key");
    const fromSecret = agentWith("secret:audit/private", { PLUMB_SECRET_AUDIT_PRIVATE: readFileSync(key, "utf8") });
    expect(fromSecret.stderr).toContain("is not a postgres:// URL");
    expect(fromSecret.stderr).not.toContain("key");
  });

  it("travel with an export, which then verifies offline with the public key alone", () => {
    const exported = runCli(["audit", "export", "--data-dir", dataDir, "--checkpoints", checkpoints]);
    expect(exported.status, exported.stderr).toBe(0);
    const file = path.join(work, "export.jsonl");
    writeFileSync(file, exported.stdout);
    expect(exported.stdout).toMatch(/\{"checkpoint":\{"version":1,"sequence":24,/);
    const offline = runCli(["audit", "verify", "--export", file, "--public-key", `${key}.pub`]);
    expect(offline.stderr).toBe("");
    expect(offline.stdout).toContain("intact: 24 event(s)");
    // The export with its last five events cut off no longer matches its own last checkpoint.
    const lines = exported.stdout.trim().split("\n");
    const cut = path.join(work, "cut.jsonl");
    writeFileSync(cut, `${lines.filter((line) => !/"sequence":(2[0-4]),"at"/.test(line)).join("\n")}\n`);
    const cutVerdict = runCli(["audit", "verify", "--export", cut, "--public-key", `${key}.pub`]);
    expect(cutVerdict.status).toBe(1);
    expect(cutVerdict.stderr).toMatch(/signed 24 event\(s\) at .*, but the trail holds 19: #20 … #24 were removed/);
    const bare = path.join(work, "bare.jsonl");
    writeFileSync(bare, runCli(["audit", "export", "--data-dir", dataDir]).stdout);
    expect(runCli(["audit", "verify", "--export", bare, "--public-key", `${key}.pub`]).stderr).toContain("carries no checkpoint");
  });
});
