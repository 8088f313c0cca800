// The nouns every stage after render shares: a desired resource, a rendered
// stack and a composite claim as render reports them. Render makes them;
// policy, the engine stages, the agent and the API read them.

import type { Violation } from "./policy-finding.js";
import type { DeletionPolicy, JsonObject } from "./sdk/resource.js";
import type { StackDefinition } from "./stack-definition.js";

/** One resource as the engine sees it after render. */
export interface DesiredResource {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: JsonObject;
  /** The provider instance (a key of the Stack's `providers`). */
  provider: string;
  /** Addresses this resource waits for: explicit depends-on plus implicit ones. */
  dependsOn: string[];
  /** False when `plumb.dev/prune: "false"` protects it from deletion. */
  prune: boolean;
  deletionPolicy: DeletionPolicy;
  /**
   * The file and the document in it (0-based, empty documents counted) that
   * declared it, and the line: where the YAML document's content starts, or
   * the line of TypeScript that declared it.
   */
  origin: { file: string; document: number; line?: number };
  /** The composite claim it was composed from, or null. */
  composite: string | null;
}

export interface RenderedStack {
  directory: string;
  definition: StackDefinition;
  /** In dependency order: every resource after the ones it depends on. */
  resources: DesiredResource[];
  /** The YAML files read (and main.ts), relative to the directory. */
  files: string[];
  /** Composite claims, with the addresses of what each composed. */
  claims: RenderedClaim[];
  /** What the platform's TypeScript policy rules found; remediations are already in the specs. */
  policyViolations: Violation[];
  /** A hash of the desired graph; identifies what was rendered when there is no commit. */
  digest: string;
}

/** A claim as render reports it: for the store, the API and the dashboard's resource tree. */
export interface RenderedClaim {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  spec: JsonObject;
  /** The claim it was composed from, for nested composites. */
  composite: string | null;
  /** Addresses of what it composed directly (resources and claims). */
  children: string[];
  /** A YAML claim's file and document index; a declared claim's file and line. */
  origin: { file: string; document?: number; line?: number };
}
