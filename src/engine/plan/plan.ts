// The plan stage: a pure function of (desired graph, recorded state, live state)
// to one action per resource with field-level diffs. It does no I/O: the same
// inputs always give the same plan.

import type { DesiredResource } from "../../stack-model.js";
import type { LiveObject } from "../../sdk/provider.js";
import { PlumbError, PlumbErrorList } from "../../errors.js";
import { annotations, type DeletionPolicy, type JsonObject } from "../../sdk/resource.js";
import type { PlanSummary, RecordedResource } from "../../state/store.js";
import { deepEqual, diffManagedFields, hashSpec, managedFieldPaths, type FieldDiff } from "./diff.js";

/**
 * `orphan`: the resource left the stack and its deletion policy is Retain, so
 * Plumb forgets it and leaves the live object alone. `retain`: it left the
 * stack but nothing happens (prune off, protected, or an empty render).
 */
export type PlanAction = "create" | "update" | "replace" | "delete" | "orphan" | "retain" | "noop";

export interface ResourceChange {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  provider: string;
  action: PlanAction;
  /** Why this action, in words a person reads in the plan. */
  reason: string;
  diffs: FieldDiff[];
  /** Desired dependencies for resources in the stack; recorded ones for deletions. */
  dependsOn: string[];
  /** The spec to apply; absent for deletions and retained resources. */
  desiredSpec?: JsonObject;
  /** The spec that identifies the live object: what was applied last, else the desired spec. */
  targetSpec: JsonObject;
  prune: boolean;
  deletionPolicy: DeletionPolicy;
  /** True when the change corrects drift rather than applying a change from the source. */
  drift: boolean;
  /** For no-ops: the store's record is missing or out of date and apply will rewrite it. */
  recordStale: boolean;
  /** sha256 of the observed live spec, or null when the object does not exist. */
  liveHash: string | null;
  /** The object existed before Plumb managed it and is taken over now (plumb.dev/adopt, or its tags name this stack). */
  adopt?: boolean;
  /** Fields that differ and are ignored, each with the rule that says so. */
  ignored?: string[];
  /** plumb.dev/sync-wave: lower waves are applied and healthy before higher ones start. Absent: wave 0. */
  wave?: number;
}

/** A resource's sync wave (plumb.dev/sync-wave), 0 when it has none. */
export function syncWaveOf(resource: { annotations: Record<string, string> }): number {
  const value = resource.annotations[annotations.syncWave];
  return value === undefined ? 0 : Number.parseInt(value.trim(), 10) || 0;
}

/** A stack's rule for fields another writer owns (sync.ignoreDifferences). */
export interface IgnoreRule {
  apiVersion?: string;
  kind?: string;
  name?: string;
  pointers?: readonly string[];
  /** Field managers (Kubernetes managedFields): whatever one of them owns now is ignored. */
  managers?: readonly string[];
}

export interface Plan {
  stack: string;
  environment: string | null;
  /** Hash of the rendered desired graph the plan was made from. */
  digest: string;
  /** Resources of the stack in dependency order, then the ones that left it. */
  changes: ResourceChange[];
  summary: PlanSummary;
  warnings: string[];
  /** Resources that run around the sync (plumb.dev/hook) when it changes anything, and in which phases. */
  hooks?: { address: string; phases: string[] }[];
}

export interface PlanInput {
  stack: string;
  environment: string | null;
  digest: string;
  desired: readonly DesiredResource[];
  recorded: readonly RecordedResource[];
  /** Observed live objects by address; null when the object does not exist. */
  live: ReadonlyMap<string, LiveObject | null>;
  /** Top-level spec fields that force replacement for a kind. */
  replaceOn(apiVersion: string, kind: string): readonly string[];
  /** The spec field a kind carries Plumb's metadata tags in, if any: tags naming this stack prove an object is Plumb's own. */
  tagField?(apiVersion: string, kind: string): string | undefined;
  /** False for kinds of relationships (grants), which are managed as found without an opt-in. */
  ownsObjects?(apiVersion: string, kind: string): boolean;
  sync: { prune: boolean; allowEmpty: boolean; ignoreDifferences?: readonly IgnoreRule[] };
}

/** The pointers whose differences a resource ignores, each with where the rule comes from. */
function ignoredPointers(resource: DesiredResource, rules: readonly IgnoreRule[], live: LiveObject | null): { pointer: string; why: string }[] {
  const found: { pointer: string; why: string }[] = [];
  const annotation = resource.annotations[annotations.ignoreDifferences];
  for (const pointer of annotation?.split(",") ?? []) if (pointer.trim() !== "") found.push({ pointer: pointer.trim(), why: annotations.ignoreDifferences });
  for (const rule of rules) {
    if (rule.apiVersion !== undefined && rule.apiVersion !== resource.apiVersion) continue;
    if (rule.kind !== undefined && rule.kind !== resource.kind) continue;
    if (rule.name !== undefined && rule.name !== resource.name) continue;
    for (const pointer of rule.pointers ?? []) found.push({ pointer, why: "sync.ignoreDifferences" });
    for (const manager of rule.managers ?? [])
      for (const pointer of live?.fieldManagers?.[manager] ?? []) found.push({ pointer, why: `sync.ignoreDifferences: field manager ${manager}` });
  }
  return found;
}

/** True when `path` is `pointer` or a field inside it. */
function covers(pointer: string, path: string): boolean {
  return path === pointer || path.startsWith(pointer.endsWith("/") ? pointer : `${pointer}/`);
}

/**
 * The plan cut down to the chosen resources, as a selective sync applies it:
 * their changes only, recounted. A dependency outside the choice is taken as
 * it stands (the apply stage waits only on what is in the plan).
 */
export function selectChanges(plan: Plan, addresses: Iterable<string>): Plan {
  const chosen = new Set(addresses);
  const changes = plan.changes.filter((change) => chosen.has(change.address));
  const summary: PlanSummary = { create: 0, update: 0, replace: 0, delete: 0, orphan: 0, retain: 0, noop: 0 };
  for (const change of changes) summary[change.action]++;
  return { ...plan, changes, summary };
}

export function createPlan(input: PlanInput): Plan {
  const recordedByAddress = new Map(input.recorded.map((record) => [record.address, record]));
  const changes: ResourceChange[] = [];
  const warnings: string[] = [];

  const refused: PlumbError[] = [];
  for (const resource of input.desired) {
    const recorded = recordedByAddress.get(resource.address);
    const live = input.live.get(resource.address) ?? null;
    const adoption =
      recorded === undefined && live !== null && input.ownsObjects?.(resource.apiVersion, resource.kind) !== false
        ? adoptionOf(resource, live, input)
        : undefined;
    if (adoption === "refused") refused.push(adoptionRefused(resource, input.stack));
    else
      changes.push(
        planDesired(
          resource,
          recorded,
          live,
          input.replaceOn(resource.apiVersion, resource.kind),
          adoption,
          ignoredPointers(resource, input.sync.ignoreDifferences ?? [], live),
        ),
      );
  }
  if (refused.length > 0) throw new PlumbErrorList(refused);

  const desiredAddresses = new Set(input.desired.map((resource) => resource.address));
  const emptyGuard = input.desired.length === 0 && !input.sync.allowEmpty;
  const leaving = input.recorded.filter((record) => !desiredAddresses.has(record.address));
  if (emptyGuard && leaving.length > 0) {
    warnings.push(
      `the stack rendered no resources; its ${leaving.length} recorded resource(s) are kept. Set sync.allowEmpty: true (or pass --allow-empty) if removing everything is intended.`,
    );
  }
  for (const record of leaving) {
    const live = input.live.get(record.address) ?? null;
    let action: PlanAction = "delete";
    let reason = live === null ? "removed from the stack and already gone from the live system; the record is dropped" : "removed from the stack";
    if (!input.sync.prune) {
      action = "retain";
      reason = "removed from the stack; prune is off, so it is left in place (set sync.prune: true or pass --prune to delete it)";
    } else if (!record.prune) {
      action = "retain";
      reason = 'removed from the stack; protected by plumb.dev/prune: "false", so it is left in place';
    } else if (emptyGuard) {
      action = "retain";
      reason = "removed from the stack, but the render is empty and allowEmpty is off, so nothing is deleted";
    } else if (record.deletionPolicy === "Retain") {
      action = "orphan";
      reason = `removed from the stack; its deletion policy is Retain, so it is left in place and no longer managed (set ${annotations.deletionPolicy}: Delete to drop it)`;
    }
    changes.push({
      address: record.address,
      apiVersion: record.apiVersion,
      kind: record.kind,
      name: record.name,
      provider: record.provider,
      action,
      reason,
      diffs: [],
      dependsOn: record.dependsOn,
      targetSpec: record.appliedSpec,
      prune: record.prune,
      deletionPolicy: record.deletionPolicy,
      drift: false,
      recordStale: false,
      liveHash: live === null ? null : hashSpec(live.spec),
    });
  }

  const summary: PlanSummary = { create: 0, update: 0, replace: 0, delete: 0, orphan: 0, retain: 0, noop: 0 };
  for (const change of changes) summary[change.action]++;
  return { stack: input.stack, environment: input.environment, digest: input.digest, changes, summary, warnings };
}

/**
 * An object that exists but that Plumb has no record of is taken over only on
 * purpose: the resource says plumb.dev/adopt: "true", or the object's own
 * tags say Plumb made it for this stack (a store restored from an older
 * backup, a record lost). Anything else may be someone else's.
 */
function adoptionOf(resource: DesiredResource, live: LiveObject, input: PlanInput): "annotation" | "own" | "refused" {
  if (resource.annotations[annotations.adopt] === "true") return "annotation";
  if (live.ownedBy === input.stack) return "own";
  const field = input.tagField?.(resource.apiVersion, resource.kind);
  const tags = field === undefined ? undefined : live.spec[field];
  if (typeof tags === "object" && tags !== null && !Array.isArray(tags)) {
    for (const [key, value] of Object.entries(tags)) {
      if (value !== "plumb" || !key.endsWith("managed-by")) continue;
      const prefix = key.slice(0, -"managed-by".length);
      if (tags[`${prefix}stack`] === input.stack) return "own";
    }
  }
  return "refused";
}

function adoptionRefused(resource: DesiredResource, stack: string): PlumbError {
  return new PlumbError(
    "PLUMB_ADOPTION_REQUIRED",
    `${resource.kind} "${resource.name}" already exists in the live system and Plumb did not create it; it is not taken over without being asked`,
    {
      location: {
        stack,
        resource: resource.address,
        file: resource.origin.file,
        ...(resource.origin.line === undefined ? {} : { line: resource.origin.line }),
      },
      hint: `to manage the existing object, add the annotation ${annotations.adopt}: "true" to the resource, or run plumb import <dir> ${resource.address}; otherwise give the resource another name`,
    },
  );
}

function planDesired(
  resource: DesiredResource,
  recorded: RecordedResource | undefined,
  live: LiveObject | null,
  replaceOn: readonly string[],
  adoption: "annotation" | "own" | undefined,
  ignoring: readonly { pointer: string; why: string }[],
): ResourceChange {
  const base = {
    address: resource.address,
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    name: resource.name,
    provider: resource.provider,
    dependsOn: resource.dependsOn,
    desiredSpec: resource.spec,
    targetSpec: recorded?.appliedSpec ?? resource.spec,
    prune: resource.prune,
    deletionPolicy: resource.deletionPolicy,
    recordStale: false,
    liveHash: live === null ? null : hashSpec(live.spec),
    ...(syncWaveOf(resource) === 0 ? {} : { wave: syncWaveOf(resource) }),
    ...(adoption === undefined ? {} : { adopt: true }),
  };
  const adopted =
    adoption === "annotation"
      ? `adopted: it existed before Plumb managed it (${annotations.adopt})`
      : "Plumb's own object (its metadata names this stack); recorded again";
  if (live === null) {
    const drift = recorded !== undefined;
    return {
      ...base,
      action: "create",
      reason: drift ? "missing from the live system (deleted outside Plumb); it is created again" : "not in the live system yet",
      diffs: managedFieldPaths(resource.spec).map((path) => ({ path, after: valueAtPointer(resource.spec, path), forcesReplacement: false, drift })),
      drift,
    };
  }
  // A field another writer owns (a webhook, a controller) is neither a change nor drift: the plan says it was ignored and why.
  const ignored: string[] = [];
  const ignoredPaths: string[] = [];
  const diffs = diffManagedFields(resource.spec, live.spec, recorded?.appliedSpec, replaceOn).filter((diff) => {
    const rule = ignoring.find(({ pointer }) => covers(pointer, diff.path));
    if (rule !== undefined) {
      ignored.push(`${diff.path} (${rule.why})`);
      ignoredPaths.push(diff.path);
    }
    return rule === undefined;
  });
  const ignoredNote = ignored.length === 0 ? {} : { ignored };
  const ignoredText = ignored.length === 0 ? "" : `; ignored: ${ignored.join(", ")}`;
  if (diffs.length === 0) {
    const recordStale =
      recorded === undefined ||
      recorded.liveHash !== base.liveHash ||
      !deepEqual(recorded.appliedSpec, resource.spec) ||
      !deepEqual(recorded.dependsOn, resource.dependsOn) ||
      recorded.prune !== resource.prune ||
      recorded.deletionPolicy !== resource.deletionPolicy ||
      recorded.status !== "Synced";
    return {
      ...base,
      action: "noop",
      reason: `${adoption === undefined ? "in sync" : `${adopted}; it already matches`}${ignoredText}`,
      diffs,
      drift: false,
      recordStale,
      ...ignoredNote,
    };
  }
  const drift = diffs.every((diff) => diff.drift);
  const replace = diffs.some((diff) => diff.forcesReplacement);
  if (replace && resource.deletionPolicy === "Retain") {
    const fields = diffs
      .filter((diff) => diff.forcesReplacement)
      .map((diff) => diff.path.slice(1))
      .join(", ");
    throw new PlumbError("PLUMB_DELETION_PROTECTED", `changing ${fields} would replace ${resource.address}, destroying the data it holds`, {
      location: { resource: resource.address },
      hint: `revert the change, or add the annotation ${annotations.deletionPolicy}: Delete to allow the replacement`,
    });
  }
  const fields = diffs.map((diff) => diff.path.slice(1)).join(", ");
  const reason =
    adoption !== undefined
      ? `${adopted}; ${fields} set as the source says`
      : drift
        ? `drift: ${fields} changed outside Plumb`
        : `${fields} changed in the source`;
  return {
    ...base,
    action: replace ? "replace" : "update",
    reason: `${
      replace
        ? `${reason}; a changed ${diffs
            .filter((diff) => diff.forcesReplacement)
            .map((diff) => diff.path.slice(1))
            .join(", ")} cannot be applied in place`
        : reason
    }${ignoredText}`,
    diffs,
    drift,
    ...ignoredNote,
    // Applying the other fields leaves the ignored ones as the other writer set them.
    ...(ignoredPaths.length === 0 ? {} : { desiredSpec: withValuesFrom(resource.spec, live.spec, ignoredPaths) }),
  };
}

/** `spec` with the fields at `paths` taken from `source` (removed where `source` has none). */
function withValuesFrom(spec: JsonObject, source: JsonObject, paths: readonly string[]): JsonObject {
  const result = structuredClone(spec);
  for (const path of paths) {
    const segments = path
      .split("/")
      .slice(1)
      .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = segments.pop();
    let target: unknown = result;
    for (const segment of segments) target = typeof target === "object" && target !== null ? (target as JsonObject)[segment] : undefined;
    if (last === undefined || typeof target !== "object" || target === null || Array.isArray(target)) continue;
    const value = valueAtPointer(source, path);
    if (value === undefined) delete (target as JsonObject)[last];
    else (target as JsonObject)[last] = structuredClone(value);
  }
  return result;
}

export function valueAtPointer(spec: JsonObject, pointer: string): JsonObject[string] | undefined {
  let current: unknown = spec;
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (typeof current !== "object" || current === null || Array.isArray(current)) return undefined;
    current = (current as JsonObject)[segment];
  }
  return current as JsonObject[string] | undefined;
}

/** True when applying the plan would change something in a live system. */
export function planHasChanges(plan: Plan): boolean {
  const { create, update, replace, delete: deletions, orphan } = plan.summary;
  return create + update + replace + deletions + orphan > 0;
}
