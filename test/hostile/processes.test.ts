// Processes an attacker or a fault leaves behind: a sandbox child must die
// with an interrupted CLI and leave no workspace; a second agent on the same
// data directory is refused naming the first; a dead, zombie or reused pid
// never keeps a stack lock.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ownIdentity, processAlive } from "../../src/state/process-identity.js";
import { startAgent } from "../agent-process.js";
import { eventually } from "../agent-process.js";
import { cliPath, runCli } from "../helpers.js";

let scratch: string;
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function sandboxProcesses(marker: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((name) => /^[0-9]+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (command.includes(marker)) found.push(`${pid}: ${command.replaceAll("\0", " ")}`);
    } catch {
      // Gone between the listing and the read.
    }
  }
  return found;
}

describe("processes", () => {
  /** `plumb plan` of a program that never ends, once its sandbox process runs; TMPDIR marks its processes. */
  async function spinningPlan(): Promise<{ child: ChildProcess; temporary: string }> {
    scratch = mkdtempSync(path.join(tmpdir(), "plumb-signal-"));
    const stack = path.join(scratch, "stack");
    const temporary = path.join(scratch, "tmp");
    mkdirSync(stack);
    mkdirSync(temporary);
    writeFileSync(path.join(stack, "main.ts"), "export default function () { for (;;) {} }\n");
    const child = spawn(process.execPath, [cliPath, "plan", stack, "--program-timeout", "120s"], {
      env: { ...process.env, TMPDIR: temporary },
      stdio: "ignore",
    });
    await eventually(async () => (sandboxProcesses(temporary).length > 0 ? true : undefined), 20_000, "the sandbox to start");
    return { child, temporary };
  }

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} to plan while a program spins kills the sandbox and removes its workspace`, async () => {
      const { child, temporary } = await spinningPlan();
      child.kill(signal);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      expect(code).toBe(signal === "SIGINT" ? 130 : 143);
      await eventually(async () => (sandboxProcesses(temporary).length === 0 ? true : undefined), 5_000, "no sandbox process left");
      expect(readdirSync(temporary)).toEqual([]);
    }, 40_000);
  }

  it("SIGKILL of plan still takes the sandbox down with it", async () => {
    const { child, temporary } = await spinningPlan();
    child.kill("SIGKILL");
    await eventually(async () => (sandboxProcesses(temporary).length === 0 ? true : undefined), 5_000, "no sandbox process left");
  }, 40_000);

  it("refuses a second agent on the same data directory and names the first", async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "plumb-twice-"));
    const platform = path.join(scratch, "platform");
    mkdirSync(platform);
    const data = path.join(scratch, "data");
    const first = await startAgent(["--platform", platform, "--data-dir", data], { tokenFile: path.join(scratch, "token") });
    try {
      const second = runCli(["agent", "--platform", platform, "--data-dir", data, "--listen", "127.0.0.1:0"]);
      expect(second.status).toBe(1);
      expect(second.stderr).toContain(`is in use by the agent with pid ${first.process.pid}`);
      expect(second.stderr).toContain(first.url);
      expect(second.stderr).toContain("PLUMB_DATA_DIR_LOCKED");
    } finally {
      await first.stop("SIGKILL");
    }
    // The kernel dropped the lock with the process: a new agent starts.
    const again = await startAgent(["--platform", platform, "--data-dir", data], { tokenFile: path.join(scratch, "token") });
    await again.stop();
  }, 60_000);

  it("tells a live process from a dead, zombie or reused pid", async () => {
    expect(processAlive(ownIdentity())).toBe(true);
    const [pid, start] = ownIdentity().split("@");
    expect(processAlive(`${pid}@${Number(start) + 1}`)).toBe(false);
    expect(processAlive("0")).toBe(false);
    // A child that is never reaped stays a zombie while its parent sleeps.
    const parent = spawn("sh", ["-c", "sleep 0 & exec sleep 5"], { stdio: "ignore" });
    const zombie = await eventually(
      async () => {
        const listed = spawnSync("ps", ["-o", "pid=,stat=", "--ppid", String(parent.pid)], { encoding: "utf8" }).stdout.trim();
        const match = /^(\d+)\s+Z/.exec(listed);
        return match === null ? undefined : Number(match[1]);
      },
      5_000,
      "a zombie",
    );
    expect(processAlive(String(zombie))).toBe(false);
    parent.kill("SIGKILL");
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    expect(processAlive(String(gone.pid))).toBe(false);
  });
});

describe("without kernel isolation", () => {
  it("the agent says so at start and refuses a program stack, naming why, while a YAML stack applies", async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "plumb-noiso-"));
    const platform = path.join(scratch, "platform");
    for (const name of ["program", "plain"]) mkdirSync(path.join(platform, "apps", name), { recursive: true });
    const stackDocument = (name: string) =>
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(scratch, "out", name))} } } }\n  sync: { auto: true }\n`;
    writeFileSync(path.join(platform, "program.yaml"), stackDocument("program"));
    writeFileSync(path.join(platform, "plain.yaml"), stackDocument("plain"));
    writeFileSync(
      path.join(platform, "apps", "program", "main.ts"),
      'import { file } from "plumb/sdk";\nexport default function () { new file.File("f", { path: "f.txt", content: "x" }); }\n',
    );
    writeFileSync(
      path.join(platform, "apps", "plain", "f.yaml"),
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: f }\nspec: { path: f.txt, content: x }\n",
    );
    const agent = await startAgent(["--platform", platform, "--data-dir", path.join(scratch, "data")], {
      tokenFile: path.join(scratch, "token"),
      env: { PLUMB_BWRAP: "/nonexistent/bwrap" },
    });
    try {
      await eventually(
        async () =>
          agent.output().includes("bubblewrap (bwrap) is not installed at /nonexistent/bwrap: stacks with programs or composite claims are refused")
            ? true
            : undefined,
        10_000,
        "the warning at start",
      );
      const stalled = await eventually(
        async () => {
          const summary = await agent.api<{ conditions: { type: string; status: string; message: string }[] }>("GET", "/api/v1/stacks/program");
          return summary.body.conditions.find((condition) => condition.type === "Stalled" && condition.status === "True");
        },
        20_000,
        "the program stack refused",
      );
      expect(stalled.message).toContain("PLUMB_SANDBOX_UNAVAILABLE");
      await eventually(async () => (readdirSync(path.join(scratch, "out", "plain")).includes("f.txt") ? true : undefined), 20_000, "the YAML stack applied");
    } finally {
      await agent.stop();
    }
  }, 60_000);
});
