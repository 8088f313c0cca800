// A plan as the API shows it (the plan preview and a sync's dry run): the
// changes only, no no-ops, without the specs they would apply.

import type { Static } from "@sinclair/typebox";
import type { Plan } from "../engine/plan/plan.js";
import type { planPreview } from "./response-schemas.js";

export function previewOfPlan(plan: Plan, revision: string | null): Static<typeof planPreview> {
  return {
    revision,
    summary: plan.summary,
    warnings: plan.warnings,
    changes: plan.changes.filter((change) => change.action !== "noop").map(({ desiredSpec: _desired, targetSpec: _target, ...change }) => change),
  };
}
