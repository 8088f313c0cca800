// The stacks list's state words, filters and sort orders, as pure functions.

import { describe, expect, it } from "vitest";
import { filterStacks, sortStacks, stackFacets, stackState, type ListedStack } from "../src/api/stack-list.js";

function listed(name: string, overrides: Partial<ListedStack> & { ready?: [string, string]; stalled?: boolean } = {}): ListedStack {
  const [readyStatus, readyReason] = overrides.ready ?? ["True", "Succeeded"];
  return {
    name,
    labels: overrides.labels ?? {},
    environment: overrides.environment ?? null,
    suspended: overrides.suspended ?? false,
    conditions: [
      { type: "Ready", status: readyStatus, reason: readyReason },
      { type: "Stalled", status: overrides.stalled === true ? "True" : "False", reason: "" },
    ],
    lastAppliedRevision: overrides.lastAppliedRevision ?? null,
    updatedAt: overrides.updatedAt ?? null,
  };
}

describe("stack list", () => {
  it("names one state per stack, the most pressing first", () => {
    expect(stackState(listed("a"))).toBe("Ready");
    expect(stackState(listed("a", { ready: ["False", "Drifted"] }))).toBe("Drifted");
    expect(stackState(listed("a", { ready: ["False", "ApplyFailed"] }))).toBe("NotReady");
    expect(stackState(listed("a", { ready: ["Unknown", "NotChecked"] }))).toBe("Unknown");
    expect(stackState(listed("a", { ready: ["False", "Failed"], stalled: true }))).toBe("Stalled");
    expect(stackState(listed("a", { stalled: true, suspended: true }))).toBe("Suspended");
  });

  it("sorts by state with what needs a person first, ties by name, either direction", () => {
    const stacks = [
      listed("ok-b"),
      listed("drift", { ready: ["False", "Drifted"] }),
      listed("ok-a"),
      listed("stuck", { stalled: true, ready: ["False", "Failed"] }),
    ];
    expect(sortStacks(stacks, "state").map((stack) => stack.name)).toEqual(["stuck", "drift", "ok-a", "ok-b"]);
    expect(sortStacks(stacks, "state", "desc").map((stack) => stack.name)).toEqual(["ok-a", "ok-b", "drift", "stuck"]);
  });

  it("keeps stacks without a value last in both directions", () => {
    const stacks = [listed("none"), listed("prod", { environment: "prod" }), listed("dev", { environment: "dev" })];
    expect(sortStacks(stacks, "environment").map((stack) => stack.name)).toEqual(["dev", "prod", "none"]);
    expect(sortStacks(stacks, "environment", "desc").map((stack) => stack.name)).toEqual(["prod", "dev", "none"]);
    const dated = [listed("old", { updatedAt: "2026-01-01T00:00:00.000Z" }), listed("never"), listed("new", { updatedAt: "2026-02-01T00:00:00.000Z" })];
    expect(sortStacks(dated, "updated", "desc").map((stack) => stack.name)).toEqual(["new", "old", "never"]);
  });

  it("filters by name (any case), label, team, environment, StackSet, state and condition together", () => {
    const stacks = [
      listed("payments-prod", { labels: { team: "payments" }, environment: "prod" }),
      listed("payments-dev", { labels: { team: "payments" }, environment: "dev", stalled: true, ready: ["False", "Failed"] }),
      { ...listed("search-prod", { labels: { team: "search", tier: "a=b" }, environment: "prod" }), stackSet: "teams" },
    ];
    const names = (query: Parameters<typeof filterStacks>[1]) => filterStacks(stacks, query).map((stack) => stack.name);
    expect(names({ q: "PAY" })).toEqual(["payments-prod", "payments-dev"]);
    expect(names({ team: "payments", environment: "prod" })).toEqual(["payments-prod"]);
    expect(names({ label: "tier=a=b" })).toEqual(["search-prod"]);
    expect(names({ state: "Stalled" })).toEqual(["payments-dev"]);
    expect(names({ condition: "NotReady" })).toEqual(["payments-dev"]);
    expect(names({ environment: "staging" })).toEqual([]);
    expect(names({ stackSet: "teams" })).toEqual(["search-prod"]);
    expect(names({ stackSet: "-" })).toEqual(["payments-prod", "payments-dev"]);
    expect(names({ names: "search-prod, payments-dev,absent" })).toEqual(["payments-dev", "search-prod"]);
    expect(names({ names: "search-prod", team: "payments" })).toEqual([]);
    expect(sortStacks(stacks, "stackset").map((stack) => stack.name)).toEqual(["search-prod", "payments-dev", "payments-prod"]);
    expect(stackFacets(stacks)).toEqual({
      environments: ["dev", "prod"],
      teams: ["payments", "search"],
      stackSets: ["teams"],
      states: { Stalled: 1, Degraded: 0, Drifted: 0, NotReady: 0, Reconciling: 0, Unknown: 0, Suspended: 0, Ready: 2 },
    });
    // With a team chosen, the menus keep every choice and the states count only that team's stacks.
    const payments = stackFacets(stacks, filterStacks(stacks, { team: "payments" }));
    expect(payments.teams).toEqual(["payments", "search"]);
    expect(payments.states).toMatchObject({ Stalled: 1, Ready: 1 });
  });
});
