// The agent as a real child process on a free port, and a small client for its API.

import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cliPath } from "./helpers.js";

export interface RunningAgent {
  url: string;
  adminToken: string;
  process: ChildProcess;
  /** Everything the agent wrote to stdout and stderr so far. */
  output(): string;
  api<Result = unknown>(
    method: string,
    route: string,
    options?: { token?: string | null; body?: unknown; headers?: Record<string, string>; rawBody?: Buffer | string },
  ): Promise<{ status: number; body: Result }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startAgent(
  args: readonly string[],
  options: { env?: Record<string, string>; tokenFile: string; cwd?: string; command?: readonly string[] },
): Promise<RunningAgent> {
  // The built CLI by default; the package test runs an installed `plumb` instead.
  const [command, ...prefix] = options.command ?? [process.execPath, cliPath];
  const child = spawn(command as string, [...prefix, "agent", "--listen", "127.0.0.1:0", "--token-file", options.tokenFile, ...args], {
    env: { ...process.env, PLUMB_LOG_LEVEL: "info", ...options.env },
    cwd: options.cwd ?? process.cwd(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stderr.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`agent exited with ${code}:\n${output}`));
    });
  });
  const adminToken = readFileSync(options.tokenFile, "utf8").trim();
  // The API listens before the first read of the platform; a test starts once the agent says it is ready, as a load balancer would.
  const readyBy = Date.now() + 60_000;
  while ((await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200) {
    if (Date.now() > readyBy || child.exitCode !== null) throw new Error(`agent did not become ready:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    adminToken,
    process: child,
    output: () => output,
    async api(method, route, requestOptions = {}) {
      const token = requestOptions.token === undefined ? adminToken : requestOptions.token;
      const headers: Record<string, string> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...requestOptions.headers };
      let body: string | Buffer | undefined = requestOptions.rawBody;
      if (requestOptions.body !== undefined) {
        body = JSON.stringify(requestOptions.body);
        headers["content-type"] = "application/json";
      }
      // A bounded wait: an agent that stopped answering (paused, overloaded) fails this call, and a polling caller tries again.
      const response = await fetch(`${url}${route}`, { method, headers, signal: AbortSignal.timeout(15_000), ...(body === undefined ? {} : { body }) });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (metrics); keep the text.
      }
      return { status: response.status, body: parsed as never };
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill(signal);
      await exited;
    },
  };
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs` with what it last saw. */
export async function eventually<Value>(check: () => Promise<Value | undefined>, timeoutMs = 20_000, what = "condition"): Promise<Value> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
