// Connections to one PostgreSQL server: a small pool per database, opened on
// first use, with errors that name the server (never the password) and say
// whether retrying can help.

import pg from "pg";
import { Semaphore } from "../../sdk/concurrency.js";
import { PlumbError } from "../../errors.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";

export interface PostgresSettings {
  host: string;
  port: number;
  /** A role name, or a reference to one kept in a secret store (as Vault's database engine hands them out). */
  user: string | SecretReference;
  /** The database used for cluster-wide objects (roles, databases). */
  database: string;
  sslmode: "disable" | "require" | "verify-full";
  maxConnections: number;
  connectTimeoutSeconds: number;
  password: SecretReference | undefined;
}

/**
 * Pools kept open at once. A stack can span hundreds of databases; each needs
 * its own connections, so idle pools are closed (least recently used first)
 * to stay far below the server's max_connections.
 */
const maxOpenPools = 4;

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN"]);
/** SQLSTATE classes worth retrying: connection exceptions, insufficient resources, operator intervention. */
const transientSqlStates = /^(08|53|57P0[1-3])/;

export class PostgresConnection {
  /** Open pools by database, in least-recently-used order. */
  private readonly pools = new Map<string, pg.Pool>();
  /** Queries running per database: a pool in use is never closed. */
  private readonly active = new Map<string, number>();
  /** Bounds queries in flight across every database to maxConnections. */
  private readonly slots: Semaphore;
  private login: Promise<{ user: string; password: string | undefined }> | undefined;
  /** The user name once resolved, for messages (masked by the redaction layer when it came from a secret). */
  private userName: string;

  constructor(
    readonly settings: PostgresSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {
    this.slots = new Semaphore(settings.maxConnections);
    this.userName = typeof settings.user === "string" ? settings.user : `(secret ${settings.user.secretRef.name}/${settings.user.secretRef.key})`;
  }

  get server(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  /** Resolves a secret for use in a statement; the resolver hands it to the redaction layer. */
  async secret(reference: SecretReference): Promise<string> {
    return this.secrets.resolve(reference);
  }

  /**
   * Credentials, checked by one first query before any other connection is
   * opened: a wrong password or an unreachable server fails once for the
   * whole instance (one failed login a run, however many databases and
   * resources wait), and every later call gets the same answer at once.
   */
  private pool(database: string): Promise<pg.Pool> {
    this.login ??= (async () => {
      const user = typeof this.settings.user === "string" ? this.settings.user : await this.secret(this.settings.user);
      this.userName = user;
      const credentials = { user, password: this.settings.password === undefined ? undefined : await this.secret(this.settings.password) };
      await this.openPool(this.settings.database, credentials).query("SELECT 1");
      return credentials;
    })();
    return this.login.then((credentials) => this.openPool(database, credentials));
  }

  private openPool(database: string, { user, password }: { user: string; password: string | undefined }): pg.Pool {
    let pool = this.pools.get(database);
    if (pool !== undefined) {
      this.pools.delete(database);
      this.pools.set(database, pool);
    } else {
      this.closeIdlePools(maxOpenPools - 1);
      pool = new pg.Pool({
        host: this.settings.host,
        port: this.settings.port,
        user,
        database,
        ...(password === undefined ? {} : { password }),
        ssl: this.settings.sslmode === "disable" ? false : { rejectUnauthorized: this.settings.sslmode === "verify-full" },
        max: this.settings.maxConnections,
        connectionTimeoutMillis: this.settings.connectTimeoutSeconds * 1000,
        idleTimeoutMillis: 10_000,
        application_name: "plumb",
      });
      // An idle client losing its server must not crash the process; the next query reports it.
      pool.on("error", () => undefined);
      this.pools.set(database, pool);
    }
    return pool;
  }

  /** Closes least recently used pools with nothing running until at most `keep` remain. */
  private closeIdlePools(keep: number): void {
    for (const [database, pool] of this.pools) {
      if (this.pools.size <= keep) return;
      if ((this.active.get(database) ?? 0) > 0) continue;
      this.pools.delete(database);
      pool.end().catch(() => undefined);
    }
  }

  /** Runs `work` holding one of the connection slots, marking the database's pool as in use. */
  private async withSlot<Result>(database: string, work: () => Promise<Result>): Promise<Result> {
    await this.slots.acquire();
    this.active.set(database, (this.active.get(database) ?? 0) + 1);
    try {
      return await work();
    } finally {
      this.active.set(database, (this.active.get(database) ?? 1) - 1);
      this.slots.release();
    }
  }

  async query<Row extends Record<string, unknown>>(database: string | undefined, text: string, parameters: unknown[] = []): Promise<Row[]> {
    const target = database ?? this.settings.database;
    try {
      return await this.withSlot(target, async () => (await (await this.pool(target)).query<Row>(text, parameters)).rows);
    } catch (error) {
      throw this.describeError(error, target);
    }
  }

  /** Runs statements on one client inside a transaction, so a revoke-then-grant is never seen half done. */
  async transaction(database: string | undefined, statements: readonly string[]): Promise<void> {
    const target = database ?? this.settings.database;
    await this.withSlot(target, async () => {
      let client: pg.PoolClient | undefined;
      try {
        client = await (await this.pool(target)).connect();
        await client.query("BEGIN");
        for (const statement of statements) await client.query(statement);
        await client.query("COMMIT");
      } catch (error) {
        await client?.query("ROLLBACK").catch(() => undefined);
        throw this.describeError(error, target);
      } finally {
        client?.release();
      }
    });
  }

  /** A Plumb error for a driver error: where, what, retryable or not, with secrets masked. */
  describeError(error: unknown, database: string): Error {
    if (error instanceof PlumbError) return error;
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const message = redactor.redact(error instanceof Error ? error.message : String(error));
    const where = `PostgreSQL at ${this.server} (database "${database}", user "${this.userName}")`;
    if (unreachableCodes.has(code) || /timeout|terminated unexpectedly|Connection terminated/i.test(message)) {
      return new PlumbError("PLUMB_PROVIDER_TRANSIENT", `cannot reach ${where}: ${message}`, {
        location: { stack: this.stack },
        hint: "check that the server is running and that host and port in the provider config are right",
        cause: error,
      });
    }
    if (code === "28P01" || code === "28000") {
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${where} refused the login: ${message}`, {
        location: { stack: this.stack },
        hint: "check the user and the password secret in the provider config",
        cause: error,
      });
    }
    const failure = new PlumbError(
      transientSqlStates.test(code) ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION",
      `${where}: ${message}${code === "" ? "" : ` (SQLSTATE ${code})`}`,
      {
        location: { stack: this.stack },
        cause: error,
      },
    );
    return Object.assign(failure, { sqlState: code });
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.end().catch(() => undefined)));
  }
}

export function sqlStateOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "sqlState" in error ? String(error.sqlState) : undefined;
}

export const quoteIdentifier = pg.escapeIdentifier;
export const quoteLiteral = pg.escapeLiteral;
