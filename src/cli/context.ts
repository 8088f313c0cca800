// What every command shares: the data directory, opening the store, rendering
// a stack, and turning errors into clear messages and exit codes.

import path from "node:path";
import { Option } from "commander";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import { ProviderConnections } from "../engine/connections.js";
import { defaultRegistry } from "../providers/registry.js";
import { renderStack, type RenderedStack } from "../render/load-stack.js";
import type { ComplianceOptions } from "../engine/pipeline.js";
import { loadPolicyFile } from "../policy/compliance.js";
import { openSqliteStore } from "../state/sqlite.js";
import type { Store } from "../state/store.js";

export const defaultDataDirectory = ".plumb";

export function dataDirectoryOption(): Option {
  return new Option("--data-dir <dir>", "where the state store lives").env("PLUMB_DATA_DIR").default(defaultDataDirectory);
}

export function environmentOption(): Option {
  return new Option("-e, --env <environment>", "environment: picks values.<env>.yaml and patches.<env>.yaml (default: the Stack's spec.environment)");
}

export interface StackOptions {
  env?: string;
  dataDir: string;
  policy?: string;
}

export function policyOption(): Option {
  return new Option("--policy <file>", "a CompliancePolicy YAML file: check and inject its metadata").env("PLUMB_POLICY");
}

/** The enrich stage's input for a local stack directory (no commit). */
export async function complianceOptions(policyFile: string | undefined, directory: string): Promise<ComplianceOptions | undefined> {
  if (policyFile === undefined) return undefined;
  return { policy: await loadPolicyFile(policyFile), source: path.resolve(directory), commit: null };
}

export const registry = defaultRegistry();

export async function render(directory: string, options: { env?: string }): Promise<RenderedStack> {
  return renderStack(directory, { registry, ...(options.env === undefined ? {} : { environment: options.env }) });
}

export async function openStore(dataDirectory: string): Promise<Store> {
  return openSqliteStore(path.resolve(dataDirectory));
}

/** Opens the store and provider connections for a rendered stack, and closes both afterwards. */
export async function withStackRuntime<Result>(rendered: RenderedStack, dataDirectory: string, work: (store: Store, connections: ProviderConnections) => Promise<Result>): Promise<Result> {
  const store = await openStore(dataDirectory);
  const connections = new ProviderConnections(registry, rendered.definition);
  try {
    return await work(store, connections);
  } finally {
    await connections.closeAll();
    await store.close();
  }
}

export function printError(error: unknown): void {
  const errors = error instanceof PlumbErrorList ? error.errors : [error];
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
