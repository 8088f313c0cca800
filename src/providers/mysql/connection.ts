// A small pool of connections to one MariaDB (or MySQL) server, opened on
// first use with one login check, with errors that name the server (never a
// password) and say whether retrying can help.

import type mysql from "mysql2/promise";
import { PlumbError } from "../../errors.js";
import { libraryOf } from "../../library.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";

export interface MysqlSettings {
  host: string;
  port: number;
  user: string;
  password: SecretReference | undefined;
  maxConnections: number;
  connectTimeoutSeconds: number;
  tls: boolean;
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN", "PROTOCOL_CONNECTION_LOST", "EPIPE"]);
/** Server errors worth retrying: too many connections, lock wait, deadlock, server shutting down. */
const transientErrors = new Set(["ER_CON_COUNT_ERROR", "ER_LOCK_WAIT_TIMEOUT", "ER_LOCK_DEADLOCK", "ER_SERVER_SHUTDOWN", "ER_QUERY_INTERRUPTED"]);
const loginErrors = new Set(["ER_ACCESS_DENIED_ERROR", "ER_DBACCESS_DENIED_ERROR", "ER_NOT_SUPPORTED_AUTH_MODE", "ER_ACCOUNT_HAS_BEEN_LOCKED"]);

export type Row = Record<string, unknown>;

export class MysqlConnection {
  private pool: Promise<mysql.Pool> | undefined;
  /** The account the server took the login as (user and host), known once the login check ran. */
  private loggedInAs: { user: string; host: string } | undefined;

  constructor(
    readonly settings: MysqlSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {}

  get server(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  async secret(reference: SecretReference): Promise<string> {
    return this.secrets.resolve(reference);
  }

  /** The pool, after one query proved the login: a wrong password fails once for the instance, not once per resource. */
  private open(): Promise<mysql.Pool> {
    this.pool ??= (async () => {
      const password = this.settings.password === undefined ? undefined : await this.secret(this.settings.password);
      // The driver is loaded on first use: a CLI run that touches no MariaDB never pays for it.
      const { createPool } = libraryOf(await import("mysql2/promise"));
      const pool = createPool({
        host: this.settings.host,
        port: this.settings.port,
        user: this.settings.user,
        ...(password === undefined ? {} : { password }),
        connectionLimit: this.settings.maxConnections,
        connectTimeout: this.settings.connectTimeoutSeconds * 1000,
        ...(this.settings.tls ? { ssl: {} } : {}),
        multipleStatements: false,
        supportBigNumbers: true,
      });
      // Literals are quoted with backslash escapes; a server whose default sql_mode turns those off must not read them otherwise.
      pool.on("connection", (connection) => {
        connection.query("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')");
      });
      try {
        const [rows] = await pool.query("SELECT CURRENT_USER() AS account");
        const current = String((rows as Row[])[0]?.account ?? "");
        const at = current.lastIndexOf("@");
        this.loggedInAs = { user: current.slice(0, at), host: current.slice(at + 1) };
      } catch (error) {
        await pool.end().catch(() => undefined);
        throw error;
      }
      return pool;
    })();
    this.pool.catch(() => {
      this.pool = undefined;
    });
    return this.pool;
  }

  /** The account Plumb logs in as; MariaDB makes it a member (with admin option) of every role it creates. */
  async account(): Promise<{ user: string; host: string }> {
    await this.open().catch((error: unknown) => {
      throw this.describeError(error);
    });
    return this.loggedInAs ?? { user: this.settings.user, host: "" };
  }

  async query<Result extends Row>(text: string, parameters: unknown[] = []): Promise<Result[]> {
    try {
      const [rows] = await (await this.open()).query(text, parameters);
      return rows as Result[];
    } catch (error) {
      throw this.describeError(error);
    }
  }

  /** Runs statements one after another on one connection; MariaDB commits each account statement at once, so a failure names the one that failed. */
  async statements(list: readonly string[]): Promise<void> {
    if (list.length === 0) return;
    let connection: mysql.PoolConnection | undefined;
    try {
      connection = await (await this.open()).getConnection();
      for (const statement of list) await connection.query(statement);
    } catch (error) {
      throw this.describeError(error);
    } finally {
      connection?.release();
    }
  }

  describeError(error: unknown): Error {
    if (error instanceof PlumbError) return error;
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const message = redactor.redact(error instanceof Error ? error.message : String(error));
    const where = `MariaDB at ${this.server} (user "${this.settings.user}")`;
    if (unreachableCodes.has(code) || /connect ETIMEDOUT|Connection lost|closed state/i.test(message)) {
      this.pool = undefined;
      return new PlumbError("PLUMB_PROVIDER_TRANSIENT", `cannot reach ${where}: ${message}`, {
        location: { stack: this.stack },
        hint: "check that the server is running and that host and port in the provider config are right",
        cause: error,
      });
    }
    if (loginErrors.has(code)) {
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${where} refused the login: ${message}`, {
        location: { stack: this.stack },
        hint: "check the user and the password secret in the provider config",
        cause: error,
      });
    }
    return new PlumbError(
      transientErrors.has(code) ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION",
      `${where}: ${message}${code === "" ? "" : ` (${code})`}`,
      {
        location: { stack: this.stack },
        cause: error,
      },
    );
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (pool === undefined) return;
    try {
      await (await pool).end();
    } catch {
      // A pool that never opened has nothing to end.
    }
  }
}

/** `name` as an identifier: backquoted, backquotes doubled. */
export function quoteIdentifier(name: string): string {
  return `\`${name.replaceAll("`", "``")}\``;
}

/** The characters a MySQL string literal escapes with a backslash (the server's own table for a quoted string). */
const literalEscapes: Record<string, string> = {
  "\0": "\\0",
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  "\x1a": "\\Z",
  '"': '\\"',
  "'": "\\'",
  "\\": "\\\\",
};

/** `value` as a string literal, for the session's sql_mode (backslash escapes on, which the pool makes sure of). */
export function quoteLiteral(value: string): string {
  return `'${[...value].map((character) => literalEscapes[character] ?? character).join("")}'`;
}

/** An account, `'name'@'host'` (a role: `'name'`). */
export function account(name: string, host: string | undefined): string {
  return host === undefined ? quoteLiteral(name) : `${quoteLiteral(name)}@${quoteLiteral(host)}`;
}

/** A database name inside GRANT … ON: `_` and `%` are wildcards there, so they are escaped to mean themselves. */
export function grantDatabase(name: string): string {
  return name.replace(/[\\_%]/g, (character) => `\\${character}`);
}
