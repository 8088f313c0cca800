// Starts a real RabbitMQ broker for tests from Debian's `rabbitmq-server`,
// with the management plugin, on free ports, its files in a temp directory.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./postgres-server.js";

export interface RabbitmqServer {
  url: string;
  password: string;
  /** One management API call as the admin; the parsed JSON answer. */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Whether `user` can log in to the management API with `password` (a user needs a tag such as management for that). */
  canLogin(user: string, password: string): Promise<boolean>;
  stop(): Promise<void>;
}

const broker = "/usr/lib/rabbitmq/bin/rabbitmq-server";

export async function startRabbitmq(): Promise<RabbitmqServer> {
  const [amqpPort, managementPort, distributionPort] = [await freePort(), await freePort(), await freePort()];
  const password = "rabbit-admin-secret-for-tests";
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-rabbitmq-"));
  writeFileSync(path.join(directory, "enabled_plugins"), "[rabbitmq_management].\n");
  writeFileSync(
    path.join(directory, "rabbitmq.conf"),
    [
      `listeners.tcp.default = ${amqpPort}`,
      `management.tcp.port = ${managementPort}`,
      "management.tcp.ip = 127.0.0.1",
      "default_user = admin",
      `default_pass = ${password}`,
      "loopback_users = none",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(broker, [], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      HOME: directory,
      RABBITMQ_NODENAME: `plumb${managementPort}@localhost`,
      RABBITMQ_MNESIA_BASE: path.join(directory, "mnesia"),
      RABBITMQ_LOG_BASE: path.join(directory, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(directory, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: path.join(directory, "rabbitmq"),
      RABBITMQ_DIST_PORT: String(distributionPort),
      RABBITMQ_PID_FILE: path.join(directory, "pid"),
    },
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.once("error", (error) => (output += `\n${error.message}: install Debian's rabbitmq-server`));
  const url = `http://127.0.0.1:${managementPort}`;
  const request = async (user: string, secret: string, method: string, apiPath: string, body?: unknown) =>
    fetch(`${url}/api${apiPath}`, {
      method,
      headers: { authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  let ready = false;
  for (let attempt = 0; attempt < 240 && !ready; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`rabbitmq-server exited: ${output}`);
    ready = await request("admin", password, "GET", "/overview").then(
      (response) => response.ok,
      () => false,
    );
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!ready) throw new Error(`rabbitmq-server did not answer on ${url}: ${output}`);
  return {
    url,
    password,
    async api(method, apiPath, body) {
      const response = await request("admin", password, method, apiPath, body);
      const text = await response.text();
      if (!response.ok && response.status !== 404) throw new Error(`${method} ${apiPath}: ${response.status} ${text}`);
      return text === "" ? undefined : JSON.parse(text);
    },
    async canLogin(user, secret) {
      return (await request(user, secret, "GET", "/whoami")).ok;
    },
    async stop() {
      const exited = new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(undefined)));
      try {
        process.kill(-(child.pid as number), "SIGTERM");
      } catch {
        // Already gone.
      }
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A broker for the file's tests, started before them and stopped after. */
export function useRabbitmq(): RabbitmqServer {
  let server: RabbitmqServer | undefined;
  const proxy = {} as RabbitmqServer;
  beforeAll(async () => {
    server = await startRabbitmq();
    Object.assign(proxy, server);
  }, 90_000);
  afterAll(async () => server?.stop(), 30_000);
  return proxy;
}
