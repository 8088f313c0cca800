// Sync waves as stages: applies from the lowest wave up, then deletions from
// the highest wave down; one stage when no change names a wave.
import { describe, expect, it } from "vitest";
import { hasWaves, stagesOf } from "../src/engine/apply/sync-waves.js";
import type { ResourceChange } from "../src/engine/plan/plan.js";

const change = (name: string, action: ResourceChange["action"], wave?: number): ResourceChange =>
  ({
    address: `v1/ConfigMap/${name}`,
    apiVersion: "v1",
    kind: "ConfigMap",
    name,
    provider: "cluster",
    action,
    reason: "",
    diffs: [],
    dependsOn: [],
    // A deletion's wave comes from the manifest it was applied with.
    targetSpec: action === "delete" && wave !== undefined ? { metadata: { annotations: { "plumb.dev/sync-wave": String(wave) } } } : {},
    prune: true,
    deletionPolicy: "Delete",
    drift: false,
    recordStale: false,
    liveHash: null,
    ...(action !== "delete" && wave !== undefined ? { wave } : {}),
  }) as ResourceChange;

describe("sync waves", () => {
  it("orders applies by wave from the lowest, then deletions from the highest", () => {
    const changes = [
      change("b", "update", 2),
      change("old-low", "delete", -1),
      change("a", "create"),
      change("c", "create", -3),
      change("old-high", "delete", 5),
    ];
    expect(hasWaves(changes)).toBe(true);
    expect(stagesOf(changes).map((stage) => `${stage.key}: ${stage.members.map((member) => member.name).join(",")}`)).toEqual([
      "apply -3: c",
      "apply 0: a",
      "apply 2: b",
      "delete 5: old-high",
      "delete -1: old-low",
    ]);
  });

  it("needs no stages when nothing names a wave", () => {
    expect(hasWaves([change("a", "create"), change("b", "delete")])).toBe(false);
  });
});
