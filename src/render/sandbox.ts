// The parent side of the program sandbox: bundles a stack's program and the
// platform's composites with esbuild (imports may not leave their directory),
// runs the bundle in a separate Node process inside kernel namespaces (see
// isolation.ts) and under Node's permission model, with an empty environment,
// a wall-clock limit and a memory limit, and validates the one JSON answer it
// writes to file descriptor 3.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Type } from "@sinclair/typebox";
import { PlumbError } from "../errors.js";
import type { SourceSite } from "../sdk/program-scope.js";
import { sandboxProtocol, type SandboxAnswer, type SandboxRequest } from "./sandbox-protocol.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import { bubblewrapArguments, isolationFor } from "./isolation.js";
import { bundle, pathDisplay, realRoot, type RealRoot } from "./sandbox-bundle.js";

export interface SandboxLimits {
  /** Wall-clock limit for one run, in milliseconds. */
  timeoutMs: number;
  /** Memory limit (V8 heap, and resident size with a margin), in MiB. */
  memoryMiB: number;
  /**
   * The operator's explicit choice to run programs under Node's permission
   * model alone where the kernel cannot isolate them (no bubblewrap, no user
   * namespaces). Off by default: such a host refuses to run programs.
   */
  withoutKernelIsolation?: boolean;
}

export const defaultSandboxLimits: SandboxLimits = { timeoutMs: 30_000, memoryMiB: 512 };

/** Sandbox processes and their workspaces still alive, so a signal to the CLI can end them. */
const running = new Set<{ child: ChildProcess; workspace: string }>();

/**
 * Kills every sandbox process and removes its workspace, synchronously: for
 * a CLI that is interrupted (SIGINT, SIGTERM) before its promises settle.
 */
export function stopAllSandboxes(): void {
  for (const entry of running) {
    entry.child.kill("SIGKILL");
    rmSync(entry.workspace, { recursive: true, force: true });
  }
  running.clear();
}

/** A directory whose files user code may import (and, for the stack, read). */
export interface SandboxRoot {
  directory: string;
  /** Put before paths inside it in messages: "" for the stack, the platform's path for composites. */
  display: string;
}

export interface SandboxJob {
  /** The stack directory: the process's working directory and the only place it may read. */
  stack?: SandboxRoot;
  /** The stack's main.ts, when it has one. */
  program?: string;
  /** The platform directory and its `*.composite.ts` / `*.rule.ts` modules. */
  platformRoot?: SandboxRoot;
  platformFiles: string[];
  request: SandboxRequest;
  limits: SandboxLimits;
  /** What is being run, for messages: "stack orders" or "the platform's composites". */
  subject: string;
}

/** Node builtins user code may import: none of them reach the network or start processes. */
const answerCap = 256 * 1024 * 1024;
const outputTail = 8 * 1024;
/** Node's own resident memory on top of the heap limit before the watchdog stops the process. */
const residentMargin = 160;

const levelSchema = Type.Union([Type.Literal("deny"), Type.Literal("warn"), Type.Literal("remediate")]);
const siteSchema = Type.Union([Type.Null(), Type.Object({ file: Type.String(), line: Type.Integer(), column: Type.Integer() })]);
const stringMap = Type.Record(Type.String(), Type.String());
const emittedSchema = Type.Object({
  apiVersion: Type.String(),
  kind: Type.String(),
  metadata: Type.Object({ name: Type.String(), labels: stringMap, annotations: stringMap }),
  spec: Type.Unknown(),
  site: siteSchema,
  composite: Type.Union([Type.String(), Type.Null()]),
  input: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
});
const answerSchema = Type.Union([
  Type.Object({
    protocol: Type.Literal(sandboxProtocol),
    ok: Type.Literal(true),
    composites: Type.Array(
      Type.Object({
        file: Type.String(),
        apiVersion: Type.String(),
        kind: Type.String(),
        description: Type.String(),
        schema: Type.Unknown(),
        examples: Type.Array(Type.Unknown()),
      }),
    ),
    rules: Type.Array(
      Type.Object({
        file: Type.String(),
        name: Type.String(),
        level: levelSchema,
        scope: Type.Union([Type.Literal("resource"), Type.Literal("stack")]),
        description: Type.String(),
      }),
    ),
    violations: Type.Array(
      Type.Object({
        rule: Type.String(),
        level: levelSchema,
        address: Type.String(),
        message: Type.String(),
        hint: Type.String(),
        fix: Type.Union([Type.Null(), Type.Record(Type.String({ pattern: "^/" }), Type.Unknown())]),
      }),
    ),
    resources: Type.Array(emittedSchema),
    claims: Type.Array(Type.Intersect([emittedSchema, Type.Object({ address: Type.String() })])),
    problems: Type.Array(
      Type.Object({
        claim: Type.String(),
        path: Type.Array(Type.Union([Type.String(), Type.Integer()])),
        message: Type.String(),
        hint: Type.Optional(Type.String()),
        site: siteSchema,
        input: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
      }),
    ),
  }),
  Type.Object({ protocol: Type.Literal(sandboxProtocol), ok: Type.Literal(false), error: Type.Object({ message: Type.String(), site: siteSchema }) }),
]);

function permissionFlags(readable: string[]): string[] {
  const major = Number(process.versions.node.split(".")[0]);
  return [major >= 22 ? "--permission" : "--experimental-permission", ...readable.map((directory) => `--allow-fs-read=${directory}`)];
}

function tail(chunks: Buffer[]): string {
  const text = Buffer.concat(chunks).toString("utf8");
  return text.length > outputTail ? `…${text.slice(-outputTail)}` : text;
}

function residentMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, "utf8")
        .split(" ")
        .filter((item) => item !== "")
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** Resident memory of a process and everything below it (bubblewrap's Node process is a grandchild). */
function treeResidentMiB(pid: number): number {
  let total = 0;
  const pending = [pid];
  for (let visited = 0; pending.length > 0 && visited < 64; visited++) {
    const current = pending.pop() as number;
    total += residentMiB(current);
    pending.push(...childrenOf(current));
  }
  return total;
}

/** Runs user code in the sandbox and returns its validated answer; every failure is a PlumbError naming the subject. */
export async function runInSandbox(job: SandboxJob): Promise<Extract<SandboxAnswer, { ok: true }>> {
  const isolation = await isolationFor({ allowWithoutKernel: job.limits.withoutKernelIsolation === true });
  const roots = [realRoot(job.stack), realRoot(job.platformRoot)].filter((item): item is RealRoot => item !== undefined);
  const show = pathDisplay(roots);
  const workspace = await mkdtemp(path.join(tmpdir(), "plumb-sandbox-"));
  try {
    const bundlePath = path.join(workspace, "sandbox.mjs");
    const code = await bundle(job, roots, show, bundlePath);
    await writeFile(bundlePath, code, { mode: 0o600 });
    const readable = [workspace, ...(job.stack === undefined ? [] : [realpathSync(job.stack.directory)])];
    const flags = [
      ...permissionFlags(readable),
      `--max-old-space-size=${job.limits.memoryMiB}`,
      "--enable-source-maps",
      "--disable-warning=ExperimentalWarning",
    ];
    const cwd = job.stack === undefined ? workspace : realpathSync(job.stack.directory);
    const command = [process.execPath, ...flags, bundlePath];
    const launch =
      isolation.mode === "kernel"
        ? { file: isolation.bwrap, args: bubblewrapArguments(readable, cwd, command) }
        : { file: process.execPath, args: command.slice(1) };
    const text = await runProcess(launch, cwd, workspace, JSON.stringify(job.request), job);
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new PlumbError("PLUMB_PROGRAM", `${job.subject}: the sandbox answered with something that is not JSON`, {
        hint: "user code must not write to file descriptor 3",
      });
    }
    const problems = checkAgainstSchema(answerSchema, answer);
    if (problems.length > 0) {
      throw new PlumbError(
        "PLUMB_PROGRAM",
        `${job.subject}: the sandbox's answer is malformed at ${formatFieldPath((problems[0] as { path: (string | number)[] }).path)}: ${(problems[0] as { message: string }).message}`,
        { hint: "user code must not write to file descriptor 3" },
      );
    }
    const valid = answer as SandboxAnswer;
    if (!valid.ok) {
      const site = valid.error.site;
      throw new PlumbError("PLUMB_PROGRAM", `${job.subject}: ${valid.error.message}`, { location: site === null ? {} : siteLocation(site, show) });
    }
    return valid;
  } finally {
    await rm(workspace, { recursive: true, force: true });
  }
}

export function siteLocation(site: SourceSite, show: (file: string) => string): { file: string; line: number; column: number } {
  return { file: show(site.file), line: site.line, column: site.column };
}

function runProcess(launch: { file: string; args: string[] }, cwd: string, workspace: string, input: string, job: SandboxJob): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.file, launch.args, { cwd, env: {}, stdio: ["pipe", "pipe", "pipe", "pipe"] });
    const entry = { child, workspace };
    running.add(entry);
    const answer: Buffer[] = [];
    let answerBytes = 0;
    const stderr: Buffer[] = [];
    let stderrBytes = 0;
    let stopped: string | undefined;
    const stop = (reason: string) => {
      stopped ??= reason;
      child.kill("SIGKILL");
    };
    const seconds = (job.limits.timeoutMs / 1000).toLocaleString("en", { maximumFractionDigits: 1 });
    const timer = setTimeout(() => stop(`did not finish within ${seconds} s`), job.limits.timeoutMs);
    const watchdog = setInterval(() => {
      const resident = child.pid === undefined ? 0 : treeResidentMiB(child.pid);
      if (resident > job.limits.memoryMiB + residentMargin) stop(`used more than ${job.limits.memoryMiB} MiB of memory`);
    }, 100);
    child.stdout.resume();
    child.stderr.on("data", (chunk: Buffer) => {
      stderr.push(chunk);
      stderrBytes += chunk.length;
      while (stderrBytes > outputTail * 2 && stderr.length > 1) stderrBytes -= (stderr.shift() as Buffer).length;
    });
    const answerStream = child.stdio[3] as NodeJS.ReadableStream;
    answerStream.on("data", (chunk: Buffer) => {
      answerBytes += chunk.length;
      if (answerBytes > answerCap) stop(`answered with more than ${answerCap / 1024 / 1024} MiB`);
      else answer.push(chunk);
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
    child.on("error", (error) => {
      running.delete(entry);
      clearTimeout(timer);
      clearInterval(watchdog);
      reject(new PlumbError("PLUMB_PROGRAM", `${job.subject}: cannot start the sandbox process: ${error.message}`));
    });
    child.on("close", (code, signal) => {
      running.delete(entry);
      clearTimeout(timer);
      clearInterval(watchdog);
      const output = tail(stderr).trim();
      const heapExhausted = /heap out of memory|Allocation failed/i.test(output);
      if (stopped !== undefined || heapExhausted) {
        const reason = stopped ?? `used more than ${job.limits.memoryMiB} MiB of memory`;
        const hint = reason.startsWith("did not finish")
          ? "look for an endless loop or a wait that never ends; the limit is --program-timeout"
          : reason.startsWith("used more")
            ? "look for a loop that keeps allocating; the limit is --program-memory"
            : undefined;
        reject(new PlumbError("PLUMB_PROGRAM_LIMIT", `${job.subject} ${reason} and was stopped`, hint === undefined ? {} : { hint }));
        return;
      }
      if (code === 13 && answer.length === 0) {
        reject(
          new PlumbError("PLUMB_PROGRAM", `${job.subject}: its promise never settled (nothing was left to wait for)`, {
            hint: "await only promises that resolve; the default export must finish",
          }),
        );
        return;
      }
      if (code !== 0 || answer.length === 0) {
        const last = output.split("\n").slice(-6).join("\n");
        reject(
          new PlumbError(
            "PLUMB_PROGRAM",
            `${job.subject}: the sandbox process ${signal === null ? `exited with code ${code}` : `was killed by ${signal}`} without an answer${last === "" ? "" : `:\n${last}`}`,
            { hint: "a program must return (or resolve) after declaring its resources; process.exit is not allowed" },
          ),
        );
        return;
      }
      resolve(Buffer.concat(answer).toString("utf8"));
    });
  });
}
