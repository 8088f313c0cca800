// What the API server serves, asked once per apiVersion and kept for the
// connection: a kind's resource name (its URL segment) and whether it lives in
// a namespace. A kind not found is asked again once, since a CRD applied a
// moment ago adds kinds to the server.

import { PlumbError } from "../../errors.js";
import type { KubeClient } from "./client.js";

export interface KindInfo {
  apiVersion: string;
  kind: string;
  /** The plural resource name in URLs: deployments, configmaps. */
  resource: string;
  namespaced: boolean;
}

interface ApiResourceList {
  resources?: { name: string; kind: string; namespaced: boolean }[];
}

/** The URL of a collection or of one object of `info`. */
export function objectPath(info: KindInfo, namespace: string | undefined, name?: string): string {
  const prefix = info.apiVersion.includes("/") ? `/apis/${info.apiVersion}` : `/api/${info.apiVersion}`;
  const scope = info.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${prefix}${scope}/${info.resource}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
}

export class Discovery {
  private readonly lists = new Map<string, Promise<Map<string, KindInfo> | null>>();

  constructor(private readonly client: KubeClient) {}

  private load(apiVersion: string): Promise<Map<string, KindInfo> | null> {
    let pending = this.lists.get(apiVersion);
    if (pending === undefined) {
      const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      pending = this.client.request<ApiResourceList>("GET", path, { what: `discover ${apiVersion}`, allowMissing: true }).then((list) => {
        if (list === null) return null;
        const kinds = new Map<string, KindInfo>();
        // Subresources (deployments/status) share the kind; only the top-level name is the collection.
        for (const entry of list.resources ?? [])
          if (!entry.name.includes("/")) kinds.set(entry.kind, { apiVersion, kind: entry.kind, resource: entry.name, namespaced: entry.namespaced });
        return kinds;
      });
      pending.catch(() => this.lists.delete(apiVersion));
      this.lists.set(apiVersion, pending);
    }
    return pending;
  }

  /** Until `deadline`: a CRD just established takes a moment to appear in discovery. */
  async waitFor(apiVersion: string, kind: string, deadline: number): Promise<void> {
    for (;;) {
      this.lists.delete(apiVersion);
      if ((await this.load(apiVersion))?.get(kind) !== undefined || Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The kind's info, or PLUMB_UNKNOWN_KIND when the server does not serve it (asked twice: once more after a miss). */
  async kind(apiVersion: string, kind: string): Promise<KindInfo> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const found = (await this.load(apiVersion))?.get(kind);
      if (found !== undefined) return found;
      this.lists.delete(apiVersion);
    }
    throw new PlumbError("PLUMB_UNKNOWN_KIND", `the Kubernetes API server ${this.client.server} does not serve kind ${kind} in ${apiVersion}`, {
      hint: "check the apiVersion and kind (kubectl api-resources lists them); a custom resource needs its CRD applied first, in this stack or before it",
    });
  }
}
