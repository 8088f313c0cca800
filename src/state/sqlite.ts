// Opens the embedded SQLite store: one file under the data directory, WAL mode
// so a killed process never loses a committed journal entry.

import { existsSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { RedactionPlugin } from "../secrets/redaction.js";
import { PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";
import { KyselyStore } from "./kysely-store.js";
import { migrateToLatest } from "./migrations.js";
import { LocalNotifications } from "./notifications.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

export const sqliteFileName = "plumb.db";
/** Held (an exclusive SQLite lock on a file of its own) while a process migrates the store. */
const migrationLockFileName = "migrate.lock";

/** A store error that says what is wrong with the file and what to do: damaged, disk full, or not writable. */
export function storeError(error: unknown, file: string): PlumbError {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  const message = error instanceof Error ? error.message : String(error);
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB" || /malformed|not a database/i.test(message)) {
    return new PlumbError("PLUMB_STORE_CORRUPT", `the state store ${file} is damaged: ${message}`, {
      cause: error,
      hint: `restore ${file} from a backup; or move it (and its -wal and -shm files) away to start with an empty store, losing its state and audit trail`,
    });
  }
  if (code === "SQLITE_FULL" || /disk is full/i.test(message)) {
    return new PlumbError("PLUMB_STORE_FULL", `the disk holding the state store ${file} is full; nothing was written`, {
      cause: error,
      hint: `free space on the file system of ${path.dirname(file)}, then run again`,
    });
  }
  return new PlumbError("PLUMB_STORE", `cannot open the state store at ${file}: ${message}`, {
    cause: error,
    hint: "check that the data directory exists and is writable (--data-dir or PLUMB_DATA_DIR)",
  });
}

/** `mustExist`: for commands that only read (audit verify, state list): a missing store is an error, never created empty. */
export async function openSqliteStore(dataDirectory: string, options: { mustExist?: boolean } = {}): Promise<Store> {
  const file = path.join(dataDirectory, sqliteFileName);
  if (options.mustExist === true && !existsSync(file)) {
    throw new PlumbError("PLUMB_STATE_NOT_FOUND", `there is no state store in ${dataDirectory} (no ${sqliteFileName})`, {
      hint: "point --data-dir (or PLUMB_DATA_DIR) at the directory an agent or plumb apply used",
    });
  }
  let connection: BetterSqlite3.Database;
  try {
    await makeDirectories(dataDirectory);
    connection = new BetterSqlite3(file);
    connection.pragma("journal_mode = WAL");
    connection.pragma("synchronous = NORMAL");
    connection.pragma("busy_timeout = 10000");
  } catch (error) {
    throw storeError(error, file);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }), plugins: [new RedactionPlugin()] });
  // Processes that open a new store at once migrate one after another: SQLite's
  // migrations take no lock of their own, so the second would create the same tables.
  let guard: BetterSqlite3.Database | undefined;
  try {
    guard = new BetterSqlite3(path.join(dataDirectory, migrationLockFileName), { timeout: 30_000 });
    guard.exec("BEGIN EXCLUSIVE");
    await migrateToLatest(db as unknown as Kysely<unknown>, "sqlite");
  } catch (error) {
    await db.destroy();
    // A migration that failed for a full disk or a damaged file says that, not "migration failed".
    const found = storeError(error instanceof PlumbError ? error.cause : error, file);
    throw error instanceof PlumbError && found.code === "PLUMB_STORE" ? error : found;
  } finally {
    guard?.close();
  }
  return new KyselyStore(db, async () => {}, "sqlite", new LocalNotifications());
}
