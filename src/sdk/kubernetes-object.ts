// A Kubernetes object declared in a program: its whole manifest is its spec,
// and its resource name carries its namespace (`team/web`), as render names
// a plain manifest. The typed constructors in kubernetes-kinds.ts extend it.

import { Declared, type ResourceOptions } from "./declared.js";

/** A Kubernetes object as its manifest: any apiVersion the cluster serves. */
export interface KubernetesManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; [field: string]: unknown };
  [field: string]: unknown;
}

/** Options of a Kubernetes object: labels and annotations are the manifest's own. */
export type KubernetesOptions = Omit<ResourceOptions, "labels" | "annotations">;

// A type alias, not an interface: it must be assignable to the manifest's open metadata.
type Metadata = {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
};

/** A namespaced kind's manifest without apiVersion and kind: it names its namespace (nothing is defaulted). */
export type Namespaced<Body> = Body & { metadata: Metadata & { namespace: string } };
export type ClusterScoped<Body> = Body & { metadata: Metadata };

export class KubernetesObject extends Declared {
  constructor(manifest: KubernetesManifest, options: KubernetesOptions = {}) {
    const metadata = manifest?.metadata;
    if (typeof metadata?.name !== "string" || metadata.name === "") throw new TypeError(`${String(manifest?.kind)}: metadata.name must be a non-empty string`);
    const name = metadata.namespace === undefined ? metadata.name : `${metadata.namespace}/${metadata.name}`;
    super(manifest.apiVersion, manifest.kind, name, manifest, { ...options, labels: { ...metadata.labels }, annotations: { ...metadata.annotations } });
  }
}
