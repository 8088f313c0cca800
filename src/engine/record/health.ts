// The record stage's health: every observe re-reads live objects, and a
// resource whose health moved (a rollout finished, a Job failed) has it
// written to its record, so the stack's resources say how they are now and
// not how they were when they were last applied. Returns how many moved.

import type { AnyKindHandler, LiveObject } from "../../sdk/provider.js";
import type { RecordedResource, Store } from "../../state/store.js";

export async function recordHealth(
  store: Store,
  recorded: readonly RecordedResource[],
  live: ReadonlyMap<string, LiveObject | null>,
  handlerOf: (record: RecordedResource) => AnyKindHandler,
): Promise<number> {
  const moved: RecordedResource[] = [];
  for (const record of recorded) {
    const object = live.get(record.address);
    const handler = handlerOf(record);
    if (object === undefined || object === null || handler.health === undefined) continue;
    const health = handler.health(object).status;
    if (health !== record.health) moved.push({ ...record, health, outputs: { ...record.outputs, ...(object.outputs ?? {}) } });
  }
  if (moved.length > 0) await store.putResources(moved);
  return moved.length;
}
