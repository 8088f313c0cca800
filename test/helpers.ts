// Shared test fixtures: temporary stack directories and the real CLI run as a child process.

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { JsonObject } from "../src/sdk/resource.js";
import type { DesiredResource } from "../src/stack-model.js";

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const cliPath = path.join(repositoryRoot, "dist", "cli", "main.js");

export interface Workspace {
  root: string;
  stackDir: string;
  dataDir: string;
  outputDir: string;
  write(relativePath: string, text: string): void;
  remove(relativePath: string): void;
  cleanup(): void;
}

/** A temp directory with `stack/` (the stack), `data/` (the store) and `out/` (the file provider's root). */
export function createWorkspace(stackOptions: { prune?: boolean; allowEmpty?: boolean; name?: string } = {}): Workspace {
  const root = mkdtempSync(path.join(tmpdir(), "plumb-test-"));
  const stackDir = path.join(root, "stack");
  const dataDir = path.join(root, "data");
  const outputDir = path.join(root, "out");
  mkdirSync(stackDir);
  const workspace: Workspace = {
    root,
    stackDir,
    dataDir,
    outputDir,
    write(relativePath, text) {
      const target = path.join(stackDir, relativePath);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    },
    remove(relativePath) {
      rmSync(path.join(stackDir, relativePath), { force: true });
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
  workspace.write(
    "stack.yaml",
    [
      "apiVersion: plumb.dev/v1",
      "kind: Stack",
      `metadata: { name: ${stackOptions.name ?? "test"} }`,
      "spec:",
      "  providers:",
      `    default: { type: file, config: { root: ${JSON.stringify(outputDir)} } }`,
      "  sync:",
      `    prune: ${stackOptions.prune ?? false}`,
      `    allowEmpty: ${stackOptions.allowEmpty ?? false}`,
      "",
    ].join("\n"),
  );
  return workspace;
}

export function fileResource(name: string, filePath: string, content: string, extra: { annotations?: Record<string, string>; mode?: string } = {}): string {
  const lines = ["---", "apiVersion: file.plumb.dev/v1", "kind: File", "metadata:", `  name: ${JSON.stringify(name)}`];
  if (extra.annotations !== undefined) {
    lines.push("  annotations:");
    for (const [key, value] of Object.entries(extra.annotations)) lines.push(`    ${key}: ${JSON.stringify(value)}`);
  }
  lines.push("spec:", `  path: ${JSON.stringify(filePath)}`, `  content: ${JSON.stringify(content)}`);
  if (extra.mode !== undefined) lines.push(`  mode: "${extra.mode}"`);
  return `${lines.join("\n")}\n`;
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): CliResult {
  const result = spawnSync(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? repositoryRoot,
    encoding: "utf8",
    ...(options.input === undefined ? {} : { input: options.input }),
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The CLI without blocking this process, for tests whose servers (a Vault stand-in) run in it. */
export function runCliAsync(args: readonly string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repositoryRoot, env: { ...process.env, NO_COLOR: "1", ...options.env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(options.input ?? "");
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Asserts that no canary appears in any of `outputs` nor in any byte of a file in `dataDir` (the state store). */
export function expectNowhere(canaries: readonly string[], outputs: readonly string[], dataDir: string): void {
  const stored = readdirSync(dataDir, { withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => readFileSync(path.join(dataDir, entry.name)).toString("latin1"));
  for (const text of [...outputs, ...stored]) for (const canary of canaries) expect(text).not.toContain(canary);
}

/**
 * A workspace whose stack (pruning) declares one provider instance, written as
 * YAML (`cache: { type: redis, config: { … } }`), and holds `resources` in `file`.
 */
export function providerWorkspace(name: string, instance: string, file: string, resources: string): Workspace {
  const workspace = createWorkspace({ name, prune: true });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  providers:\n    ${instance}\n  sync: { prune: true }\n`,
  );
  workspace.write(file, resources);
  return workspace;
}

/** Writes resource documents of `apiVersion` on provider instance `instance`: `resourceOf(kind)(name, spec, ", more: annotations")`. */
export function resourceWriter(apiVersion: string, instance: string): (kind: string) => (name: string, spec: string, annotations?: string) => string {
  return (kind) =>
    (name, spec, annotations = "") =>
      `---\napiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n  name: ${JSON.stringify(name)}\n  annotations: { plumb.dev/provider: ${instance}${annotations} }\nspec: ${spec}\n`;
}

/** A rendered File resource as the render stage hands it on, for the pure stages' unit tests. */
export function desiredFile(name: string, spec: JsonObject, extra: Partial<DesiredResource> = {}): DesiredResource {
  return {
    address: `file.plumb.dev/v1/File/${name}`,
    apiVersion: "file.plumb.dev/v1",
    kind: "File",
    name,
    labels: {},
    annotations: {},
    spec,
    provider: "default",
    dependsOn: [],
    prune: true,
    deletionPolicy: "Delete",
    origin: { file: "x.yaml", document: 0 },
    composite: null,
    ...extra,
  };
}
