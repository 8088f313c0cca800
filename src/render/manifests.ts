// Plain manifests of a system outside Plumb's groups (Kubernetes objects),
// accepted as they are: the whole document becomes the resource's spec, its
// name carries its namespace (`team-a/web`), and its labels and annotations
// are the resource's, so `plumb.dev/depends-on` and friends work on them too.

import { Type } from "@sinclair/typebox";
import type { ProviderRegistry } from "../providers/registry.js";
import type { JsonObject, Resource } from "../sdk/resource.js";
import type { StackDefinition } from "../stack-definition.js";

export const manifestShape = Type.Object(
  {
    apiVersion: Type.String({ minLength: 1, description: "group/version, or v1 for the core group" }),
    kind: Type.String({ pattern: "^[A-Z][A-Za-z0-9]{0,62}$", description: "A kind such as Deployment." }),
    metadata: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, pattern: "^[^\\u0000-\\u001f\\u007f/]+$", description: "The object's name." }),
        namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" })),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export interface ManifestValue {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** A manifest in Plumb's resource shape; call after it passed `manifestShape`. */
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
