// The plan stage as a pure function: many small cases over desired, recorded and live state.

import { describe, expect, it } from "vitest";
import { PlumbErrorList } from "../src/errors.js";
import { createPlan, type PlanInput } from "../src/engine/plan/plan.js";
import type { LiveObject } from "../src/sdk/provider.js";
import type { JsonObject } from "../src/sdk/resource.js";
import type { RecordedResource } from "../src/state/store.js";
import { desiredFile } from "./helpers.js";

const desired = desiredFile;

function recorded(name: string, appliedSpec: JsonObject, extra: Partial<RecordedResource> = {}): RecordedResource {
  return {
    stack: "s",
    address: `file.plumb.dev/v1/File/${name}`,
    apiVersion: "file.plumb.dev/v1",
    kind: "File",
    name,
    provider: "default",
    appliedSpec,
    managedFields: Object.keys(appliedSpec).map((key) => `/${key}`),
    outputs: {},
    liveHash: null,
    status: "Synced",
    health: "Healthy",
    dependsOn: [],
    prune: true,
    deletionPolicy: "Delete",
    lastRunId: null,
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...extra,
  };
}

function plan(input: Partial<PlanInput> & { live?: Map<string, LiveObject | null> }) {
  return createPlan({
    stack: "s",
    environment: null,
    digest: "d",
    desired: [],
    recorded: [],
    live: new Map(),
    replaceOn: () => ["path"],
    sync: { prune: false, allowEmpty: false },
    ...input,
  });
}

const address = (name: string) => `file.plumb.dev/v1/File/${name}`;

describe("plan", () => {
  it("ignores a difference in a field another writer owns, by annotation or by the stack's rule, says so, and still sees the others", () => {
    const spec = { path: "a", content: "x", mode: "0644", owner: { name: "web", group: "web" } };
    const live = { ...spec, content: "changed by a controller", owner: { name: "web", group: "set-by-webhook" } };
    const annotated = desired("a", spec, { annotations: { "plumb.dev/ignore-differences": "/content, /owner/group" } });
    const ignoredByAnnotation = plan({ desired: [annotated], recorded: [recorded("a", spec)], live: new Map([[address("a"), { spec: live }]]) });
    expect(ignoredByAnnotation.changes[0]?.action).toBe("noop");
    expect(ignoredByAnnotation.changes[0]?.drift).toBe(false);
    expect(ignoredByAnnotation.changes[0]?.ignored).toEqual(["/content (plumb.dev/ignore-differences)", "/owner/group (plumb.dev/ignore-differences)"]);
    expect(ignoredByAnnotation.changes[0]?.reason).toBe(
      "in sync; ignored: /content (plumb.dev/ignore-differences), /owner/group (plumb.dev/ignore-differences)",
    );

    // A stack rule by kind covers a whole object under its pointer; a rule for another kind or name does not apply; the rest is still drift.
    const byRule = plan({
      desired: [desired("a", spec)],
      recorded: [recorded("a", spec)],
      live: new Map([[address("a"), { spec: { ...live, mode: "0600" } }]]),
      sync: {
        prune: false,
        allowEmpty: false,
        ignoreDifferences: [
          { kind: "File", pointers: ["/owner"] },
          { kind: "Directory", pointers: ["/content"] },
          { name: "other", pointers: ["/content"] },
        ],
      },
    });
    expect(byRule.changes[0]?.action).toBe("update");
    expect(byRule.changes[0]?.diffs.map((diff) => diff.path)).toEqual(["/content", "/mode"]);
    expect(byRule.changes[0]?.drift).toBe(true);
    expect(byRule.changes[0]?.ignored).toEqual(["/owner/group (sync.ignoreDifferences)"]);
    // What is applied for the other fields keeps the ignored one as the other writer set it.
    expect(byRule.changes[0]?.desiredSpec).toEqual({ ...spec, owner: { name: "web", group: "set-by-webhook" } });
    // A pointer is a field, not a prefix of a name: /own does not cover /owner.
    const prefix = plan({
      desired: [desired("a", spec, { annotations: { "plumb.dev/ignore-differences": "/own" } })],
      recorded: [recorded("a", spec)],
      live: new Map([[address("a"), { spec: live }]]),
    });
    expect(prefix.changes[0]?.diffs.map((diff) => diff.path)).toEqual(["/content", "/owner/group"]);
    expect(prefix.changes[0]?.ignored).toBeUndefined();
  });

  it("ignores the fields a named field manager owns now, and nothing else", () => {
    const spec = { path: "a", content: "x", mode: "0644" };
    const live: LiveObject = {
      spec: { ...spec, content: "scaled", mode: "0600" },
      fieldManagers: { autoscaler: ["/content"], "kubectl-edit": ["/mode"] },
    };
    const result = plan({
      desired: [desired("a", spec)],
      recorded: [recorded("a", spec)],
      live: new Map([[address("a"), live]]),
      sync: { prune: false, allowEmpty: false, ignoreDifferences: [{ kind: "File", managers: ["autoscaler"] }] },
    });
    expect(result.changes[0]?.diffs.map((diff) => diff.path)).toEqual(["/mode"]);
    expect(result.changes[0]?.ignored).toEqual(["/content (sync.ignoreDifferences: field manager autoscaler)"]);
    expect(result.changes[0]?.desiredSpec).toEqual({ ...spec, content: "scaled" });
  });

  it("creates what does not exist, with every field listed", () => {
    const result = plan({ desired: [desired("a", { path: "a", content: "x" })], live: new Map([[address("a"), null]]) });
    expect(result.changes[0]?.action).toBe("create");
    expect(result.changes[0]?.diffs.map((diff) => [diff.path, diff.after])).toEqual([
      ["/path", "a"],
      ["/content", "x"],
    ]);
    expect(result.summary).toMatchObject({ create: 1, noop: 0 });
  });

  it("is a no-op when live matches, ignoring fields Plumb never set", () => {
    const spec = { path: "a", content: "x" };
    const result = plan({
      desired: [desired("a", spec)],
      recorded: [recorded("a", spec)],
      live: new Map([[address("a"), { spec: { path: "a", content: "x", mode: "0777" } }]]),
    });
    expect(result.changes[0]?.action).toBe("noop");
    expect(result.changes[0]?.diffs).toEqual([]);
  });

  it("marks a live change to a managed field as drift, field by field", () => {
    const spec = { path: "a", content: "x", mode: "0644" };
    const result = plan({
      desired: [desired("a", spec)],
      recorded: [recorded("a", spec)],
      live: new Map([[address("a"), { spec: { path: "a", content: "tampered", mode: "0600" } }]]),
    });
    const change = result.changes[0];
    expect(change?.action).toBe("update");
    expect(change?.drift).toBe(true);
    expect(change?.diffs).toEqual([
      { path: "/content", before: "tampered", after: "x", forcesReplacement: false, drift: true },
      { path: "/mode", before: "0600", after: "0644", forcesReplacement: false, drift: true },
    ]);
  });

  it("tells a change in the source from drift", () => {
    const result = plan({
      desired: [desired("a", { path: "a", content: "new" })],
      recorded: [recorded("a", { path: "a", content: "old" })],
      live: new Map([[address("a"), { spec: { path: "a", content: "old" } }]]),
    });
    expect(result.changes[0]?.action).toBe("update");
    expect(result.changes[0]?.drift).toBe(false);
    expect(result.changes[0]?.reason).toBe("content changed in the source");
  });

  it("replaces when a field that forces replacement changes, observing the recorded identity", () => {
    const result = plan({
      desired: [desired("a", { path: "b", content: "x" })],
      recorded: [recorded("a", { path: "a", content: "x" })],
      live: new Map([[address("a"), { spec: { path: "a", content: "x" } }]]),
    });
    expect(result.changes[0]?.action).toBe("replace");
    expect(result.changes[0]?.targetSpec).toEqual({ path: "a", content: "x" });
    expect(result.changes[0]?.diffs[0]).toMatchObject({ path: "/path", forcesReplacement: true });
  });

  it("re-creates a recorded resource deleted outside Plumb, as drift", () => {
    const spec = { path: "a", content: "x" };
    const result = plan({ desired: [desired("a", spec)], recorded: [recorded("a", spec)], live: new Map([[address("a"), null]]) });
    expect(result.changes[0]).toMatchObject({ action: "create", drift: true });
  });

  it("deletes what left the stack only with prune on", () => {
    const spec = { path: "gone", content: "x" };
    const input = {
      desired: [desired("a", { path: "a", content: "x" })],
      recorded: [recorded("gone", spec)],
      live: new Map([
        [address("gone"), { spec }],
        [address("a"), null],
      ]),
    };
    expect(plan(input).changes[1]).toMatchObject({ address: address("gone"), action: "retain" });
    expect(plan({ ...input, sync: { prune: true, allowEmpty: false } }).changes[1]).toMatchObject({ address: address("gone"), action: "delete" });
  });

  it("never deletes a resource protected with plumb.dev/prune: false", () => {
    const spec = { path: "keep", content: "x" };
    const result = plan({
      desired: [desired("a", { path: "a", content: "x" })],
      recorded: [recorded("keep", spec, { prune: false })],
      live: new Map([[address("keep"), { spec }]]),
      sync: { prune: true, allowEmpty: false },
    });
    expect(result.changes[1]).toMatchObject({ action: "retain" });
    expect(result.changes[1]?.reason).toContain("plumb.dev/prune");
  });

  it("deletes nothing when the render is empty, unless allowEmpty is set", () => {
    const spec = { path: "a", content: "x" };
    const input = { recorded: [recorded("a", spec)], live: new Map([[address("a"), { spec }]]) };
    const guarded = plan({ ...input, sync: { prune: true, allowEmpty: false } });
    expect(guarded.summary).toMatchObject({ delete: 0, retain: 1 });
    expect(guarded.warnings[0]).toContain("rendered no resources");
    expect(plan({ ...input, sync: { prune: true, allowEmpty: true } }).summary).toMatchObject({ delete: 1, retain: 0 });
  });

  it("refuses an existing object it has no record of, naming it, where it is declared and both ways to adopt it", () => {
    const spec = { path: "a", content: "x" };
    let refusal: unknown;
    try {
      plan({
        desired: [desired("a", spec), desired("b", spec)],
        live: new Map([
          [address("a"), { spec }],
          [address("b"), { spec }],
        ]),
      });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(PlumbErrorList);
    const problems = (refusal as PlumbErrorList).errors;
    expect(problems.map((problem) => problem.code)).toEqual(["PLUMB_ADOPTION_REQUIRED", "PLUMB_ADOPTION_REQUIRED"]);
    expect(problems[0]?.describe()).toContain(`x.yaml (${address("a")}): File "a" already exists in the live system and Plumb did not create it`);
    expect(problems[0]?.hint).toContain('plumb.dev/adopt: "true"');
    expect(problems[0]?.hint).toContain(`plumb import <dir> ${address("a")}`);
  });

  it("adopts an existing object when the resource asks, flagging the missing record so apply writes it", () => {
    const spec = { path: "a", content: "x" };
    const adopt = { annotations: { "plumb.dev/adopt": "true" } };
    const result = plan({ desired: [desired("a", spec, adopt)], live: new Map([[address("a"), { spec }]]) });
    expect(result.changes[0]).toMatchObject({ action: "noop", recordStale: true, adopt: true });
    expect(result.changes[0]?.reason).toBe("adopted: it existed before Plumb managed it (plumb.dev/adopt); it already matches");
    const changed = plan({ desired: [desired("a", { path: "a", content: "y" }, adopt)], live: new Map([[address("a"), { spec }]]) });
    expect(changed.changes[0]).toMatchObject({ action: "update", adopt: true, drift: false });
    expect(changed.changes[0]?.reason).toBe("adopted: it existed before Plumb managed it (plumb.dev/adopt); content set as the source says");
  });

  it("manages a relationship (a grant) found in place without an opt-in", () => {
    const spec = { path: "a" };
    const result = plan({ desired: [desired("a", spec)], live: new Map([[address("a"), { spec }]]), ownsObjects: () => false });
    expect(result.changes[0]).toMatchObject({ action: "noop", recordStale: true, reason: "in sync" });
    expect(result.changes[0]?.adopt).toBeUndefined();
  });

  it("takes back an object whose own tags say Plumb made it for this stack, and no other", () => {
    const spec = (stack: string) => ({ path: "a", tags: { "c/managed-by": "plumb", "c/stack": stack } });
    const input = (stack: string) => ({
      desired: [desired("a", { path: "a" })],
      live: new Map([[address("a"), { spec: spec(stack) }]]),
      tagField: () => "tags",
    });
    expect(plan(input("s")).changes[0]).toMatchObject({
      action: "noop",
      adopt: true,
      reason: "Plumb's own object (its metadata names this stack); recorded again; it already matches",
    });
    expect(() => plan(input("another-stack"))).toThrow(PlumbErrorList);
  });

  it("compares nested mappings by leaf and lists whole", () => {
    const result = plan({
      desired: [desired("a", { path: "a", nested: { keep: 1, list: [1, 2] } })],
      recorded: [recorded("a", { path: "a", nested: { keep: 1, list: [1] } })],
      live: new Map([[address("a"), { spec: { path: "a", nested: { keep: 1, list: [1, 2, 3], extra: true } } }]]),
    });
    expect(result.changes[0]?.diffs).toEqual([{ path: "/nested/list", before: [1, 2, 3], after: [1, 2], forcesReplacement: false, drift: false }]);
  });

  it("stops managing a removed resource whose deletion policy is Retain, leaving it in place", () => {
    const spec = { path: "db", content: "x" };
    const result = plan({
      recorded: [recorded("db", spec, { deletionPolicy: "Retain" })],
      desired: [desired("a", { path: "a", content: "x" })],
      live: new Map([
        [address("db"), { spec }],
        [address("a"), null],
      ]),
      sync: { prune: true, allowEmpty: false },
    });
    expect(result.changes[1]).toMatchObject({ address: address("db"), action: "orphan" });
    expect(result.changes[1]?.reason).toContain("left in place and no longer managed");
    expect(result.summary).toMatchObject({ orphan: 1, delete: 0 });
  });

  it("refuses to replace a resource whose deletion policy is Retain", () => {
    const input = {
      desired: [desired("db", { path: "new", content: "x" }, { deletionPolicy: "Retain" })],
      recorded: [recorded("db", { path: "old", content: "x" })],
      live: new Map([[address("db"), { spec: { path: "old", content: "x" } }]]),
    };
    expect(() => plan(input)).toThrow(/changing path would replace file\.plumb\.dev\/v1\/File\/db, destroying the data it holds/);
  });

  it("gives the same plan for the same inputs", () => {
    const input = {
      desired: [desired("a", { path: "a", content: "x" })],
      recorded: [recorded("a", { path: "a", content: "w" })],
      live: new Map([[address("a"), { spec: { path: "a", content: "y" } }]]),
    };
    expect(JSON.stringify(plan(input))).toBe(JSON.stringify(plan(input)));
  });
});
