// The sync gate, case by case: who may apply what, when.

import { describe, expect, it } from "vitest";
import { holdReason, type SyncRequest } from "../src/agent/sync-gate.js";

const base = { prune: false, allowEmpty: false, concurrency: 8 };
const auto = { ...base, auto: true, selfHeal: true };
const denyAlways = [{ kind: "deny" as const, schedule: "0 0 * * *", duration: "24h" }];
const agentLoop: SyncRequest = { actor: null, kind: "sync" };
const driftLoop: SyncRequest = { actor: null, kind: "drift" };
const person: SyncRequest = { actor: "alice", kind: "sync" };
const refresh: SyncRequest = { actor: "alice", kind: "drift" };
const override: SyncRequest = { actor: "alice", kind: "sync", override: true };
const running = { suspended: false };
const suspended = { suspended: true };

describe("the sync gate", () => {
  it("lets the agent apply a commit and heal drift where auto and selfHeal are on", () => {
    expect(holdReason(auto, running, agentLoop, "intentional")).toBeUndefined();
    expect(holdReason(auto, running, driftLoop, "corrective")).toBeUndefined();
  });

  it("holds the agent's own applies where auto or selfHeal is off, not a person's sync", () => {
    expect(holdReason(base, running, agentLoop, "intentional")).toBe("sync.auto is off; sync by hand to apply");
    expect(holdReason({ ...auto, selfHeal: false }, running, driftLoop, "corrective")).toBe("sync.selfHeal is off");
    expect(holdReason(base, running, person, "intentional")).toBeUndefined();
  });

  it("never lets a refresh heal what the stack's policy would not", () => {
    expect(holdReason({ ...auto, selfHeal: false }, running, refresh, "corrective")).toBe("sync.selfHeal is off");
    expect(holdReason(auto, suspended, refresh, "corrective")).toContain("suspended");
    expect(holdReason(auto, running, refresh, "corrective")).toBeUndefined();
  });

  it("holds everyone in a suspended stack or a deny window unless a person overrides", () => {
    expect(holdReason(auto, suspended, person, "intentional")).toBe("the stack is suspended (resume it, or sync with override)");
    expect(holdReason({ ...auto, windows: denyAlways }, running, agentLoop, "intentional")).toMatch(/^deny window .* is open$/);
    expect(holdReason({ ...auto, windows: denyAlways }, running, person, "intentional")).toMatch(/is open \(sync with override to apply anyway\)$/);
    expect(holdReason({ ...auto, windows: denyAlways }, suspended, override, "intentional")).toBeUndefined();
  });

  it("lets a rollback into the stack it suspended itself, but not into a deny window", () => {
    const rollback: SyncRequest = { actor: "alice", kind: "rollback" };
    expect(holdReason(auto, suspended, rollback, "rollback")).toBeUndefined();
    expect(holdReason({ ...auto, windows: denyAlways }, suspended, rollback, "rollback")).toMatch(/deny window/);
  });
});
