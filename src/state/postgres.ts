// Opens a PostgreSQL store (`--store postgres://…`): the same Kysely queries
// and migrations as SQLite, over a connection pool. The password comes from
// the URL or, better, the environment (PGPASSWORD), and never appears in a
// message. Agents that open a new store at once migrate one after another
// under an advisory lock.

import pg from "pg";
import { Kysely, PostgresDialect } from "kysely";
import { PlumbError } from "../errors.js";
import { RedactionPlugin } from "../secrets/redaction.js";
import { KyselyStore } from "./kysely-store.js";
import { migrateToLatest } from "./migrations.js";
import { PostgresNotifications } from "./notifications.js";
import type { Database } from "./schema.js";
import type { Store } from "./store.js";

/** Held while a process migrates the store: any 64-bit number no other tool uses. */
const migrationLockKey = 0x706c756d62_01n;

export function isPostgresStore(location: string): boolean {
  return /^postgres(ql)?:\/\//.test(location);
}

/** The URL as messages may show it: no password. */
export function storeDisplay(location: string): string {
  try {
    const url = new URL(location);
    url.password = "";
    return url.href.replace(/:@/, "@");
  } catch {
    return "the PostgreSQL store";
  }
}

/** Connection refused or cut, server shutting down or starting: the store will be back, nothing is wrong with the request. */
const unavailableCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "08006", "08001", "08003", "08004"]);

/** Whether `error` means the PostgreSQL store is out of reach for now (also a pool that timed out waiting for a connection). */
export function storeUnavailable(error: unknown): boolean {
  if (error instanceof PlumbError) return error.code === "PLUMB_STORE" && storeUnavailable(error.cause);
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  const message = error instanceof Error ? error.message : "";
  return unavailableCodes.has(code) || /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}

function storeError(error: unknown, location: string): PlumbError {
  const message = error instanceof Error ? error.message : String(error);
  const transient = storeUnavailable(error);
  return new PlumbError("PLUMB_STORE", `cannot use the state store ${storeDisplay(location)}: ${message}`, {
    cause: error,
    hint: transient
      ? "check that the PostgreSQL server is up and reachable; the agent retries"
      : "check the URL, the user's rights (it creates its tables on first use) and PGPASSWORD",
  });
}

/**
 * A process paused inside a transaction (SIGSTOP, a long GC) must not keep rows
 * locked for ever: the server ends its transaction after 5 s idle, and a
 * statement queued behind such a lock gives up after 5 s instead of holding
 * its own locks meanwhile. Plumb's transactions are a few statements with no
 * waiting in between, so neither limit is near in normal work.
 */
const connectionLimits = { connectionTimeoutMillis: 10_000, idle_in_transaction_session_timeout: 5_000, lock_timeout: 5_000 };

/**
 * A connection the server drops (a restart, a terminated backend) is an error
 * event on the pool when idle, or on the client while a transaction holds it
 * between queries; either way the query that needs it fails on its own and the
 * next one takes a new connection, so the event itself must not end the process.
 */
function quietOnDrop(pool: pg.Pool): void {
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
}

/** `mustExist`: for commands that only read: a database Plumb never migrated is an error, not set up. */
export async function openPostgresStore(location: string, options: { mustExist?: boolean } = {}): Promise<Store> {
  const pool = new pg.Pool({ connectionString: location, max: 10, ...connectionLimits });
  quietOnDrop(pool);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), plugins: [new RedactionPlugin()] });
  let client: pg.PoolClient | undefined;
  try {
    client = await pool.connect();
    if (options.mustExist === true) {
      const found = await client.query<{ present: boolean }>("SELECT to_regclass('plumb_migrations') IS NOT NULL AS present");
      if (found.rows[0]?.present !== true)
        throw new PlumbError("PLUMB_STATE_NOT_FOUND", `there is no Plumb state in ${storeDisplay(location)}`, {
          hint: "point --store (or PLUMB_STORE) at the database an agent or plumb apply used",
        });
    }
    await client.query("SELECT pg_advisory_lock($1)", [migrationLockKey.toString()]);
    try {
      await migrateToLatest(db as unknown as Kysely<unknown>, "postgres");
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [migrationLockKey.toString()]);
    }
  } catch (error) {
    client?.release();
    client = undefined;
    await db.destroy();
    throw error instanceof PlumbError ? error : storeError(error, location);
  }
  client.release();
  const leasePool = new pg.Pool({ connectionString: location, max: 2, ...connectionLimits });
  quietOnDrop(leasePool);
  const leaseDb = new Kysely<Database>({ dialect: new PostgresDialect({ pool: leasePool }), plugins: [new RedactionPlugin()] });
  return new KyselyStore(db, async () => {}, "postgres", new PostgresNotifications({ connectionString: location, connectionTimeoutMillis: 10_000 }), leaseDb);
}
