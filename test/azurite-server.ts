// Starts Azurite's Blob service (Microsoft's storage emulator, the `azurite`
// package) for tests, on a free port, its data in a temp directory.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { afterAll, beforeAll } from "vitest";
import { freePort } from "./postgres-server.js";

export interface AzuriteServer {
  endpoint: string;
  account: string;
  accountKey: string;
  service: BlobServiceClient;
  stop(): Promise<void>;
}

/** Azurite's well-known development account (documented by Microsoft; not a secret). */
const account = "devstoreaccount1";
const accountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export async function startAzurite(): Promise<AzuriteServer> {
  const port = await freePort();
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-azurite-"));
  const main = path.join(path.dirname(createRequire(import.meta.url).resolve("azurite/package.json")), "dist/src/blob/main.js");
  const child: ChildProcess = spawn(
    process.execPath,
    [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", directory, "--silent", "--skipApiVersionCheck"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const endpoint = `http://127.0.0.1:${port}/${account}`;
  // The test's own instrument: Azurite under a loaded machine sometimes drops a connection ("socket hang up"),
  // so the test's reads and hand edits (all idempotent) are tried again; the provider under test retries through the engine.
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, accountKey), {
    retryOptions: { maxTries: 4, retryDelayInMs: 200, maxRetryDelayInMs: 1000 },
    keepAliveOptions: { enable: false },
  });
  let ready = false;
  for (let attempt = 0; attempt < 100 && !ready; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`azurite exited: ${output}`);
    ready = await service.getProperties().then(
      () => true,
      () => false,
    );
    if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!ready) throw new Error(`azurite did not answer on ${endpoint}: ${output}`);
  return {
    endpoint,
    account,
    accountKey,
    service,
    async stop() {
      const exited = new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(undefined)));
      child.kill("SIGTERM");
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An Azurite for the file's tests, started before them and stopped after. */
export function useAzurite(): AzuriteServer {
  let server: AzuriteServer | undefined;
  const proxy = {} as AzuriteServer;
  beforeAll(async () => {
    server = await startAzurite();
    Object.assign(proxy, server);
  }, 30_000);
  afterAll(async () => server?.stop());
  return proxy;
}
