// Observing targets kind by kind: what the engine does for a provider without
// its own `observe`, and what such an `observe` can call for each part it splits off.

import { mapWithConcurrency } from "./concurrency.js";
import { groupBy } from "./group-by.js";
import type { AnyKindHandler, KindTarget, LiveObject, Target } from "./provider.js";

/** Single reads in flight at once for a kind without a bulk `list`. */
const readConcurrency = 32;

/** The default: each kind's bulk `list` where it has one, else `read` one by one with bounded concurrency. */
export async function observeByKind(connection: unknown, targets: readonly KindTarget[]): Promise<Map<string, LiveObject | Error>> {
  const byKind = new Map(
    [...groupBy(targets, (item) => item.handler)].map(([handler, items]): [AnyKindHandler, Target[]] => [handler, items.map((item) => item.target)]),
  );
  const observed = new Map<string, LiveObject | Error>();
  for (const [handler, group] of byKind) {
    if (handler.list !== undefined) {
      try {
        for (const [address, object] of await handler.list(connection, group)) observed.set(address, object);
      } catch (error) {
        for (const target of group) observed.set(target.address, error instanceof Error ? error : new Error(String(error)));
      }
      continue;
    }
    await mapWithConcurrency(group, readConcurrency, async (target) => {
      try {
        const object = await handler.read(connection, target);
        if (object !== null) observed.set(target.address, object);
      } catch (error) {
        observed.set(target.address, error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
  return observed;
}
