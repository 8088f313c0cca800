// Opens the embedded SQLite store: one file under the data directory, WAL mode
// so a killed process never loses a committed journal entry.

import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import { RedactionPlugin } from "../secrets/redaction.js";
import { PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";
import { KyselyStore } from "./kysely-store.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

export const sqliteFileName = "plumb.db";

export async function openSqliteStore(dataDirectory: string): Promise<Store> {
  const file = path.join(dataDirectory, sqliteFileName);
  let connection: BetterSqlite3.Database;
  try {
    await makeDirectories(dataDirectory);
    connection = new BetterSqlite3(file);
    connection.pragma("journal_mode = WAL");
    connection.pragma("synchronous = NORMAL");
    connection.pragma("busy_timeout = 10000");
  } catch (error) {
    throw new PlumbError("PLUMB_STORE", `cannot open the state store at ${file}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
      hint: "check that the data directory exists and is writable (--data-dir or PLUMB_DATA_DIR)",
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: connection }), plugins: [new RedactionPlugin()] });
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>, "sqlite");
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return new KyselyStore(db, async () => {});
}
