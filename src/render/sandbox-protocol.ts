// What the agent and the sandboxed child say to each other: one JSON request
// on stdin, one JSON answer on file descriptor 3, both tagged with the
// protocol's version. Types only, apart from the version tag, so the child's
// bundle carries nothing else from here.

import type { ResourceView, StackContext } from "../sdk/program.js";

import type { SourceSite } from "../sdk/program-scope.js";

export const sandboxProtocol = "plumb.sandbox/v1";

/** A claim read from YAML, sent in by the parent. */
export interface InputClaim {
  apiVersion: string;
  kind: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: unknown;
  /** Index in the parent's list, so it can point at the YAML document. */
  input: number;
}

export type SandboxRequest =
  | { mode: "describe" }
  | {
      mode: "render";
      context: StackContext;
      program: boolean;
      claims: InputClaim[];
      /** The stack's YAML resources, for the platform's policy rules. */
      resources: ResourceView[];
      maxDepth: number;
    };

export interface DescribedComposite {
  file: string;
  apiVersion: string;
  kind: string;
  description: string;
  schema: unknown;
  examples: unknown[];
}

export interface DescribedRule {
  file: string;
  name: string;
  level: "deny" | "warn" | "remediate";
  scope: "resource" | "stack";
  description: string;
}

/** A rule's finding; `fix` (JSON pointer → value) only from a remediate rule. */
export interface RuleViolation {
  rule: string;
  level: "deny" | "warn" | "remediate";
  address: string;
  message: string;
  hint: string;
  fix: Record<string, unknown> | null;
}

export interface EmittedResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: unknown;
  site: SourceSite | null;
  /** The claim it was composed from. */
  composite: string | null;
  /** Set when the resource is an input claim itself (never for provider resources). */
  input: number | null;
}

export interface EmittedClaim extends EmittedResource {
  address: string;
}

export interface ClaimProblem {
  claim: string;
  /** Path inside the claim's spec. */
  path: (string | number)[];
  message: string;
  hint?: string;
  site: SourceSite | null;
  input: number | null;
}

export type SandboxAnswer =
  | {
      protocol: typeof sandboxProtocol;
      ok: true;
      composites: DescribedComposite[];
      rules: DescribedRule[];
      resources: EmittedResource[];
      claims: EmittedClaim[];
      problems: ClaimProblem[];
      violations: RuleViolation[];
    }
  | { protocol: typeof sandboxProtocol; ok: false; error: { message: string; site: SourceSite | null } };

export interface SandboxModules {
  program?: () => Promise<{ default?: unknown }>;
  /** The platform's `*.composite.ts` and `*.rule.ts` modules. */
  platform: { file: string; load: () => Promise<{ default?: unknown }> }[];
}
