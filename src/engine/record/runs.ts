// The record stage's run records: a run is written as `running` (with the
// stack it belongs to) before its first change, so a killed run stays
// visible, and is finished with its result and a closing event.

import { randomUUID } from "node:crypto";
import type { RenderedStack } from "../../stack-model.js";
import type { PlanSummary, Store } from "../../state/store.js";
import type { ApplyResult } from "../apply/apply.js";

export interface RunStart {
  trigger: string;
  revision: string | null;
  actor: string | null;
}

/** Records the stack and a new running run of `summary`; returns the run's id. */
export async function startRun(store: Store, rendered: RenderedStack, summary: PlanSummary, start: RunStart): Promise<string> {
  const runId = randomUUID();
  const stack = rendered.definition.name;
  await store.saveStack({
    name: stack,
    directory: rendered.directory,
    environment: rendered.definition.environment ?? null,
    definition: JSON.parse(JSON.stringify(rendered.definition)),
  });
  await store.createRun({
    id: runId,
    stack,
    trigger: start.trigger,
    revision: start.revision,
    digest: rendered.digest,
    environment: rendered.definition.environment ?? null,
    planSummary: summary,
    result: "running",
    error: null,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    actor: start.actor,
  });
  await store.appendEvents([{ stack, runId, address: null, type: "run.started", message: `apply started (${start.trigger})` }]);
  return runId;
}

/** Finishes a run with what apply did, or with the error that stopped it before it could say. */
export async function finishRun(store: Store, stack: string, runId: string, summary: PlanSummary, outcome: ApplyResult | Error): Promise<void> {
  if (outcome instanceof Error) {
    await store.finishRun(runId, "failed", outcome.message, summary);
    return;
  }
  const failedText = outcome.failed === 0 ? null : `${outcome.failed} change(s) failed, ${outcome.skipped} skipped`;
  await store.finishRun(runId, outcome.failed === 0 ? "succeeded" : "failed", failedText, summary);
  await store.appendEvents([{ stack, runId, address: null, type: "run.finished", message: failedText ?? `apply succeeded: ${outcome.succeeded} change(s)` }]);
}
