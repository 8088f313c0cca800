// What a tool that turns a stack's files into manifests (Kustomize today; Helm
// is not supported yet) runs inside: the programs' kernel isolation — no
// network, an empty environment, nothing readable but the directories it is
// given, where it is given them — with a time limit and a cap on its output.

import { execFile } from "node:child_process";
import { PlumbError, type ErrorCode } from "../errors.js";
import { bubblewrapArguments, isolationFor } from "./isolation.js";
import { maxTotalBytes } from "./read-source.js";
import type { SandboxLimits } from "./sandbox.js";

/** A file or directory the tool may read (`source` on the host), and the path it sees it at. */
export interface ToolMount {
  source: string;
  target: string;
}

export interface ToolRun {
  /** What messages call the run, e.g. "kustomize build overlays/prod". */
  title: string;
  /** The program and its arguments, with paths as the tool sees them. */
  command: readonly string[];
  /** Read-only, in order: a later mount may lay a file over one inside an earlier directory. */
  mounts: readonly ToolMount[];
  cwd: string;
  errorCode: ErrorCode;
  /** The file a failure is reported at. */
  file: string;
  /** The tool's own error text as the stack's author should read it (sandbox paths made relative). */
  describe(stderr: string): string;
}

/**
 * A manifest renderer: a directory of the stack in, YAML documents out.
 * Kustomize is one; a Helm renderer would take a chart directory and its
 * values the same way and run under the same isolation.
 */
export interface ManifestRenderer<Job> {
  /** The tool's name in messages: "kustomize". */
  readonly name: string;
  render(job: Job, limits: SandboxLimits): Promise<{ title: string; yaml: string }>;
}

/** Runs `run` isolated by the kernel: its standard output, or a Plumb error with what the tool said. */
export async function runIsolatedTool(run: ToolRun, limits: SandboxLimits): Promise<string> {
  const isolation = await isolationFor({ allowWithoutKernel: limits.withoutKernelIsolation === true });
  if (isolation.mode !== "kernel")
    throw new PlumbError("PLUMB_SANDBOX_UNAVAILABLE", `${run.title} needs kernel isolation, which this host cannot give: ${isolation.reason}`, {
      location: { file: run.file },
      hint: "install bubblewrap (Debian: apt-get install bubblewrap) on a Linux host with user namespaces; Plumb never runs a render tool with network access",
    });
  const binds = ["--tmpfs", "/plumb", ...run.mounts.flatMap((mount) => ["--ro-bind", mount.source, mount.target])];
  const args = bubblewrapArguments([], run.cwd, run.command, binds);
  return new Promise((resolve, reject) => {
    execFile(
      isolation.bwrap,
      args,
      { env: { HOME: "/tmp", PATH: "/usr/bin:/bin" }, timeout: limits.timeoutMs, maxBuffer: maxTotalBytes, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const reason =
          error.killed === true
            ? `it did not finish within ${limits.timeoutMs / 1000} s`
            : error.code === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER"
              ? `it printed more than ${maxTotalBytes / 1024 / 1024} MiB`
              : run.describe(stderr.trim() || error.message);
        reject(
          new PlumbError(run.errorCode, `${run.title} failed: ${reason}`, {
            location: { file: run.file },
            hint: "build it on your machine to see the whole error; Plumb builds without network and reads only inside the stack",
          }),
        );
      },
    );
  });
}
