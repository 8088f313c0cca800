// A small client for the Kubernetes API over HTTPS: keep-alive connections
// to one server, JSON in and out, and the server's Status answers turned into
// PlumbErrors that say what the server said and whether retrying can help.
// Requests are few and large (LIST per kind and namespace, one apply per
// object), so nothing here is clever beyond reusing connections.

import { Agent, request as httpsRequest } from "node:https";
import { request as httpRequest, Agent as HttpAgent } from "node:http";
import { PlumbError } from "../../errors.js";
import type { ClusterAccess } from "./kubeconfig.js";

export interface KubeStatus {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { field?: string; message?: string; reason?: string }[] };
}

/** An answer the server gave with a status that is not 2xx. */
export class KubeApiError extends PlumbError {
  constructor(
    /** The HTTP status the Kubernetes API server answered with. */
    readonly httpStatus: number,
    readonly kubeStatus: KubeStatus,
    what: string,
  ) {
    const status = httpStatus;
    const transient = status === 429 || status >= 500;
    const message = kubeStatus.message ?? `HTTP ${status}`;
    super(transient ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION", `${what}: ${message}`, {
      hint:
        status === 401
          ? "the token or certificate is not accepted; check the provider's credentials"
          : status === 403
            ? "the credentials lack the RBAC permission named above"
            : status === 409 && kubeStatus.reason === "Conflict"
              ? 'another field manager owns these fields; change them there, or set the annotation plumb.dev/force-conflicts: "true" to take them over'
              : undefined,
    });
  }
}

export interface RequestOptions {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  /** Describes the request in errors: "apply apps/v1 Deployment team-a/web". */
  what: string;
}

const requestTimeoutMs = 30_000;
/** A LIST answer larger than this is refused rather than held in memory. */
const maxResponseBytes = 256 * 1024 * 1024;

export class KubeClient {
  private readonly agent: Agent | HttpAgent;
  private readonly base: URL;

  constructor(private readonly access: ClusterAccess) {
    try {
      this.base = new URL(access.server);
    } catch {
      throw new PlumbError("PLUMB_PROVIDER_CONFIG", `server "${access.server}" is not a URL`, { hint: "write it as https://host:port" });
    }
    this.agent =
      this.base.protocol === "http:"
        ? new HttpAgent({ keepAlive: true, maxSockets: 16 })
        : new Agent({
            keepAlive: true,
            maxSockets: 16,
            ...(access.ca === undefined ? {} : { ca: access.ca }),
            ...(access.cert === undefined ? {} : { cert: access.cert }),
            ...(access.key === undefined ? {} : { key: access.key }),
            rejectUnauthorized: access.insecureSkipTlsVerify !== true,
          });
  }

  get server(): string {
    return this.base.origin;
  }

  close(): void {
    this.agent.destroy();
  }

  /** The parsed JSON answer; null for 404 when `allowMissing`. */
  async request<T>(method: string, apiPath: string, options: RequestOptions & { allowMissing: true }): Promise<T | null>;
  async request<T>(method: string, apiPath: string, options: RequestOptions): Promise<T>;
  async request<T>(method: string, apiPath: string, options: RequestOptions & { allowMissing?: boolean }): Promise<T | null> {
    const url = new URL(apiPath, this.base);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.access.token !== undefined) headers.authorization = `Bearer ${this.access.token}`;
    if (payload !== undefined) {
      headers["content-type"] = options.contentType ?? "application/json";
      headers["content-length"] = String(payload.length);
    }
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const send = url.protocol === "http:" ? httpRequest : httpsRequest;
      const outgoing = send(url, { method, headers, agent: this.agent, timeout: requestTimeoutMs }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxResponseBytes) {
            response.destroy(new Error(`the answer is larger than ${maxResponseBytes / 1024 / 1024} MiB`));
            return;
          }
          chunks.push(chunk);
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        response.on("error", reject);
      });
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer within ${requestTimeoutMs / 1000} s`)));
      outgoing.on("error", reject);
      outgoing.end(payload);
    }).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code;
      throw new PlumbError(
        "PLUMB_PROVIDER_TRANSIENT",
        `${options.what}: cannot reach the Kubernetes API server ${this.base.origin}: ${code ?? (error as Error).message}`,
        {
          hint: "check that the server is up and reachable from the agent",
          cause: error,
        },
      );
    });
    if (status === 404 && options.allowMissing === true) return null;
    let body: unknown;
    try {
      body = text === "" ? {} : JSON.parse(text);
    } catch {
      body = { message: text.slice(0, 500) };
    }
    if (status < 200 || status >= 300) throw new KubeApiError(status, body as KubeStatus, options.what);
    return body as T;
  }
}
