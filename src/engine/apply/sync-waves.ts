// Sync waves (plumb.dev/sync-wave) for the apply stage: the plan's changes in
// stages — creates, updates and replacements wave by wave from the lowest,
// each wave healthy before the next starts, then deletions from the highest
// wave down. Inside a stage the dependency graph orders the changes.

import type { ProviderConnections } from "../connections.js";
import { observe, type ObserveTarget } from "../observe/observe.js";
import type { ResourceChange } from "../plan/plan.js";

export interface Stage {
  wave: number;
  deletions: boolean;
}

/** A deletion's wave, from the manifest it was applied with (a Plumb resource's record keeps none: wave 0). */
function deletionWave(change: ResourceChange): number {
  const metadata = change.targetSpec.metadata;
  const annotations = typeof metadata === "object" && metadata !== null && !Array.isArray(metadata) ? metadata.annotations : undefined;
  const value = typeof annotations === "object" && annotations !== null && !Array.isArray(annotations) ? annotations["plumb.dev/sync-wave"] : undefined;
  return typeof value === "string" ? Number.parseInt(value, 10) || 0 : 0;
}

export function stageKey(change: ResourceChange): string {
  return change.action === "delete" ? `delete ${deletionWave(change)}` : `apply ${change.wave ?? 0}`;
}

/** The stages in the order they run; one stage (or none) when no change names a wave. */
export function stagesOf(changes: readonly ResourceChange[]): { key: string; stage: Stage; members: ResourceChange[] }[] {
  const groups = new Map<string, { key: string; stage: Stage; members: ResourceChange[] }>();
  for (const change of changes) {
    const key = stageKey(change);
    const deletions = change.action === "delete";
    const wave = deletions ? deletionWave(change) : (change.wave ?? 0);
    const group = groups.get(key) ?? { key, stage: { wave, deletions }, members: [] };
    group.members.push(change);
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) =>
    a.stage.deletions !== b.stage.deletions ? (a.stage.deletions ? 1 : -1) : a.stage.deletions ? b.stage.wave - a.stage.wave : a.stage.wave - b.stage.wave,
  );
}

/** True when the changes need stages: some change names a wave other than 0. */
export function hasWaves(changes: readonly ResourceChange[]): boolean {
  return changes.some((change) => (change.action === "delete" ? deletionWave(change) : (change.wave ?? 0)) !== 0);
}

/**
 * Waits until every resource of a wave is healthy as its kind judges it
 * (kinds without a health check count as healthy, and so does Unknown).
 * Returns why it stopped waiting, or undefined when all are healthy.
 */
export async function waitUntilHealthy(
  members: readonly ResourceChange[],
  connections: ProviderConnections,
  timeoutMs: number,
  signal?: AbortSignal,
  pollMs = 1000,
): Promise<string | undefined> {
  const targets: ObserveTarget[] = members
    .filter((change) => connections.handler(change.apiVersion, change.kind).health !== undefined)
    .map((change) => ({
      address: change.address,
      apiVersion: change.apiVersion,
      kind: change.kind,
      name: change.name,
      provider: change.provider,
      spec: change.desiredSpec ?? change.targetSpec,
      desired: change.desiredSpec ?? change.targetSpec,
    }));
  if (targets.length === 0) return undefined;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { live, errors } = await observe(targets, connections);
    if (errors.length > 0) return `its resources could not be read: ${errors[0]?.message ?? ""}`;
    const waiting: string[] = [];
    for (const target of targets) {
      const object = live.get(target.address);
      if (object === undefined || object === null) {
        waiting.push(`${target.address} (missing)`);
        continue;
      }
      const health = connections.handler(target.apiVersion, target.kind).health?.(object);
      if (health?.status === "Degraded") return `${target.address} is Degraded${health.message === undefined ? "" : `: ${health.message}`}`;
      if (health?.status === "Progressing") waiting.push(target.address);
    }
    if (waiting.length === 0) return undefined;
    if (Date.now() >= deadline) return `${waiting.join(", ")} not healthy after ${Math.round(timeoutMs / 1000)}s`;
    if (signal?.aborted === true) return `${waiting.join(", ")} not healthy yet when the agent stopped`;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}
