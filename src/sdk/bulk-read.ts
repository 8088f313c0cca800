// What a kind with a bulk `list` builds its other reads from: a single read,
// a read right after a write, and a comparison of JSON values that ignores
// key order (argument tables, policy documents).

import type { LiveObject, Target } from "./provider.js";

export type BulkRead<Spec, Connection> = (connection: Connection, targets: readonly Target<Spec>[]) => Promise<Map<string, LiveObject | Error>>;

/** A kind's single `read` from its bulk one. */
export function readOne<Spec, Connection>(list: BulkRead<Spec, Connection>): (connection: Connection, target: Target<Spec>) => Promise<LiveObject | null> {
  return async (connection, target) => {
    const live = (await list(connection, [target])).get(target.address);
    if (live instanceof Error) throw live;
    return live ?? null;
  };
}

/** Reads an object back right after writing it; its absence then is an error, not "not created yet". */
export async function readBack<Spec, Connection>(
  list: BulkRead<Spec, Connection>,
  connection: Connection,
  target: Target<Spec>,
  what: string,
): Promise<LiveObject> {
  const live = (await list(connection, [target])).get(target.address);
  if (live instanceof Error) throw live;
  if (live === undefined) throw new Error(`${what} is missing right after it was written`);
  return live;
}

/** JSON with its object keys sorted, so two values that say the same serialise the same. */
export function canonicalJson(value: unknown): string {
  const sorted = (item: unknown): unknown =>
    Array.isArray(item)
      ? item.map(sorted)
      : typeof item === "object" && item !== null
        ? Object.fromEntries(
            Object.keys(item)
              .sort()
              .map((key) => [key, sorted((item as Record<string, unknown>)[key])]),
          )
        : item;
  return JSON.stringify(sorted(value));
}

export function sameJson(left: unknown, right: unknown): boolean {
  return canonicalJson(left) === canonicalJson(right);
}
