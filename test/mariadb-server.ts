// Starts a real MariaDB server for tests from Debian's `mariadb-server`, in a
// temp directory, on a free port, with root behind a password.

import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./postgres-server.js";

export interface MariadbServer {
  port: number;
  password: string;
  query<Row = Record<string, unknown>>(sql: string, parameters?: unknown[]): Promise<Row[]>;
  canLogin(user: string, password: string): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startMariadb(): Promise<MariadbServer> {
  const port = await freePort();
  const password = "mariadb-admin-secret-for-tests";
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-mariadb-"));
  const dataDir = path.join(directory, "data");
  const socket = path.join(directory, "socket");
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  try {
    await promisify(execFile)("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${dataDir}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...asRoot,
    ]);
  } catch (error) {
    throw new Error(`mariadb-install-db failed (install Debian's mariadb-server): ${(error as Error).message}`);
  }
  const child: ChildProcess = spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--skip-log-bin",
      "--innodb-buffer-pool-size=64M",
      "--skip-name-resolve",
      ...asRoot,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let admin: mysql.Pool | undefined;
  for (let attempt = 0; attempt < 200 && admin === undefined; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`mariadbd exited: ${output}`);
    try {
      const first = await mysql.createConnection({ socketPath: socket, user: "root" });
      await first.query(`ALTER USER root@localhost IDENTIFIED BY ${mysql.escape(password)}`);
      await first.query(`CREATE OR REPLACE USER root@'127.0.0.1' IDENTIFIED BY ${mysql.escape(password)}`);
      await first.query("GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION");
      await first.end();
      admin = mysql.createPool({ host: "127.0.0.1", port, user: "root", password, connectionLimit: 2 });
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  if (admin === undefined) throw new Error(`mariadbd did not answer on port ${port}: ${output}`);
  const pool = admin;
  return {
    port,
    password,
    async query<Row>(sql: string, parameters: unknown[] = []) {
      const [rows] = await pool.query(sql, parameters);
      return rows as Row[];
    },
    async canLogin(user, secret) {
      try {
        const connection = await mysql.createConnection({ host: "127.0.0.1", port, user, password: secret });
        await connection.end();
        return true;
      } catch {
        return false;
      }
    },
    async stop() {
      await pool.end();
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(undefined)));
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A MariaDB server for the file's tests, started before them and stopped after. */
export function useMariadb(): MariadbServer {
  let server: MariadbServer | undefined;
  const proxy = {} as MariadbServer;
  beforeAll(async () => {
    server = await startMariadb();
    Object.assign(proxy, server);
  }, 60_000);
  afterAll(async () => server?.stop());
  return proxy;
}
