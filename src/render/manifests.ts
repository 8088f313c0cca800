// Plain manifests of a system outside Plumb's groups (Kubernetes objects),
// accepted as they are: the whole document becomes the resource's spec, its
// name carries its namespace (`team-a/web`), and its labels and annotations
// are the resource's, so `plumb.dev/depends-on` and friends work on them too.
// Their shape is the serving provider's kind schema (`registry.foreign`).

import type { ProviderRegistry } from "../providers/registry.js";
import type { JsonObject, Resource } from "../sdk/resource.js";
import type { StackDefinition } from "../stack-definition.js";

export interface ManifestValue {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** A manifest in Plumb's resource shape; call after it passed the foreign provider's kind schema. */
export function manifestResource(manifest: ManifestValue): Resource {
  const { name, namespace, labels = {}, annotations = {} } = manifest.metadata;
  return {
    apiVersion: manifest.apiVersion,
    kind: manifest.kind,
    metadata: { name: namespace === undefined ? name : `${namespace}/${name}`, labels, annotations },
    spec: manifest as unknown as JsonObject,
  };
}

/** The instance a manifest goes to without a plumb.dev/provider annotation: the stack's one instance of the provider serving it. */
export function defaultManifestInstance(definition: StackDefinition, registry: ProviderRegistry): string | undefined {
  const type = registry.foreign?.type;
  const instances = Object.entries(definition.providers).filter(([, declared]) => declared.type === type);
  return instances.length === 1 ? instances[0]?.[0] : undefined;
}
