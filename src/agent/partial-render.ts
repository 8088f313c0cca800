// What a stack runs after a selective sync: the render applied before, with
// the chosen resources taken from the newer render (created, changed or
// gone). The drift loop compares live state against it, so the chosen
// resources are not drift and the others keep their applied settings.

import { createHash } from "node:crypto";
import type { RenderedStack } from "../stack-model.js";

export function partialRender(previous: RenderedStack | undefined, next: RenderedStack, chosen: ReadonlySet<string>): RenderedStack {
  const before = new Map((previous?.resources ?? []).map((resource) => [resource.address, resource]));
  const inNext = new Set(next.resources.map((resource) => resource.address));
  // The newer render's order keeps each resource after its dependencies; what only the older one holds follows.
  const resources = [
    ...next.resources.flatMap((resource) => {
      if (chosen.has(resource.address)) return [resource];
      const kept = before.get(resource.address);
      return kept === undefined ? [] : [kept];
    }),
    ...(previous?.resources ?? []).filter((resource) => !inNext.has(resource.address) && !chosen.has(resource.address)),
  ];
  const addresses = new Set(resources.map((resource) => resource.address));
  const digest = createHash("sha256")
    .update(JSON.stringify({ over: previous?.digest ?? null, from: next.digest, chosen: [...chosen].sort() }))
    .digest("hex");
  return {
    ...next,
    resources,
    claims: next.claims.filter((claim) => claim.children.some((child) => addresses.has(child))),
    digest,
  };
}
