// One agent per data directory: an exclusive SQLite lock (an fcntl lock the
// kernel drops when the process dies, however it dies) on a file of its own,
// held for the agent's life, and a note naming the holder for the refusal.

import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";

export interface DirectoryLock {
  /** Records where the holder serves, for the message another agent gets. */
  describe(details: Record<string, string>): void;
  release(): void;
}

const lockFile = "agent.lock";
const holderFile = "agent.json";

export async function lockDataDirectory(dataDirectory: string): Promise<DirectoryLock> {
  await makeDirectories(dataDirectory);
  const file = path.join(dataDirectory, lockFile);
  const connection = new BetterSqlite3(file, { timeout: 0 });
  try {
    connection.pragma("locking_mode = EXCLUSIVE");
    connection.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    connection.close();
    if (!(error instanceof Error && /locked|busy/i.test(error.message))) throw error;
    let holder = "another process";
    try {
      const note = JSON.parse(readFileSync(path.join(dataDirectory, holderFile), "utf8")) as Record<string, string>;
      holder = `the agent with pid ${note.pid ?? "?"} on ${note.host ?? "?"}${note.address === undefined ? "" : `, serving ${note.address}`}, started ${note.startedAt ?? "?"}`;
    } catch {
      // No note yet: the holder is starting.
    }
    throw new PlumbError("PLUMB_DATA_DIR_LOCKED", `the data directory ${dataDirectory} is in use by ${holder}`, {
      hint: "one agent per data directory: stop that agent, or give this one its own --data-dir (several agents share work through a PostgreSQL store, not a directory)",
    });
  }
  const note: Record<string, string> = { pid: String(process.pid), host: hostname(), startedAt: new Date().toISOString() };
  const write = () => writeFileSync(path.join(dataDirectory, holderFile), `${JSON.stringify(note)}\n`, { mode: 0o600 });
  write();
  return {
    describe(details) {
      Object.assign(note, details);
      write();
    },
    release() {
      connection.close();
    },
  };
}
