// Drift prevention at render: for a stack with sync.preventDrift, one guard
// object per provider instance holding its objects (on Kubernetes, the
// ValidatingWebhookConfiguration that sends changes to the agent). It is a
// resource of the stack like any other: planned, applied, recorded, and
// pruned when preventDrift is turned off.

import type { ProviderRegistry } from "../providers/registry.js";
import { annotations, resourceAddress } from "../sdk/resource.js";
import type { StackDefinition } from "../stack-definition.js";
import { defaultManifestInstance, manifestResource, type ManifestValue } from "./manifests.js";
import type { Candidate } from "./resource-check.js";

/** Where the agent serves admission requests, and the CA (PEM) the live system must trust for it. */
export interface AdmissionEndpoint {
  url: string;
  caBundle: string;
}

export function addAdmissionGuards(
  candidates: Map<string, Candidate>,
  definition: StackDefinition,
  registry: ProviderRegistry,
  endpoint: AdmissionEndpoint | undefined,
): void {
  const guard = registry.foreign?.admission;
  if (guard === undefined || endpoint === undefined || definition.sync.preventDrift !== true) return;
  const fallback = defaultManifestInstance(definition, registry);
  const firstByInstance = new Map<string, Candidate>();
  for (const candidate of candidates.values()) {
    if (candidate.foreign !== true) continue;
    const instance = candidate.resource.metadata.annotations[annotations.provider] ?? fallback;
    if (instance !== undefined && !firstByInstance.has(instance)) firstByInstance.set(instance, candidate);
  }
  for (const [instance, first] of firstByInstance) {
    const manifest = guard.manifest({ stack: definition.name, instance, url: `${endpoint.url}/${definition.name}/${instance}`, caBundle: endpoint.caBundle });
    const resource = manifestResource(manifest as unknown as ManifestValue);
    resource.metadata.annotations = { ...resource.metadata.annotations, [annotations.provider]: instance };
    const address = resourceAddress(resource);
    // Errors about it point at the first object that made it needed.
    if (!candidates.has(address)) candidates.set(address, { resource, address, document: first.document, composite: null, foreign: true });
  }
}
