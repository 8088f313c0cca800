// The enrich/policy stage, between render and observe: writes the platform's
// compliance metadata into every resource that can carry tags, gathers what
// the rules found (the TypeScript rules already ran in render's sandbox, the
// CEL rules run here), and stops the sync on a deny, before any live system
// is read, naming the file and line render recorded.

import { PlumbErrorList } from "../errors.js";
import type { Violation } from "../policy-finding.js";
import type { DesiredResource, RenderedStack } from "../stack-model.js";
import type { RecordedResource } from "../state/store.js";
import { enrichResources, violationErrors, type CompliancePolicy } from "./compliance.js";

/** The platform's compliance policy and where this render came from. */
export interface ComplianceOptions {
  policy: CompliancePolicy;
  source: string;
  commit: { sha: string; author: string } | null;
}

export interface PolicyStageResult {
  /** The resources with their metadata written in. */
  resources: DesiredResource[];
  /** Every finding that does not deny: warnings and remediations. */
  findings: Violation[];
}

/**
 * Runs the stage over `resources` (the render's, with references resolved);
 * throws the denials as one PlumbErrorList.
 */
export function runPolicyStage(
  rendered: RenderedStack,
  resources: readonly DesiredResource[],
  recorded: ReadonlyMap<string, RecordedResource>,
  compliance: ComplianceOptions | undefined,
  tagFieldOf: (resource: DesiredResource) => string | undefined,
): PolicyStageResult {
  const stack = rendered.definition.name;
  const violations = [...(rendered.policyViolations ?? [])];
  let enriched = [...resources];
  if (compliance !== undefined) {
    const result = enrichResources(
      resources,
      recorded,
      compliance.policy,
      { stack, source: compliance.source, commit: compliance.commit, metadata: rendered.definition.metadata },
      tagFieldOf,
    );
    enriched = result.resources;
    violations.push(...result.violations);
  }
  const denied = violationErrors(violations, enriched, stack);
  if (denied.length > 0) throw new PlumbErrorList(denied);
  return { resources: enriched, findings: violations.filter((violation) => violation.level !== "deny") };
}
