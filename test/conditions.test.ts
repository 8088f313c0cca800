// The conditions table: every outcome the reconciler reaches maps to
// conditions that a dashboard and `kstatus`-style readers can trust.

import { describe, expect, it } from "vitest";
import { conditionsFor, type ReconcileOutcome } from "../src/agent/conditions.js";

const outcomes: ReconcileOutcome[] = [
  { kind: "reading-source", trigger: "poll" },
  { kind: "source-failed", message: "cannot reach the remote", detail: "cannot reach the remote [PLUMB_GIT]", terminal: false, running: "abc" },
  { kind: "source-failed", message: "no such ref", detail: "no such ref [PLUMB_GIT]", terminal: true, running: null },
  { kind: "render-failed", revision: "def", running: "abc", problems: "x.yaml:3: bad" },
  { kind: "up-to-date" },
  { kind: "revision-recorded", revision: "def", wasReady: true },
  { kind: "revision-recorded", revision: "def", wasReady: false },
  { kind: "empty-render", message: "renders no resources" },
  { kind: "held", plan: "1 to create", waitReason: "suspended" },
  { kind: "applying", plan: "1 to create", change: "intentional" },
  { kind: "applied", revision: "def" },
  { kind: "apply-failed", failed: 1, failure: "denied", transient: false, transientMessage: "", attempts: 1, exhausted: false },
  { kind: "apply-failed", failed: 2, failure: "timeout", transient: true, transientMessage: "timeout", attempts: 6, exhausted: true },
  { kind: "unhealthy", revision: "def", progressing: ["apps/v1/Deployment/a/web (0 of 2 updated)"], degraded: [], timedOut: undefined },
  { kind: "unhealthy", revision: "def", progressing: ["apps/v1/Deployment/a/web"], degraded: ["batch/v1/Job/a/once (backoff limit)"], timedOut: "10m" },
  { kind: "plan-failed", reason: "PolicyDenied", message: "rule x denies", transient: false },
  { kind: "plan-failed", reason: "ProviderUnavailable", message: "connection refused", transient: true },
  { kind: "observe-failed", message: "connection refused" },
  { kind: "drift-left", count: 3, waitReason: "selfHeal is off" },
  { kind: "drift-cleared", revision: "def" },
  { kind: "invalid-definition", message: "sync.interval: bad duration" },
  { kind: "internal-error", message: "boom" },
];

describe("conditions", () => {
  it.each(outcomes.map((outcome) => [`${outcome.kind} ${JSON.stringify(outcome).slice(0, 60)}`, outcome] as const))(
    "%s: never Ready and Stalled at once, and every True problem says why",
    (_, outcome) => {
      const changes = conditionsFor(outcome);
      expect(Object.keys(changes).length).toBeGreaterThan(0);
      expect(changes.Ready?.[0] === "True" && changes.Stalled?.[0] === "True").toBe(false);
      for (const type of ["Stalled", "Degraded"] as const) {
        const change = changes[type];
        if (change?.[0] === "True") expect(change[2]).not.toBe("");
      }
      for (const change of Object.values(changes)) expect(change[1]).toMatch(/^[A-Z][A-Za-z]+$/);
    },
  );

  it("says what a stalled stack waits for", () => {
    expect(
      conditionsFor({ kind: "apply-failed", failed: 2, failure: "timeout", transient: true, transientMessage: "timeout", attempts: 6, exhausted: true }),
    ).toEqual({
      Reconciling: ["False", "ApplyFailed", ""],
      Ready: ["False", "ApplyFailed", "2 change(s) failed: timeout"],
      Degraded: ["True", "ProviderUnavailable", "timeout"],
      Stalled: ["True", "RetriesExhausted", "gave up after 6 attempts; a new commit or a manual sync tries again"],
    });
    expect(conditionsFor({ kind: "source-failed", message: "m", detail: "d", terminal: false, running: null }).Degraded?.[2]).toBe(
      "m; keeping revision (none applied yet), nothing deleted",
    );
    expect(conditionsFor({ kind: "revision-recorded", revision: "r", wasReady: false }).Ready).toBeUndefined();
  });
});
