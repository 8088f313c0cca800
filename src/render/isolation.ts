// Kernel isolation for the program sandbox: bubblewrap starts the sandbox's
// Node process in new namespaces (network with nothing but its own loopback,
// pid, ipc, uts, cgroup, user, mount), with no capabilities, a new session, an
// empty /tmp, and read-only binds of only the system's libraries, the Node
// binary, the bundle and the stack. Whatever the program does inside Node —
// any built-in module by any route — the kernel has no route out for it.

import { execFile } from "node:child_process";
import { existsSync, lstatSync, realpathSync } from "node:fs";
import path from "node:path";
import { PlumbError } from "../errors.js";

/** How programs are isolated; "permission-model-only" only when the operator asked for it. */
export type IsolationMode = "kernel" | "permission-model-only";

export interface IsolationSettings {
  /** Run programs with Node's permission model alone when kernel isolation cannot be had. */
  allowWithoutKernel: boolean;
}

interface Probe {
  available: boolean;
  /** Why kernel isolation cannot be had, when it cannot. */
  reason: string;
  bwrap: string;
}

let probed: Promise<Probe> | undefined;

/**
 * A program from the file the operator named (an environment variable), else
 * from PATH or the usual places; undefined when there is none.
 */
export function findExecutable(name: string, named: string | undefined): string | undefined {
  if (named !== undefined && named !== "") return existsSync(named) ? named : undefined;
  const directories = [...(process.env.PATH ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin", "/bin"];
  return directories
    .filter((directory) => directory !== "")
    .map((directory) => path.join(directory, name))
    .find((candidate) => existsSync(candidate));
}

/** bubblewrap from PLUMB_BWRAP (an operator's own build), else from PATH or the usual places. */
function findBubblewrap(): string | undefined {
  return findExecutable("bwrap", process.env.PLUMB_BWRAP);
}

/** The part of the file system the Node binary needs: its libraries and its own directory. */
function systemBinds(): string[] {
  const args: string[] = ["--ro-bind", "/usr", "/usr"];
  for (const top of ["/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin"]) {
    let stats;
    try {
      stats = lstatSync(top);
    } catch {
      continue;
    }
    // Merged-/usr systems make these links into /usr; others have real directories.
    if (stats.isSymbolicLink()) args.push("--symlink", realpathSync(top), top);
    else if (stats.isDirectory()) args.push("--ro-bind", top, top);
  }
  args.push("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
  const nodeDirectory = path.dirname(realpathSync(process.execPath));
  if (!nodeDirectory.startsWith("/usr/")) args.push("--ro-bind", nodeDirectory, nodeDirectory);
  return args;
}

/**
 * The bubblewrap command line around `command`: `readable` directories are
 * bound read-only at their own paths (the bundle, the stack), `binds` are
 * further bubblewrap arguments after them, `cwd` is where the process starts.
 */
export function bubblewrapArguments(readable: readonly string[], cwd: string, command: readonly string[], binds: readonly string[] = []): string[] {
  const args = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--cap-drop",
    "ALL",
    "--hostname",
    "plumb-sandbox",
    ...systemBinds(),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
  ];
  for (const directory of readable) args.push("--ro-bind", directory, directory);
  args.push(...binds, "--chdir", cwd, "--", ...command);
  return args;
}

function run(file: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: {}, timeout: 10_000 }, (error, stdout, stderr) => resolve({ ok: error === null, output: `${stdout}${stderr}`.trim() }));
  });
}

/** Tries bubblewrap once per process: found, allowed to make namespaces, and able to start Node. */
export function probeIsolation(): Promise<Probe> {
  probed ??= (async () => {
    if (process.platform !== "linux") return { available: false, reason: `kernel isolation needs Linux namespaces; this is ${process.platform}`, bwrap: "" };
    const bwrap = findBubblewrap();
    if (bwrap === undefined)
      return { available: false, reason: `bubblewrap (bwrap) is not installed${process.env.PLUMB_BWRAP ? ` at ${process.env.PLUMB_BWRAP}` : ""}`, bwrap: "" };
    const check = "require('net'); process.stdout.write(String(Object.keys(require('os').networkInterfaces()).join(',')))";
    const result = await run(bwrap, bubblewrapArguments([], "/", [process.execPath, "-e", check]));
    if (!result.ok) return { available: false, reason: `bubblewrap cannot create namespaces here: ${result.output.split("\n")[0] ?? ""}`, bwrap };
    if (result.output !== "lo" && result.output !== "")
      return { available: false, reason: `the sandbox still sees network interfaces (${result.output})`, bwrap };
    return { available: true, reason: "", bwrap };
  })();
  return probed;
}

/**
 * How programs will run here. Refuses (PLUMB_SANDBOX_UNAVAILABLE) when the
 * kernel cannot isolate them and the operator has not said to go on without.
 */
export async function isolationFor(settings: IsolationSettings): Promise<{ mode: IsolationMode; bwrap: string; reason: string }> {
  const probe = await probeIsolation();
  if (probe.available) return { mode: "kernel", bwrap: probe.bwrap, reason: "" };
  if (settings.allowWithoutKernel) return { mode: "permission-model-only", bwrap: "", reason: probe.reason };
  throw new PlumbError("PLUMB_SANDBOX_UNAVAILABLE", `programs and composites cannot be isolated from the network and the host: ${probe.reason}`, {
    hint: "install bubblewrap (Debian: apt-get install bubblewrap) on a Linux host with user namespaces, or pass --programs-without-isolation (PLUMB_PROGRAMS_WITHOUT_ISOLATION=1) to run them under Node's permission model alone, with network access",
  });
}
