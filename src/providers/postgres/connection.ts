// A run's connection to one PostgreSQL server: its login checked once, its
// queries bounded, run on the server's warm pools, with errors that name the
// server (never the password) and say whether retrying can help.

import pg from "pg";
import { Semaphore } from "../../sdk/concurrency.js";
import { PlumbError } from "../../errors.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";
import { serverPools, type Login, type ServerPools } from "./server-pools.js";

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
  /** Connections kept open to the server between runs; default a quarter of its max_connections. */
  connectionBudget: number | undefined;
  password: SecretReference | undefined;
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN"]);
/** SQLSTATE classes worth retrying: connection exceptions, insufficient resources, operator intervention. */
const transientSqlStates = /^(08|53|57P0[1-3])/;

interface PendingRead {
  text: string;
  parameters: unknown[];
  /** The same read with its parameters written in as literals, to travel with others in one message. */
  statement: string;
  resolve(rows: Record<string, unknown>[]): void;
  reject(error: unknown): void;
}

/**
 * `text` with `$n` replaced by its parameter as a quoted literal, for the
 * parameters catalog reads use (names and lists of names); undefined for any
 * other kind of value, which then goes as a parameter of a query of its own.
 */
export function withLiterals(text: string, parameters: readonly unknown[]): string | undefined {
  const literal = (value: unknown): string | undefined => {
    if (typeof value === "string") return pg.escapeLiteral(value);
    if (Array.isArray(value) && value.every((item) => typeof item === "string"))
      return value.length === 0 ? "'{}'::text[]" : `ARRAY[${value.map((item) => pg.escapeLiteral(item)).join(", ")}]::text[]`;
    return undefined;
  };
  const literals = parameters.map(literal);
  if (literals.some((item) => item === undefined)) return undefined;
  let complete = true;
  const statement = text.replace(/\$(\d+)/g, (_, position: string) => {
    const value = literals[Number(position) - 1];
    if (value === undefined) complete = false;
    return value ?? "";
  });
  return complete ? statement : undefined;
}

/** One run's use of a server: its login, checked once, and its bound on queries in flight. */
export class PostgresConnection {
  /** Bounds queries in flight across every database to maxConnections. */
  private readonly slots: Semaphore;
  private readonly pools: ServerPools;
  private login: Promise<Login> | undefined;
  /** Catalog reads waiting for the end of this turn, by database. */
  private readonly pendingReads = new Map<string, PendingRead[]>();
  /** The user name once resolved, for messages (masked by the redaction layer when it came from a secret). */
  private userName: string;

  constructor(
    readonly settings: PostgresSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {
    this.slots = new Semaphore(settings.maxConnections);
    this.pools = serverPools(this.server);
    this.pools.ask(stack, settings.connectionBudget);
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
   * Credentials, checked by one first query before any other database is
   * used: a wrong password or an unreachable server fails once for the
   * whole instance (one failed login a run, however many databases and
   * resources wait), and every later call gets the same answer at once. The
   * same query reads max_connections, which the default budget derives from.
   */
  private credentials(): Promise<Login> {
    this.login ??= (async () => {
      const user = typeof this.settings.user === "string" ? this.settings.user : await this.secret(this.settings.user);
      this.userName = user;
      const login = { user, password: this.settings.password === undefined ? undefined : await this.secret(this.settings.password) };
      const [row] = await this.pools.use(
        this.settings,
        this.settings.database,
        login,
        async (pool) => (await pool.query<{ max_connections: number }>("SELECT current_setting('max_connections')::int AS max_connections")).rows,
      );
      if (row !== undefined) this.pools.learn(row.max_connections);
      return login;
    })();
    return this.login;
  }

  /** Runs `work` on the database's pool, holding one of the run's slots. */
  private async withPool<Result>(database: string, work: (pool: pg.Pool) => Promise<Result>): Promise<Result> {
    const login = await this.credentials();
    await this.slots.acquire();
    try {
      return await this.pools.use(this.settings, database, login, work);
    } finally {
      this.slots.release();
    }
  }

  async query<Row extends Record<string, unknown>>(database: string | undefined, text: string, parameters: unknown[] = []): Promise<Row[]> {
    const target = database ?? this.settings.database;
    try {
      return await this.withPool(target, async (pool) => (await pool.query<Row>(text, parameters)).rows);
    } catch (error) {
      throw this.describeError(error, target);
    }
  }

  /**
   * A catalog read. Reads asked in the same turn of the event loop for one
   * database reach the server as one message of several statements: one round
   * trip, so a sweep reads each database once however many kinds live there.
   * A batch that fails is asked again statement by statement, so each error
   * reaches the read it belongs to.
   */
  read<Row extends Record<string, unknown>>(database: string | undefined, text: string, parameters: unknown[] = []): Promise<Row[]> {
    const target = database ?? this.settings.database;
    const statement = withLiterals(text, parameters);
    if (statement === undefined) return this.query<Row>(target, text, parameters);
    return new Promise<Row[]>((resolve, reject) => {
      let batch = this.pendingReads.get(target);
      if (batch === undefined) {
        const reads: PendingRead[] = [];
        batch = reads;
        this.pendingReads.set(target, reads);
        setImmediate(() => {
          this.pendingReads.delete(target);
          void this.sendReads(target, reads);
        });
      }
      batch.push({ text, parameters, statement, resolve: resolve as PendingRead["resolve"], reject });
    });
  }

  private async sendReads(database: string, reads: readonly PendingRead[]): Promise<void> {
    const alone = (read: PendingRead) => this.query(database, read.text, read.parameters).then(read.resolve, read.reject);
    if (reads.length === 1) return alone(reads[0] as PendingRead);
    let results: pg.QueryResult[];
    try {
      results = await this.withPool(database, async (pool) => {
        const answer: unknown = await pool.query(reads.map((read) => read.statement).join(";\n"));
        return Array.isArray(answer) ? (answer as pg.QueryResult[]) : [answer as pg.QueryResult];
      });
    } catch {
      await Promise.all(reads.map(alone));
      return;
    }
    reads.forEach((read, index) => read.resolve(results[index]?.rows ?? []));
  }

  /** Runs statements on one client inside a transaction, so a revoke-then-grant is never seen half done. */
  async transaction(database: string | undefined, statements: readonly string[]): Promise<void> {
    const target = database ?? this.settings.database;
    try {
      await this.withPool(target, async (pool) => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          for (const statement of statements) await client.query(statement);
          await client.query("COMMIT");
          client.release();
        } catch (error) {
          await client.query("ROLLBACK").catch(() => undefined);
          // A warm connection is shared with later runs: one that failed mid-transaction is closed, never handed on.
          client.release(true);
          throw error;
        }
      });
    } catch (error) {
      throw this.describeError(error, target);
    }
  }

  /** Ends this process's idle connections into `database`, which DROP DATABASE needs gone. */
  releaseDatabase(database: string): Promise<void> {
    return this.pools.release(database);
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

  /** The run is over; its connections stay warm for the next, within the server's budget. */
  async close(): Promise<void> {
    await this.pools.trim(this.pools.budget);
  }
}

export function sqlStateOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "sqlState" in error ? String(error.sqlState) : undefined;
}

export const quoteIdentifier = pg.escapeIdentifier;
export const quoteLiteral = pg.escapeLiteral;
