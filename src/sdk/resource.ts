// The Resource noun: KRM-shaped objects, their addresses and the
// plumb.dev/* annotations the engine reads.

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ResourceMetadata {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: ResourceMetadata;
  spec: JsonObject;
}

/** Where a resource (or one of its fields) was written. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export const annotations = {
  provider: "plumb.dev/provider",
  dependsOn: "plumb.dev/depends-on",
  prune: "plumb.dev/prune",
  deletionPolicy: "plumb.dev/deletion-policy",
  /** Kubernetes objects: take over fields another field manager owns (server-side apply's force). */
  forceConflicts: "plumb.dev/force-conflicts",
  /** "true": an object that already exists and that Plumb did not create may be taken over. */
  adopt: "plumb.dev/adopt",
  /** JSON pointers, comma-separated, to fields another writer owns (a mutating webhook, a controller): a difference there is neither a change nor drift. */
  ignoreDifferences: "plumb.dev/ignore-differences",
  /** An integer: lower waves are applied, and healthy, before higher ones start; pruning goes the other way. Default 0. */
  syncWave: "plumb.dev/sync-wave",
  /** pre-sync, post-sync or sync-failed (comma-separated for several): run around a sync instead of kept in step with it. */
  hook: "plumb.dev/hook",
  /** before-creation (the default), on-success, on-failure (comma-separated): when a hook's object is deleted. */
  hookDeletePolicy: "plumb.dev/hook-delete-policy",
} as const;

/**
 * What happens to the live object when its resource leaves the stack (with
 * prune on) or must be replaced: `Delete` removes it; `Retain` stops managing
 * it and leaves it in place. Kinds that hold data default to `Retain`.
 */
export type DeletionPolicy = "Delete" | "Retain";

export const knownAnnotations: readonly string[] = Object.values(annotations);

/** A key as one segment of a JSON pointer (RFC 6901): `~` and `/` escaped. */
export function pointerSegment(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** When a hook (plumb.dev/hook) runs: before any change, after every change is applied and healthy, or when the sync fails. */
export const hookPhases = ["pre-sync", "post-sync", "sync-failed"] as const;
export type HookPhase = (typeof hookPhases)[number];

/** When a hook's object is deleted: just before it is created again (the default), after it succeeded, after it failed. */
export const hookDeletePolicies = ["before-creation", "on-success", "on-failure"] as const;
export type HookDeletePolicy = (typeof hookDeletePolicies)[number];

function listed<Word extends string>(value: string | undefined, words: readonly Word[]): Word[] {
  return (value ?? "")
    .split(",")
    .map((word) => word.trim())
    .filter((word): word is Word => (words as readonly string[]).includes(word));
}

/** The phases a resource runs in as a hook; none for a resource kept in step with the stack. */
export function hookPhasesOf(resourceAnnotations: Record<string, string>): HookPhase[] {
  return listed(resourceAnnotations[annotations.hook], hookPhases);
}

export function hookDeletePoliciesOf(resourceAnnotations: Record<string, string>): HookDeletePolicy[] {
  const policies = listed(resourceAnnotations[annotations.hookDeletePolicy], hookDeletePolicies);
  return policies.length === 0 ? ["before-creation"] : policies;
}

export const defaultProviderInstance = "default";

/** `apiVersion/kind/name`, unique within a stack. */
export function resourceAddress(resource: Pick<Resource, "apiVersion" | "kind"> & { metadata: { name: string } }): string {
  return `${resource.apiVersion}/${resource.kind}/${resource.metadata.name}`;
}

export interface ParsedAddress {
  apiVersion: string;
  group: string;
  version: string;
  kind: string;
  name: string;
}

/**
 * Splits `group/version/Kind/name`. The name is everything after the third
 * slash, so names may themselves contain slashes.
 */
export function parseAddress(address: string): ParsedAddress | undefined {
  const parts = address.split("/");
  // The core Kubernetes group has no name: `v1/ConfigMap/team-a/settings`.
  if (parts.length >= 3 && /^v\d+((alpha|beta)\d+)?$/.test(parts[0] ?? "") && /^[A-Z]/.test(parts[1] ?? "")) {
    const [version, kind] = parts as [string, string];
    const name = parts.slice(2).join("/");
    return name === "" ? undefined : { apiVersion: version, group: "", version, kind, name };
  }
  if (parts.length < 4) return undefined;
  const [group, version, kind] = parts as [string, string, string];
  const name = parts.slice(3).join("/");
  if (group === "" || version === "" || kind === "" || name === "") return undefined;
  return { apiVersion: `${group}/${version}`, group, version, kind, name };
}

/** The API group of an apiVersion (`file.plumb.dev/v1` → `file.plumb.dev`). */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}
