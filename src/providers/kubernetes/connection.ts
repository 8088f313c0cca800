// One provider instance's hold on a cluster: the client, discovery, the stack
// it applies for, and what applying needs besides the manifest — secret
// references in a Secret resolved at the last moment, and a CRD waited on
// until the server serves its kind.

import { PlumbError } from "../../errors.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { isSecretReference, type SecretResolver } from "../../sdk/secret-reference.js";
import { remembered, secretDigest } from "../../secrets/references.js";
import { KubeClient } from "./client.js";
import { Discovery } from "./discovery.js";
import type { ClusterAccess } from "./kubeconfig.js";
import type { Manifest } from "./objects.js";

const establishTimeoutMs = 60_000;

export class KubeConnection {
  readonly client: KubeClient;
  readonly discovery: Discovery;

  constructor(
    readonly access: ClusterAccess,
    readonly stack: string,
    private readonly secrets: SecretResolver,
  ) {
    this.client = new KubeClient(access);
    this.discovery = new Discovery(this.client);
  }

  close(): void {
    this.client.close();
  }

  /** A Secret's data and stringData with their secret references resolved (data base64-encoded); other manifests as they are. */
  async resolveSecretData(manifest: Manifest, address: string): Promise<Manifest> {
    if (manifest.apiVersion !== "v1" || manifest.kind !== "Secret") return manifest;
    const resolved: Manifest = { ...manifest };
    for (const field of ["data", "stringData"] as const) {
      const values = manifest[field];
      if (typeof values !== "object" || values === null || Array.isArray(values)) continue;
      const out: JsonObject = {};
      for (const [key, value] of Object.entries(values)) {
        if (!isSecretReference(value)) {
          out[key] = value;
          continue;
        }
        const secret = remembered(
          await this.secrets.resolve(value).catch((error: unknown) => {
            throw error instanceof PlumbError ? error : new PlumbError("PLUMB_SECRET_STORE", `${address}: ${field}.${key}: ${String(error)}`);
          }),
        );
        out[key] = field === "data" ? Buffer.from(secret, "utf8").toString("base64") : secret;
      }
      resolved[field] = out;
    }
    return resolved;
  }

  /**
   * A Secret's live data where the manifest holds secret references, written
   * into the compared view: each value becomes the reference with the salted
   * digest of what the cluster holds, so a value changed in the cluster is a
   * changed digest, and the value itself goes nowhere.
   */
  secretView(manifest: Manifest, address: string, object: JsonObject, view: JsonObject): JsonObject {
    if (manifest.apiVersion !== "v1" || manifest.kind !== "Secret") return view;
    const live = (object.data ?? {}) as Record<string, string>;
    const result: JsonObject = { ...view };
    for (const field of ["data", "stringData"] as const) {
      const desired = manifest[field];
      if (typeof desired !== "object" || desired === null || Array.isArray(desired)) continue;
      const values: Record<string, JsonValue> = { ...((result[field] ?? {}) as JsonObject) };
      for (const [key, value] of Object.entries(desired)) {
        if (!isSecretReference(value)) continue;
        const encoded = live[key];
        if (typeof encoded !== "string") {
          delete values[key];
          continue;
        }
        const secret = remembered(Buffer.from(encoded, "base64").toString("utf8"));
        values[key] = { secretRef: { ...value.secretRef }, digest: secretDigest(`${this.stack}/${address}`, secret) };
      }
      result[field] = values;
    }
    return result;
  }

  /** Waits until the server says the CRD is Established and serves its kind. */
  async waitForEstablished(object: JsonObject, address: string): Promise<JsonObject> {
    const name = String((object.metadata as JsonObject | undefined)?.name ?? "");
    const deadline = Date.now() + establishTimeoutMs;
    let current = object;
    for (;;) {
      const conditions = ((current.status as JsonObject | undefined)?.conditions ?? []) as { type?: string; status?: string }[];
      if (conditions.some((condition) => condition.type === "Established" && condition.status === "True")) {
        const spec = (current.spec ?? {}) as { group?: string; names?: { kind?: string }; versions?: { name?: string; served?: boolean }[] };
        for (const version of spec.versions ?? [])
          if (version.served !== false) await this.discovery.waitFor(`${spec.group ?? ""}/${version.name ?? ""}`, spec.names?.kind ?? "", deadline);
        return current;
      }
      if (Date.now() > deadline)
        throw new PlumbError("PLUMB_PROVIDER_TRANSIENT", `${address}: the CRD is not Established after ${establishTimeoutMs / 1000} s`, {
          hint: "the API server's log says why (a name clash, an invalid schema)",
        });
      await new Promise((resolve) => setTimeout(resolve, 200));
      current = await this.client.request<JsonObject>("GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`, {
        what: `read ${address}`,
      });
    }
  }
}
