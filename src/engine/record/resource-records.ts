// Builds the store's record of a resource from what was applied and what the
// live system reported back.

import type { AnyKindHandler, LiveObject } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";
import type { RecordedResource } from "../../state/store.js";
import { hashSpec, managedFieldPaths } from "../plan/diff.js";

export type RecordSource = Pick<RecordedResource, "stack" | "address" | "apiVersion" | "kind" | "name" | "provider" | "dependsOn" | "prune" | "deletionPolicy">;

export function recordFor(source: RecordSource, appliedSpec: JsonObject, live: LiveObject, handler: AnyKindHandler, runId: string | null): RecordedResource {
  return {
    stack: source.stack,
    address: source.address,
    apiVersion: source.apiVersion,
    kind: source.kind,
    name: source.name,
    provider: source.provider,
    appliedSpec,
    managedFields: managedFieldPaths(appliedSpec),
    outputs: live.outputs ?? {},
    liveHash: hashSpec(live.spec),
    status: "Synced",
    health: handler.health?.(live).status ?? "Unknown",
    dependsOn: source.dependsOn,
    prune: source.prune,
    deletionPolicy: source.deletionPolicy,
    lastRunId: runId,
    updatedAt: new Date().toISOString(),
  };
}
