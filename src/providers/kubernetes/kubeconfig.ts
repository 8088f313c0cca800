// Where a Kubernetes API server is and how to prove who we are to it: from a
// kubeconfig file and context (the file kubectl reads), from a server URL with
// a token and CA given in the Stack (secret references allowed), or from the
// service account a pod runs as. The result is what client.ts needs.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { PlumbError } from "../../errors.js";
import type { SecretReference, SecretResolver } from "../../sdk/secret-reference.js";
import { remembered } from "../../secrets/references.js";

export interface ClusterAccess {
  server: string;
  /** PEM of the CA that signs the server's certificate; undefined: the system's CAs. */
  ca?: string;
  token?: string;
  /** PEM client certificate and key, for certificate authentication. */
  cert?: string;
  key?: string;
  insecureSkipTlsVerify?: boolean;
  /** The context's namespace; objects without one are refused, not defaulted, so this is only reported. */
  namespace?: string;
  /** Who these credentials act as, when the configuration says so; otherwise asked of the server. */
  username?: string;
}

export interface AccessConfig {
  kubeconfig?: string;
  context?: string;
  server?: string;
  token?: SecretReference;
  ca?: string;
  inCluster?: boolean;
  username?: string;
}

const serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

function configError(message: string, hint: string): PlumbError {
  return new PlumbError("PLUMB_PROVIDER_CONFIG", message, { hint });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw configError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, "check the path in the provider's config");
  }
}

type Named<T> = { name?: unknown } & T;

function pick<T>(entries: unknown, name: string, what: string, file: string): T {
  const found = Array.isArray(entries) ? (entries as Named<Record<string, unknown>>[]).find((entry) => entry?.name === name) : undefined;
  if (found === undefined) throw configError(`${file} has no ${what} named "${name}"`, `kubectl config get-${what}s --kubeconfig ${file} lists them`);
  return (found[what] ?? {}) as T;
}

/** A file path in a kubeconfig is relative to the kubeconfig's own directory. */
async function fileOrData(base: string, file: unknown, data: unknown, what: string): Promise<string | undefined> {
  if (typeof data === "string" && data !== "") return Buffer.from(data, "base64").toString("utf8");
  if (typeof file === "string" && file !== "") return readText(path.resolve(base, file), what);
  return undefined;
}

async function fromKubeconfig(file: string, contextName: string | undefined): Promise<ClusterAccess> {
  let document: Record<string, unknown>;
  try {
    document = (parseYaml(await readText(file, "the kubeconfig")) ?? {}) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof PlumbError) throw error;
    throw configError(
      `${file} is not a kubeconfig: ${(error as Error).message.split("\n")[0] ?? ""}`,
      "kubectl config view --kubeconfig <file> shows what kubectl reads",
    );
  }
  const name = contextName ?? (typeof document["current-context"] === "string" ? document["current-context"] : undefined);
  if (name === undefined) throw configError(`${file} sets no current-context`, "name one with the provider's context setting");
  const context = pick<{ cluster?: string; user?: string; namespace?: string }>(document.contexts, name, "context", file);
  const cluster = pick<Record<string, unknown>>(document.clusters, String(context.cluster ?? ""), "cluster", file);
  const user = context.user === undefined ? {} : pick<Record<string, unknown>>(document.users, String(context.user), "user", file);
  if (typeof cluster.server !== "string") throw configError(`cluster "${String(context.cluster)}" in ${file} has no server`, "set clusters[].cluster.server");
  if (user.exec !== undefined || user["auth-provider"] !== undefined) {
    throw configError(`user "${String(context.user)}" in ${file} authenticates with a plugin, which Plumb does not run`, "use a token or a client certificate");
  }
  const base = path.dirname(path.resolve(file));
  const token = typeof user.token === "string" ? user.token : await fileOrData(base, user.tokenFile, undefined, "the token file");
  const ca = await fileOrData(base, cluster["certificate-authority"], cluster["certificate-authority-data"], "the CA file");
  const cert = await fileOrData(base, user["client-certificate"], user["client-certificate-data"], "the client certificate");
  const key = await fileOrData(base, user["client-key"], user["client-key-data"], "the client key");
  return {
    server: cluster.server,
    ...(ca === undefined ? {} : { ca }),
    // A kubeconfig's credentials are secrets too: the redaction layer masks them wherever they might surface.
    ...(token === undefined ? {} : { token: remembered(token.trim()) }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key: remembered(key) }),
    ...(cluster["insecure-skip-tls-verify"] === true ? { insecureSkipTlsVerify: true } : {}),
    ...(context.namespace === undefined ? {} : { namespace: context.namespace }),
  };
}

export async function clusterAccess(config: AccessConfig, secrets: SecretResolver): Promise<ClusterAccess> {
  const access = await credentials(config, secrets);
  return config.username === undefined ? access : { ...access, username: config.username };
}

async function credentials(config: AccessConfig, secrets: SecretResolver): Promise<ClusterAccess> {
  if (config.inCluster === true) {
    const host = process.env.KUBERNETES_SERVICE_HOST;
    const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
    if (host === undefined)
      throw configError("inCluster is set but KUBERNETES_SERVICE_HOST is not: the agent is not running in a pod", "use kubeconfig or server instead");
    return {
      server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
      ca: await readText(path.join(serviceAccountDirectory, "ca.crt"), "the service account CA"),
      token: remembered((await readText(path.join(serviceAccountDirectory, "token"), "the service account token")).trim()),
    };
  }
  if (config.kubeconfig !== undefined) return fromKubeconfig(config.kubeconfig, config.context);
  if (config.server === undefined)
    throw configError("the kubernetes provider needs kubeconfig, server or inCluster", "e.g. config: { kubeconfig: ~/.kube/config, context: prod }");
  const token = config.token === undefined ? undefined : await secrets.resolve(config.token);
  const ca = config.ca === undefined ? undefined : config.ca.includes("-----BEGIN") ? config.ca : await readText(config.ca, "the CA file");
  return { server: config.server, ...(token === undefined ? {} : { token }), ...(ca === undefined ? {} : { ca }) };
}
