// The agent as a child process for benchmarks: started on a free port with a
// token file, and a small API client.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "main.js");

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Process CPU seconds (user + system) from /proc. */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;

export async function startBenchAgent(root, webhookSecret, args, name) {
  const child = spawn(
    process.execPath,
    [cli, "agent", "--listen", "127.0.0.1:0", "--data-dir", path.join(root, name, "data"), "--token-file", path.join(root, name, "token"), ...args],
    {
      env: { ...process.env, PLUMB_WEBHOOK_SECRET: webhookSecret, PLUMB_LOG_LEVEL: "warn" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr.on("data", (chunk) => (log += chunk));
  for (let waited = 0; !/listening on (http:\S+)/.test(log); waited += 50) {
    if (waited > 20_000 || child.exitCode !== null) throw new Error(`agent did not start:\n${log}`);
    await sleep(50);
  }
  const url = /listening on (http:\S+)/.exec(log)[1];
  // The API listens before the first read of the platform; measure from when the agent says it is ready.
  for (let waited = 0; (await fetch(`${url}/readyz`).catch(() => undefined))?.status !== 200; waited += 50) {
    if (waited > 60_000 || child.exitCode !== null) throw new Error(`agent did not become ready:\n${log}`);
    await sleep(50);
  }
  // An agent joining a store that has tokens already writes none: it answers to the first agent's token.
  const tokenFile = path.join(root, name, "token");
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, "utf8").trim() : "";
  const api = async (method, route) => {
    const response = await fetch(`${url}${route}`, { method, headers: { authorization: `Bearer ${token}` } });
    return response.headers.get("content-type")?.includes("json") ? response.json() : response.text();
  };
  return { child, url, api, stop: () => new Promise((resolve) => (child.once("exit", resolve), child.kill("SIGTERM"))) };
}
