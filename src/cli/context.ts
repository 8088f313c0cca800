// What every command shares: the data directory, opening the store, rendering
// a stack, and turning errors into clear messages and exit codes.

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { GitMirrors } from "../source/git.js";
import { Option, type Command } from "commander";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import { ProviderConnections } from "../engine/connections.js";
import { defaultRegistry } from "../providers/registry.js";
import { projectOf } from "../agent/platform-projects.js";
import { scanPlatform, type PlatformScan } from "../agent/platform.js";
import { ProviderPlugins } from "../agent/provider-plugins.js";
import { parseDuration } from "../schedule.js";
import { SecretStores } from "../secrets/stores.js";
import { loadPlatformLibrary, type PlatformLibrary } from "../render/platform-library.js";
import { renderStack } from "../render/load-stack.js";
import type { RenderedStack } from "../stack-model.js";
import { defaultSandboxLimits, type SandboxLimits } from "../render/sandbox.js";
import type { ComplianceOptions } from "../policy/stage.js";
import { loadPolicyFile } from "../policy/compliance.js";
import { isPostgresStore, openPostgresStore, storeDisplay } from "../state/postgres.js";
import { openSqliteStore, storeError } from "../state/sqlite.js";
import type { Store } from "../state/store.js";

export const defaultDataDirectory = ".plumb";

export const registry = defaultRegistry();

export function dataDirectoryOption(): Option {
  return new Option("--data-dir <dir>", "where the state store lives").env("PLUMB_DATA_DIR").default(defaultDataDirectory);
}

/** A PostgreSQL store instead of the SQLite file in the data directory (the password from PGPASSWORD, not the URL). */
export function storeOption(): Option {
  return new Option("--store <postgres-url>", "keep the state in PostgreSQL instead of the data directory's SQLite file").env("PLUMB_STORE");
}

export function environmentOption(): Option {
  return new Option("-e, --env <environment>", "environment: picks values.<env>.yaml and patches.<env>.yaml (default: the Stack's spec.environment)");
}

export interface RenderFlags {
  env?: string;
  policy?: string;
  platform?: string;
  programTimeout: string;
  programMemory: string;
  programsWithoutIsolation?: boolean;
}

export interface StackOptions extends RenderFlags {
  dataDir: string;
  store?: string;
}

export function policyOption(): Option {
  return new Option("--policy <file>", "a CompliancePolicy YAML file: check and inject its metadata").env("PLUMB_POLICY");
}

function sandboxOptions(): Option[] {
  return [
    new Option("--program-timeout <duration>", "wall-clock limit for a stack's main.ts and the composites' compose functions")
      .env("PLUMB_PROGRAM_TIMEOUT")
      .default(`${defaultSandboxLimits.timeoutMs / 1000}s`),
    new Option("--program-memory <MiB>", "memory limit for the same").env("PLUMB_PROGRAM_MEMORY").default(String(defaultSandboxLimits.memoryMiB)),
    new Option(
      "--programs-without-isolation",
      "run programs under Node's permission model alone where the kernel cannot isolate them (no bubblewrap or user namespaces): they can then reach the network",
    ).env("PLUMB_PROGRAMS_WITHOUT_ISOLATION"),
  ];
}

function platformOption(): Option {
  return new Option("--platform <dir>", "the platform directory: its *.composite.ts define composite kinds, its *.rule.ts policy rules").env("PLUMB_PLATFORM");
}

/** The limits of the sandbox that runs programs and compose functions. */
export function withSandboxOptions(command: Command): Command {
  for (const option of sandboxOptions()) command.addOption(option);
  return command;
}

/** The options of every command that renders a stack: environment, policy, composites and sandbox limits. */
export function withRenderOptions(command: Command): Command {
  for (const option of [environmentOption(), policyOption(), platformOption(), ...sandboxOptions()]) command.addOption(option);
  return command;
}

/** A duration given as a flag: a bad one is a usage error naming the flag. */
export function durationFlag(text: string, flag: string): number {
  try {
    return parseDuration(text, flag);
  } catch (error) {
    if (error instanceof PlumbError) throw new PlumbError("PLUMB_USAGE", error.message, error.hint === undefined ? {} : { hint: error.hint });
    throw error;
  }
}

export function sandboxLimits(options: Pick<RenderFlags, "programTimeout" | "programMemory" | "programsWithoutIsolation">): SandboxLimits {
  const timeoutMs = durationFlag(options.programTimeout, "--program-timeout");
  const memoryMiB = Number(options.programMemory);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 32 || memoryMiB > 65536) {
    throw new PlumbError("PLUMB_USAGE", `--program-memory "${options.programMemory}" is not a number of MiB between 32 and 65536`, {
      hint: "e.g. --program-memory 512",
    });
  }
  if (timeoutMs < 100) throw new PlumbError("PLUMB_USAGE", `--program-timeout ${options.programTimeout} is too short`, { hint: "e.g. --program-timeout 30s" });
  return { timeoutMs, memoryMiB, ...(options.programsWithoutIsolation === true ? { withoutKernelIsolation: true } : {}) };
}

/** The platform directory's provider plug-ins, loaded into the registry once per process, compiled into a directory of its own. */
let plugins: ProviderPlugins | undefined;

/**
 * Loads the provider plug-ins, composites and rules of `--platform <dir>`,
 * shown in messages by the path the user gave; `scan` is the directory's
 * scan when the caller has read it already.
 */
export async function platformFrom(directory: string | undefined, limits: SandboxLimits, scan?: PlatformScan): Promise<PlatformLibrary | undefined> {
  if (directory === undefined) return undefined;
  scan ??= await scanPlatform(directory, repositoryRootOf(directory));
  if (scan.plugins.length > 0 && plugins === undefined) {
    const compiled = mkdtempSync(path.join(tmpdir(), "plumb-plugins-"));
    process.once("exit", () => rmSync(compiled, { recursive: true, force: true }));
    plugins = new ProviderPlugins(registry, compiled);
  }
  const problems = [
    ...scan.problems.filter((problem) => problem.code === "PLUMB_PROVIDER_PLUGIN"),
    ...(plugins === undefined ? [] : await plugins.sync(directory, scan.plugins)),
  ];
  if (problems.length > 0) throw new PlumbErrorList(problems);
  const display = directory.endsWith("/") ? directory : `${directory}/`;
  return loadPlatformLibrary(directory, { display, limits, registry });
}

/** The enrich stage's input for a local stack directory (no commit). */
export async function complianceOptions(policyFile: string | undefined, directory: string): Promise<ComplianceOptions | undefined> {
  if (policyFile === undefined) return undefined;
  return { policy: await loadPolicyFile(policyFile), source: path.resolve(directory), commit: null };
}

/** The git work tree `directory` is in (where a StackSet's directory patterns start), or `directory` itself outside one. */
export function repositoryRootOf(directory: string): string {
  const start = path.resolve(directory);
  for (let current = start; ; current = path.dirname(current)) {
    if (existsSync(path.join(current, ".git"))) return current;
    if (path.dirname(current) === current) return start;
  }
}

let mirrors: GitMirrors | undefined;

/** Git mirrors for Kustomize remote bases, made on first need and removed when the command ends. */
function remoteBaseMirrors(): GitMirrors {
  if (mirrors === undefined) {
    const cache = mkdtempSync(path.join(tmpdir(), "plumb-git-"));
    process.once("exit", () => rmSync(cache, { recursive: true, force: true }));
    mirrors = new GitMirrors(cache);
  }
  return mirrors;
}

export async function render(directory: string, options: RenderFlags): Promise<RenderedStack> {
  const limits = sandboxLimits(options);
  // The platform's ProviderInstance documents, which team stacks use by name, and its Stack documents and projects,
  // so a stack the platform also lists is rendered, merged and fenced as the agent would; read once, for its plug-ins too.
  const scan = options.platform === undefined ? undefined : await scanPlatform(options.platform, repositoryRootOf(options.platform));
  const platform = await platformFrom(options.platform, limits, scan);
  const platformDirectory = options.platform ?? ".";
  return renderStack(directory, {
    registry,
    sandboxLimits: limits,
    fetchRemoteBase: (base) => remoteBaseMirrors().checkoutRef(base.repository, base.ref),
    ...(scan === undefined
      ? {}
      : {
          providerCatalog: scan.projects.providers,
          platformStackFor: (name: string) => {
            const stack = scan.stacks.get(name);
            if (stack === undefined) return undefined;
            const file = path.join(platformDirectory, stack.file);
            return {
              override: { document: stack.document, file, line: stack.line },
              project: projectOf(scan.projects, { name, file, line: stack.line, project: stack.document.spec?.project }),
            };
          },
        }),
    ...(options.env === undefined ? {} : { environment: options.env }),
    ...(platform === undefined ? {} : { platform }),
  });
}

export async function openStore(where: { dataDir: string; store?: string }, options: { mustExist?: boolean } = {}): Promise<Store> {
  if (where.store === undefined) return openSqliteStore(path.resolve(where.dataDir), options);
  if (!isPostgresStore(where.store))
    throw new PlumbError("PLUMB_USAGE", `--store "${storeDisplay(where.store)}" is not a postgres:// URL`, {
      hint: "e.g. --store postgres://plumb@db.internal/plumb (the password in PGPASSWORD); without --store the store is SQLite in --data-dir",
    });
  return openPostgresStore(where.store, options);
}

/** The secret stores: the built-in `local` one, and the SecretStore documents of `--platform <dir>`. */
export async function secretStoresFrom(platformDirectory: string | undefined): Promise<SecretStores> {
  if (platformDirectory === undefined) return new SecretStores([], { platformDirectory: "." });
  const scan = await scanPlatform(platformDirectory);
  const problems = scan.problems.filter((problem) => problem.code === "PLUMB_SECRET_STORE");
  if (problems.length > 0) throw new PlumbErrorList(problems);
  return new SecretStores(scan.stores, { platformDirectory });
}

/** Opens the store and provider connections for a rendered stack, and closes both afterwards. */
export async function withStackRuntime<Result>(
  rendered: RenderedStack,
  options: Pick<StackOptions, "dataDir" | "store" | "platform">,
  work: (store: Store, connections: ProviderConnections) => Promise<Result>,
): Promise<Result> {
  const secrets = await secretStoresFrom(options.platform);
  const store = await openStore(options);
  const connections = new ProviderConnections(registry, rendered.definition, secrets);
  try {
    return await work(store, connections);
  } finally {
    await connections.closeAll();
    await store.close();
  }
}

export function printError(error: unknown): void {
  const errors = (error instanceof PlumbErrorList ? error.errors : [error]).map((item) =>
    // The store's own failures (a full disk, a damaged file) say so with a code and what to do.
    typeof item === "object" && item !== null && !(item instanceof PlumbError) && "code" in item && String(item.code).startsWith("SQLITE_")
      ? storeError(item, "the state store")
      : item,
  );
  for (const item of errors) {
    if (item instanceof PlumbError) {
      process.stderr.write(`error: ${item.describe()}\n`);
    } else {
      process.stderr.write(`error: ${errorMessage(item)}\n`);
      if (process.env.PLUMB_DEBUG !== undefined && item instanceof Error && item.stack !== undefined) process.stderr.write(`${item.stack}\n`);
    }
  }
  if (errors.length > 1) process.stderr.write(`${errors.length} problems found.\n`);
}

/** Runs a command body; any error is printed and turns into exit code 1. */
export function action<Args extends unknown[]>(body: (...args: Args) => Promise<number | void>): (...args: Args) => Promise<void> {
  return async (...args: Args) => {
    try {
      const code = await body(...args);
      if (typeof code === "number") process.exitCode = code;
    } catch (error) {
      printError(error);
      process.exitCode = 1;
    }
  };
}

export function useColor(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && process.env.NO_COLOR === undefined;
}
