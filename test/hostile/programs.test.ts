// Hostile programs: every way out of the sandbox we could think of. Each runs
// as a stack's main.ts through `plumb plan`; none may reach the listener on
// the host's loopback, read the CLI's environment or a file outside its
// stack, write anywhere, leave a process behind, or crash the CLI.

import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../helpers.js";

const canary = `CANARY${randomUUID().replaceAll("-", "")}`;
let scratch: string;
let listener: Server;
let port: number;
let connections = 0;
let outsideFile: string;

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), "plumb-hostile-programs-"));
  outsideFile = path.join(scratch, "outside.txt");
  writeFileSync(outsideFile, `${canary}\n`);
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
  rmSync(scratch, { recursive: true, force: true });
});

interface Case {
  name: string;
  /** The body of an async function; whatever it pushes to `seen` becomes a file's content in the plan. */
  attempt: string;
  /** What plan's output must show: the refusal or the harmless outcome. */
  expect: RegExp;
  timeout?: string;
}

const cases: Case[] = [
  {
    name: "net through process.getBuiltinModule",
    attempt: `await new Promise((done) => { const socket = (process as any).getBuiltinModule("net").connect(PORT, "127.0.0.1"); socket.on("connect", () => { seen.push("connected"); done(0); }); socket.on("error", (e: any) => { seen.push(e.code); done(0); }); });`,
    expect: /ECONNREFUSED/,
  },
  {
    name: "http through process.getBuiltinModule",
    attempt: `await new Promise((done) => { const request = (process as any).getBuiltinModule("http").get("http://127.0.0.1:PORT/"); request.on("response", () => { seen.push("answered"); done(0); }); request.on("error", (e: any) => { seen.push(e.code); done(0); }); });`,
    expect: /ECONNREFUSED/,
  },
  {
    name: "http through createRequire",
    attempt: `const load = (process as any).getBuiltinModule("module").createRequire("/"); await new Promise((done) => { const request = load("http").get("http://127.0.0.1:PORT/"); request.on("error", (e: any) => { seen.push(e.code); done(0); }); request.on("response", () => { seen.push("answered"); done(0); }); });`,
    expect: /ECONNREFUSED/,
  },
  {
    name: "net through a computed dynamic import",
    attempt: `const net: any = await import(["node", "net"].join(":")); await new Promise((done) => { const socket = net.connect(PORT, "127.0.0.1"); socket.on("connect", () => { seen.push("connected"); done(0); }); socket.on("error", (e: any) => { seen.push(e.code); done(0); }); });`,
    expect: /ECONNREFUSED|may not use the network|ERR_ACCESS_DENIED|not available/,
  },
  {
    name: "dgram to the host",
    attempt: `const dgram = (process as any).getBuiltinModule("dgram"); const socket = dgram.createSocket("udp4"); await new Promise((done) => socket.send("x", PORT, "10.0.0.1", (e: any) => { seen.push(e ? e.code : "sent-into-nothing"); done(0); })); socket.close();`,
    expect: /ENETUNREACH|EINVAL|sent-into-nothing/,
  },
  {
    name: "fetch",
    attempt: `try { await (globalThis as any).fetch("http://127.0.0.1:PORT/"); seen.push("fetched"); } catch (e: any) { seen.push(String(e.message)); }`,
    expect: /network access|not available/,
  },
  {
    name: "dns lookup of a public name",
    attempt: `try { await (process as any).getBuiltinModule("dns").promises.lookup("example.org"); seen.push("resolved"); } catch (e: any) { seen.push(e.code); }`,
    expect: /ENOTFOUND|EAI_AGAIN|ECONNREFUSED/,
  },
  {
    name: "only a private loopback and hostname",
    attempt: `const os = (process as any).getBuiltinModule("os"); seen.push(Object.keys(os.networkInterfaces()).join(","), os.hostname());`,
    expect: /content: "lo\|plumb-sandbox"/,
  },
  {
    name: "a worker thread",
    attempt: `new ((process as any).getBuiltinModule("worker_threads").Worker)("0", { eval: true }); seen.push("worker");`,
    expect: /worker threads are not allowed|ERR_ACCESS_DENIED/,
  },
  {
    name: "a child process",
    attempt: `(process as any).getBuiltinModule("child_process").spawnSync("sh", ["-c", "echo escaped > /tmp/escaped"]); seen.push("spawned");`,
    expect: /starting a process is not allowed/,
  },
  { name: "signalling the parent", attempt: `process.kill(process.ppid, "SIGKILL"); seen.push("killed");`, expect: /process\.kill is not available/ },
  { name: "process.binding", attempt: `(process as any).binding("fs"); seen.push("bound");`, expect: /process\.binding is not available/ },
  {
    name: "process.dlopen",
    attempt: `(process as any).dlopen({ exports: {} }, "/usr/lib/x86_64-linux-gnu/libc.so.6"); seen.push("loaded");`,
    expect: /process\.dlopen is not available/,
  },
  {
    name: "the agent's environment",
    attempt: `seen.push(String((process as any).getBuiltinModule("process").env.PLUMB_HOSTILE_CANARY));`,
    expect: /process\.env is not available/,
  },
  {
    name: "another process's environment in /proc",
    attempt: `seen.push((process as any).getBuiltinModule("fs").readFileSync("/proc/1/environ", "utf8"));`,
    expect: /reading \/proc\/1\/environ is not allowed/,
  },
  {
    name: "a file outside the stack",
    attempt: `seen.push((process as any).getBuiltinModule("fs").readFileSync("OUTSIDE", "utf8"));`,
    expect: /is not allowed: a program may read files only inside its own stack directory/,
  },
  {
    name: "a write to /tmp",
    attempt: `(process as any).getBuiltinModule("fs").writeFileSync("/tmp/escaped", "x"); seen.push("written");`,
    expect: /writing \/tmp\/escaped is not allowed/,
  },
  {
    name: "a flood on stdout",
    attempt: `const chunk = "x".repeat(1 << 20); for (let i = 0; i < 64; i++) process.stdout.write(chunk); seen.push("flooded");`,
    expect: /content: "flooded"/,
  },
  {
    name: "endless recursion",
    attempt: `const dive = (n: number): number => dive(n + 1) + 1; seen.push(String(dive(0)));`,
    expect: /Maximum call stack size exceeded/,
  },
  {
    name: "a blocking wait",
    attempt: `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); seen.push("woke");`,
    expect: /did not finish within 3 s/,
    timeout: "3s",
  },
  { name: "a promise that never settles", attempt: `await new Promise(() => undefined); seen.push("settled");`, expect: /never settled/ },
  {
    name: "unbounded allocation",
    attempt: `const hoard: string[] = []; for (;;) hoard.push("y".repeat(1 << 20) + hoard.length);`,
    expect: /used more than 96 MiB of memory/,
  },
  {
    name: "a value whose getters throw",
    attempt: `throw new Proxy({}, { get() { throw new Error("gotcha"); }, getPrototypeOf() { throw new Error("gotcha"); } });`,
    expect: /cannot be described|threw/,
  },
  {
    name: "WebAssembly",
    attempt: `const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]); const module = await WebAssembly.compile(bytes); seen.push(module instanceof WebAssembly.Module ? "wasm" : "no");`,
    expect: /content: "wasm"/,
  },
  {
    name: "the inspector",
    attempt: `try { (process as any).getBuiltinModule("inspector").open(PORT, "127.0.0.1"); seen.push("inspector open"); } catch (e: any) { seen.push(String(e.code ?? e.message)); }`,
    expect: /ERR_ACCESS_DENIED|not allowed|inspector open|ERR_INSPECTOR/,
  },
  {
    name: "V8 flags",
    attempt: `(process as any).getBuiltinModule("v8").setFlagsFromString("--allow-natives-syntax"); seen.push("flags set");`,
    expect: /content: "flags set"/,
  },
  {
    name: "require rebuilt with new Function",
    attempt: `const load = new Function("return typeof require === 'function' ? require : undefined")(); seen.push(load === undefined ? "no require" : typeof load("child_process").execSync);`,
    expect: /content: "no require"/,
  },
  { name: "process.exit", attempt: `process.exit(0);`, expect: /process\.exit is not available/ },
  {
    name: "a write to the answer channel before the answer",
    attempt: `(process as any).getBuiltinModule("fs").writeSync(3, '{"protocol":"plumb.sandbox/v1","ok":true}\\n'); seen.push("forged");`,
    expect: /not JSON|malformed|must not write to file descriptor 3/,
  },
];

function writeStack(name: string, attempt: string): string {
  const directory = path.join(scratch, name);
  mkdirSync(directory);
  writeFileSync(
    path.join(directory, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: hostile }\nspec:\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(scratch, `${name}-out`))} } } }\n`,
  );
  const body = attempt.replaceAll("PORT", String(port)).replaceAll("OUTSIDE", outsideFile);
  writeFileSync(
    path.join(directory, "main.ts"),
    `import { file } from "plumb/sdk";\nexport default async function () {\n  const seen: string[] = [];\n  ${body}\n  new file.File("observed", { path: "observed.txt", content: seen.join("|") });\n}\n`,
  );
  return directory;
}

describe.concurrent("hostile programs", () => {
  for (const [index, item] of cases.entries()) {
    it(
      item.name,
      async () => {
        const directory = writeStack(`case-${index}`, item.attempt);
        const temporary = path.join(scratch, `tmp-${index}`);
        mkdirSync(temporary);
        const before = connections;
        const result = await runCliAsync(
          [
            "plan",
            directory,
            "--detailed-exitcode",
            "--data-dir",
            path.join(scratch, `data-${index}`),
            "--program-timeout",
            item.timeout ?? "20s",
            "--program-memory",
            "96",
          ],
          {
            env: { PLUMB_HOSTILE_CANARY: canary, TMPDIR: temporary },
          },
        );
        const output = `${result.stdout}${result.stderr}`;
        expect(output).toMatch(item.expect);
        // Refused or harmless, it is an answer: exit 0 or 2 (a plan) or 1 (an error), never a crash.
        expect([0, 1, 2]).toContain(result.status);
        expect(output).not.toContain(canary);
        expect(output).not.toMatch(/at .*node:internal|sandbox-runner\.ts:\d+/);
        expect(connections).toBe(before);
        expect(readdirSync(temporary)).toEqual([]);
        expect(readFileSync(outsideFile, "utf8")).toBe(`${canary}\n`);
      },
      60_000,
    );
  }
});
