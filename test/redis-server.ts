// Starts a real Redis server for tests from Debian's `redis-server`, on a free
// port, with no persistence, its default user behind a password.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createClient } from "redis";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./postgres-server.js";

export interface RedisServer {
  port: number;
  password: string;
  /** Runs one command as the admin. */
  command(args: readonly string[]): Promise<unknown>;
  /** Whether `user` can log in with `password`. */
  canLogin(user: string, password: string): Promise<boolean>;
  stop(): Promise<void>;
}

async function connect(port: number, username: string, password: string) {
  const client = createClient({ username, password, socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 2000 } });
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const password = "redis-admin-secret-for-tests";
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-redis-"));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--requirepass", password],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const spawned = new Promise<never>((_, reject) =>
    child.once("error", (error) => reject(new Error(`redis-server did not start (${error.message}); install Debian's redis-server`))),
  );
  const ready = (async () => {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      try {
        (await connect(port, "default", password)).destroy();
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    throw new Error(`redis-server did not answer on port ${port}: ${output}`);
  })();
  await Promise.race([ready, spawned]);
  const admin = await connect(port, "default", password);
  return {
    port,
    password,
    command: (args) => admin.sendCommand([...args]),
    async canLogin(user, secret) {
      try {
        (await connect(port, user, secret)).destroy();
        return true;
      } catch {
        return false;
      }
    },
    async stop() {
      admin.destroy();
      child.kill("SIGTERM");
      await new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(undefined)));
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A Redis server for the file's tests, started before them and stopped after. */
export function useRedis(): RedisServer {
  let server: RedisServer | undefined;
  const proxy = {} as RedisServer;
  beforeAll(async () => {
    server = await startRedis();
    Object.assign(proxy, server);
  }, 30_000);
  afterAll(async () => server?.stop());
  return proxy;
}
