// Which fields each field manager owns now, from an object's
// metadata.managedFields, as JSON pointers into the live view the plan
// compares (list items found by their keys or values, as the server names
// them): what `sync.ignoreDifferences` rules with `managers` ignore.

import { pointerSegment, type JsonObject, type JsonValue } from "../../sdk/resource.js";
import { isObject } from "./compare.js";

function sameFields(item: JsonValue | undefined, keys: JsonObject): boolean {
  return isObject(item) && Object.entries(keys).every(([name, value]) => JSON.stringify(item[name]) === JSON.stringify(value));
}

/** The leaf fields of one fieldsV1 tree that exist in `view`, as pointers under `pointer`. */
function leaves(fields: JsonObject, view: JsonValue | undefined, pointer: string, found: string[]): void {
  for (const [key, child] of Object.entries(fields)) {
    if (key === "." || !isObject(child)) continue;
    let next: JsonValue | undefined;
    let at: string | undefined;
    if (key.startsWith("f:") && isObject(view)) {
      const name = key.slice(2);
      next = view[name];
      at = `${pointer}/${pointerSegment(name)}`;
    } else if ((key.startsWith("k:") || key.startsWith("v:")) && Array.isArray(view)) {
      let wanted: JsonValue;
      try {
        wanted = JSON.parse(key.slice(2)) as JsonValue;
      } catch {
        continue;
      }
      const index = key.startsWith("k:")
        ? view.findIndex((item) => isObject(wanted) && sameFields(item, wanted))
        : view.findIndex((item) => JSON.stringify(item) === JSON.stringify(wanted));
      if (index !== -1) {
        next = view[index];
        at = `${pointer}/${index}`;
      }
    } else if (key.startsWith("i:") && Array.isArray(view)) {
      const index = Number(key.slice(2));
      if (Number.isInteger(index) && index >= 0 && index < view.length) {
        next = view[index];
        at = `${pointer}/${index}`;
      }
    }
    if (at === undefined || next === undefined) continue;
    const children = Object.keys(child).filter((name) => name !== ".");
    if (children.length === 0) found.push(at);
    else leaves(child, next, at, found);
  }
}

/** For each field manager, the fields of `view` it owns now. */
export function fieldOwners(managedFields: unknown, view: JsonValue): Record<string, string[]> {
  const owners: Record<string, string[]> = {};
  if (!Array.isArray(managedFields)) return owners;
  for (const entry of managedFields) {
    if (!isObject(entry) || typeof entry.manager !== "string" || !isObject(entry.fieldsV1)) continue;
    // A status written through its subresource is not the manifest's.
    if (typeof entry.subresource === "string" && entry.subresource !== "") continue;
    const found: string[] = [];
    leaves(entry.fieldsV1, view, "", found);
    if (found.length > 0) owners[entry.manager] = [...(owners[entry.manager] ?? []), ...found];
  }
  return owners;
}
