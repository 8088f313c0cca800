// Connections to PostgreSQL servers kept warm across runs: one pool per
// database and login, shared by every run in the process, so a drift check
// costs its catalog queries rather than a login per database; trimmed to a
// budget per server (idle pools, least recently used first) so a stack of
// hundreds of databases stays far below the server's max_connections.

import { createHash, randomBytes } from "node:crypto";
import pg from "pg";

export interface PoolOptions {
  host: string;
  port: number;
  sslmode: "disable" | "require" | "verify-full";
  /** Connections one database's pool may open. */
  maxConnections: number;
  connectTimeoutSeconds: number;
}

export interface Login {
  user: string;
  password: string | undefined;
}

/**
 * How long an unused connection stays open for the next run: longer than the
 * default drift interval (5m), so a stack's checks find their connections warm.
 */
const idleMilliseconds = 10 * 60_000;

/** Pools are keyed by a salted digest of the password, never the password itself. */
const salt = randomBytes(16);

interface Entry {
  database: string;
  pool: pg.Pool;
  /** Runs using the pool now: a pool in use is never ended. */
  active: number;
}

/** The pools of one server, in least-recently-used order, within one budget of open connections. */
export class ServerPools {
  private readonly entries = new Map<string, Entry>();
  /** The budget each stack naming this server asks for, as its latest run said. */
  private readonly asked = new Map<string, number>();
  /** A quarter of the server's max_connections, once a login has read it. */
  private derived: number | undefined;

  /** Connections kept open to the server between runs. */
  get budget(): number {
    return this.asked.size > 0 ? Math.min(...this.asked.values()) : (this.derived ?? 4);
  }

  /** Stacks naming one server with different budgets share the smallest. */
  ask(stack: string, budget: number | undefined): void {
    if (budget === undefined) this.asked.delete(stack);
    else this.asked.set(stack, budget);
  }

  /** The default budget: well under what the server allows, leaving the rest to its other clients. */
  learn(maxConnections: number): void {
    this.derived = Math.max(1, Math.floor(maxConnections / 4));
  }

  get openConnections(): number {
    let open = 0;
    for (const entry of this.entries.values()) open += entry.pool.totalCount;
    return open;
  }

  /** Runs `work` with the pool for `database` as `login`; the pool counts as in use until the work ends. */
  async use<Result>(options: PoolOptions, database: string, login: Login, work: (pool: pg.Pool) => Promise<Result>): Promise<Result> {
    const key = [
      database,
      login.user,
      createHash("sha256")
        .update(salt)
        .update(login.password ?? "")
        .digest("hex"),
    ].join("\u0000");
    let entry = this.entries.get(key);
    if (entry === undefined) {
      // The new pool opens at least one connection: make room for it first.
      this.trim(this.budget - 1);
      entry = { database, pool: newPool(options, database, login), active: 0 };
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    entry.active++;
    try {
      return await work(entry.pool);
    } finally {
      entry.active--;
      this.trim(this.budget);
    }
  }

  /**
   * Ends idle pools, least recently used first, until at most `budget`
   * connections stay open; pools with no connection left go as well.
   */
  trim(budget: number, only?: (entry: Entry) => boolean): Promise<void> {
    let open = this.openConnections;
    const ended: Promise<void>[] = [];
    for (const [key, entry] of this.entries) {
      if (entry.active > 0) continue;
      if (!(only === undefined ? open > budget || entry.pool.totalCount === 0 : only(entry))) continue;
      this.entries.delete(key);
      open -= entry.pool.totalCount;
      ended.push(entry.pool.end().catch(() => undefined));
    }
    return Promise.all(ended).then(() => undefined);
  }

  /** Ends the idle pools into one database, as DROP DATABASE needs no session left in it. */
  release(database: string): Promise<void> {
    return this.trim(0, (entry) => entry.database === database);
  }
}

function newPool(options: PoolOptions, database: string, { user, password }: Login): pg.Pool {
  const pool = new pg.Pool({
    host: options.host,
    port: options.port,
    user,
    database,
    ...(password === undefined ? {} : { password }),
    ssl: options.sslmode === "disable" ? false : { rejectUnauthorized: options.sslmode === "verify-full" },
    max: options.maxConnections,
    connectionTimeoutMillis: options.connectTimeoutSeconds * 1000,
    idleTimeoutMillis: idleMilliseconds,
    // A CLI run ends when its work does, however many warm connections it holds.
    allowExitOnIdle: true,
    application_name: "plumb",
  });
  // An idle client losing its server must not crash the process; the next query reports it.
  pool.on("error", () => undefined);
  return pool;
}

const servers = new Map<string, ServerPools>();

/** The pools of `host:port`, shared by every connection to it in the process. */
export function serverPools(server: string): ServerPools {
  let pools = servers.get(server);
  if (pools === undefined) {
    pools = new ServerPools();
    servers.set(server, pools);
  }
  return pools;
}

/** Ends every idle pool in the process, as an agent does when it stops. */
export async function closeIdlePools(): Promise<void> {
  await Promise.all([...servers.values()].map((pools) => pools.trim(0)));
}
