// Starts a real Kubernetes API server (kube-apiserver 1.20 with etcd, from
// ../shared/tools/kube) for a test file, on free loopback ports, and gives the
// test a small client of its own to play the controllers and people that are
// not there (writing a status, editing an object by hand).

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll } from "vitest";

const tools = path.resolve(import.meta.dirname, "..", "..", "shared", "tools", "kube");

export interface KubeServer {
  directory: string;
  kubeconfig: string;
  server: string;
  token: string;
  caFile: string;
  /** One request as the cluster admin; the parsed answer and its status. */
  call<T = Record<string, unknown>>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<{ status: number; body: T }>;
  /** The same as user alice (group team-a), who has only what RBAC grants her: a person who is not Plumb. */
  callAsAlice<T = Record<string, unknown>>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<{ status: number; body: T }>;
  stop(): void;
}

export function startKube(): KubeServer {
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-kube-"));
  const output = execFileSync(path.join(tools, "start.sh"), [directory], { encoding: "utf8", timeout: 120_000 });
  const values = Object.fromEntries(
    output
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  const ca = readFileSync(values.KUBE_CA as string, "utf8");
  const agent = new Agent({ ca, keepAlive: true });
  const server = values.KUBE_SERVER as string;
  const token = values.KUBE_TOKEN as string;
  const send = <T>(bearer: string, method: string, apiPath: string, body?: unknown, contentType = "application/json") =>
    new Promise<{ status: number; body: T }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const outgoing = request(
        new URL(apiPath, server),
        {
          method,
          agent,
          headers: { authorization: `Bearer ${bearer}`, accept: "application/json", ...(payload === undefined ? {} : { "content-type": contentType }) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: response.statusCode ?? 0, body: (text === "" ? {} : JSON.parse(text)) as T });
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(payload);
    });
  return {
    directory,
    kubeconfig: values.KUBECONFIG as string,
    server,
    token,
    caFile: values.KUBE_CA as string,
    call: (method, apiPath, body, contentType) => send(token, method, apiPath, body, contentType),
    // start.sh gives alice the admin token with "-user" appended.
    callAsAlice: (method, apiPath, body, contentType) => send(`${token}-user`, method, apiPath, body, contentType),
    stop() {
      agent.destroy();
      execFileSync(path.join(tools, "stop.sh"), [directory]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** One API server for the test file that calls this. */
export function useKube(): KubeServer {
  const handle = {} as KubeServer;
  beforeAll(() => {
    Object.assign(handle, startKube());
  }, 120_000);
  afterAll(() => handle.stop?.());
  return handle;
}
