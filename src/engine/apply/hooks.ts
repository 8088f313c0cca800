// Sync hooks (plumb.dev/hook): resources run around a sync instead of kept in
// step with it — pre-sync before any change, post-sync once every change is
// applied and healthy, sync-failed when the sync fails. Each hook is created,
// waited on until healthy (a Job until it completes) within the stack's
// healthTimeout, and deleted as its plumb.dev/hook-delete-policy says. Every
// create and delete of a hook is a change of the run, journaled and on the
// audit trail like any other; the store keeps no resource record of a hook,
// so it is never drift, never pruned and never counts toward the stack's health.

import { PlumbError } from "../../errors.js";
import { hookDeletePoliciesOf, hookPhasesOf, type HookPhase } from "../../sdk/resource.js";
import type { DesiredResource } from "../../stack-model.js";
import type { EventInput } from "../../state/store.js";
import { observe } from "../observe/observe.js";
import type { ResourceChange } from "../plan/plan.js";
import { syncWaveOf } from "../plan/plan.js";
import { executeChange, type ApplyContext, type ChangeOutcome } from "./apply.js";
import { waitUntilHealthy } from "./sync-waves.js";

export function isHook(resource: { annotations: Record<string, string> }): boolean {
  return hookPhasesOf(resource.annotations).length > 0;
}

export interface HookRun {
  outcomes: ChangeOutcome[];
  /** Why the phase failed; undefined when every hook of it succeeded. */
  failure?: string;
}

function changeOf(hook: DesiredResource, action: "create" | "replace" | "delete", phase: HookPhase): ResourceChange & { action: typeof action } {
  return {
    address: hook.address,
    apiVersion: hook.apiVersion,
    kind: hook.kind,
    name: hook.name,
    provider: hook.provider,
    action,
    reason: `${phase} hook`,
    diffs: [],
    dependsOn: [],
    ...(action === "delete" ? {} : { desiredSpec: hook.spec }),
    targetSpec: hook.spec,
    prune: true,
    deletionPolicy: "Delete",
    drift: false,
    recordStale: false,
    liveHash: null,
  };
}

/**
 * Runs the hooks of `phase` one after another, lowest sync wave first; the
 * first that fails ends the phase.
 */
export async function runHooks(phase: HookPhase, hooks: readonly DesiredResource[], context: ApplyContext): Promise<HookRun> {
  const ofPhase = hooks
    .filter((hook) => hookPhasesOf(hook.annotations).includes(phase))
    .sort((a, b) => syncWaveOf(a) - syncWaveOf(b) || (a.address < b.address ? -1 : 1));
  const outcomes: ChangeOutcome[] = [];
  const events: EventInput[] = [];
  const event = (hook: DesiredResource, type: string, message: string) =>
    events.push({ stack: context.stack, runId: context.runId, address: hook.address, type, message });
  try {
    for (const hook of ofPhase) {
      const policies = hookDeletePoliciesOf(hook.annotations);
      const { live, errors } = await observe([{ ...hook, desired: hook.spec }], context.connections);
      const exists = errors.length === 0 && live.get(hook.address) !== null && live.get(hook.address) !== undefined;
      if (exists && !policies.includes("before-creation")) {
        const failure = `${phase} hook ${hook.address} is still there from an earlier sync; it is not run again without delete policy before-creation`;
        event(hook, "hook.failed", failure);
        return { outcomes, failure };
      }
      const created = changeOf(hook, exists ? "replace" : "create", phase);
      const outcome = await executeChange(created, { ...context, live: new Map([[hook.address, live.get(hook.address) ?? null]]) }, events, false);
      const unhealthy =
        outcome.status === "succeeded"
          ? await waitUntilHealthy([created], context.connections, context.waveHealthTimeoutMs ?? 600_000, context.signal)
          : (outcome.error?.message ?? "it could not be created");
      const succeeded = unhealthy === undefined;
      event(hook, succeeded ? "hook.succeeded" : "hook.failed", succeeded ? `${phase} hook succeeded` : `${phase} hook failed: ${unhealthy}`);
      // Created but never healthy: the hook failed, and the run says so at the hook.
      outcomes.push(
        succeeded || outcome.status !== "succeeded"
          ? outcome
          : {
              ...outcome,
              status: "failed",
              error: new PlumbError("PLUMB_HOOK_FAILED", `${phase} hook failed: ${unhealthy}`, {
                location: { stack: context.stack, resource: hook.address },
                hint: "read the hook's own status and logs, fix it, and sync again",
              }),
            },
      );
      if (outcome.status === "succeeded" && policies.includes(succeeded ? "on-success" : "on-failure"))
        outcomes.push(await executeChange(changeOf(hook, "delete", phase), context, events, false));
      if (!succeeded) return { outcomes, failure: `${phase} hook ${hook.address} failed: ${unhealthy}` };
    }
    return { outcomes };
  } finally {
    await context.store.appendEvents(events);
  }
}
