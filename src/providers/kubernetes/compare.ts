// The live object as the plan should see it: only the fields the manifest
// sets, lists matched by their keys rather than by position, and values the
// server rewrites (quantities, numbers written as strings, a Secret's
// stringData stored as base64 data) spelled the way the manifest spells them
// when they mean the same. Fields the manifest does not set are never drift.

import type { JsonObject, JsonValue } from "../../sdk/resource.js";

/** Keys by which the API server merges list items, in the order they are tried. */
const singleKeys = ["name", "mountPath", "devicePath", "ip", "type", "topologyKey"] as const;
const portKeys = ["containerPort", "port"] as const;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const suffixes: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A Kubernetes quantity ("500m", "1Gi", 2, "1e3") as a number; undefined when it is not one. */
export function quantityValue(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const match = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/.exec(value.trim());
  if (match === null) return undefined;
  const base = Number(match[1]);
  if (match[2] !== undefined) return base * 10 ** Number(match[2].slice(1));
  return base * (suffixes[match[3] ?? ""] ?? 1);
}

function sameScalar(desired: JsonValue, live: JsonValue): boolean {
  if (desired === live) return true;
  if ((typeof desired === "number" || typeof desired === "string") && (typeof live === "number" || typeof live === "string")) {
    // int-or-string fields, and numbers the server stores as strings (or back).
    if (String(desired) === String(live)) return true;
    const a = quantityValue(desired);
    const b = quantityValue(live);
    if (a !== undefined && b !== undefined) return Math.abs(a - b) <= Math.max(Math.abs(a), Math.abs(b)) * 1e-12;
  }
  return false;
}

/** The fields that identify a list item, when every desired item has them. */
function listKey(items: readonly JsonValue[]): ((item: JsonObject) => string) | undefined {
  if (items.length === 0 || !items.every(isObject)) return undefined;
  const objects = items as JsonObject[];
  for (const port of portKeys) {
    // Ports merge on the port and its protocol, which defaults to TCP.
    if (objects.every((item) => item[port] !== undefined)) return (item) => `${String(item[port])}/${String(item.protocol ?? "TCP")}`;
  }
  for (const key of singleKeys) if (objects.every((item) => typeof item[key] === "string")) return (item) => String(item[key]);
  return undefined;
}

/**
 * `live` cut down to the shape of `desired`; undefined where live lacks a
 * field, so the plan sees it as missing.
 */
export function projectLive(desired: JsonValue, live: JsonValue | undefined): JsonValue | undefined {
  if (live === undefined) return undefined;
  if (isObject(desired)) {
    if (!isObject(live)) return live;
    const projected: JsonObject = {};
    for (const [key, value] of Object.entries(desired)) {
      const part = projectLive(value, live[key]);
      if (part !== undefined) projected[key] = part;
    }
    return projected;
  }
  if (Array.isArray(desired)) {
    if (!Array.isArray(live)) return live;
    const keyOf = listKey(desired);
    if (keyOf !== undefined) {
      const byKey = new Map(live.filter(isObject).map((item) => [keyOf(item), item]));
      // Items other managers added are theirs; items the manifest names are compared, in the manifest's order.
      return (desired as JsonObject[]).flatMap((item) => {
        const match = byKey.get(keyOf(item));
        return match === undefined ? [] : [projectLive(item, match) as JsonValue];
      });
    }
    if (desired.length !== live.length) return live;
    return desired.map((item, index) => projectLive(item, live[index]) ?? null);
  }
  return sameScalar(desired, live as JsonValue) ? desired : (live as JsonValue);
}

/** A Secret's stringData as the server keeps it: base64 under data. */
export function secretLiveView(desired: JsonObject, live: JsonObject): JsonObject {
  const stringData = desired.stringData;
  if (!isObject(stringData)) return live;
  const data = isObject(live.data) ? live.data : {};
  const decoded: JsonObject = {};
  for (const key of Object.keys(stringData)) {
    const encoded = data[key];
    if (typeof encoded === "string") decoded[key] = Buffer.from(encoded, "base64").toString("utf8");
  }
  return { ...live, stringData: decoded };
}
