// A stack's conditions (Ready, Reconciling, Stalled, Degraded — Flux's set),
// computed from what a reconcile step found. Each outcome the reconciler can
// reach is one case here, so every reason and message lives in this table and
// a new outcome is a new case, not another hand-built set of tuples.

import type { Condition, ConditionType } from "../state/store.js";

/** A condition change: status, reason, message. */
export type ConditionChange = readonly [Condition["status"], string, string];
export type ConditionChanges = Partial<Record<ConditionType, ConditionChange>>;

/** Why a plan or an observe failed, as the Ready and Stalled reasons say it. */
export type PlanFailure = "PolicyDenied" | "ProviderUnavailable" | "PlanFailed";

export type ReconcileOutcome =
  /** The commit loop started. */
  | { kind: "reading-source"; trigger: string }
  /** The source could not be read; `terminal` when retrying will not help (a bad URL, a refused key). */
  | { kind: "source-failed"; message: string; detail: string; terminal: boolean; running: string | null }
  /** The revision does not render; the stack keeps running `running`. */
  | { kind: "render-failed"; revision: string | null; running: string | null; problems: string }
  /** Nothing new: the revision and render applied last. */
  | { kind: "up-to-date" }
  /** A new revision with the same render as the one applied: only the revision moved. */
  | { kind: "revision-recorded"; revision: string; wasReady: boolean }
  /** The render is empty and resources are recorded: nothing is pruned. */
  | { kind: "empty-render"; message: string }
  /** A plan with changes that the sync gate holds (suspended, a deny window, no auto-sync). */
  | { kind: "held"; plan: string; waitReason: string }
  | { kind: "applying"; plan: string; change: string }
  /** `revision` is applied in full. */
  | { kind: "applied"; revision: string }
  /** `revision` is applied but resources are not healthy yet (a rollout under way) or no longer (a failed Job). */
  | { kind: "unhealthy"; revision: string | null; progressing: readonly string[]; degraded: readonly string[]; timedOut: string | undefined }
  | { kind: "apply-failed"; failed: number; failure: string; transient: boolean; transientMessage: string; attempts: number; exhausted: boolean }
  | { kind: "plan-failed"; reason: PlanFailure; message: string; transient: boolean }
  /** The drift loop could not read live state. */
  | { kind: "observe-failed"; message: string }
  /** Drift found and left in place (the sync gate holds healing). */
  | { kind: "drift-left"; count: number; waitReason: string }
  /** Drift reported earlier is gone. */
  | { kind: "drift-cleared"; revision: string | null }
  | { kind: "invalid-definition"; message: string }
  /** A step threw what no step expected; the last guard of the queue. */
  | { kind: "internal-error"; message: string };

export function conditionsFor(outcome: ReconcileOutcome): ConditionChanges {
  switch (outcome.kind) {
    case "reading-source":
      return { Reconciling: ["True", "Progressing", `${outcome.trigger}: reading the source`] };
    case "source-failed":
      return {
        Reconciling: ["False", "SourceUnavailable", ""],
        Degraded: ["True", "SourceUnavailable", `${outcome.message}; keeping revision ${outcome.running ?? "(none applied yet)"}, nothing deleted`],
        ...(outcome.terminal ? { Stalled: ["True", "InvalidSource", outcome.detail] as const } : {}),
      };
    case "render-failed":
      return {
        Reconciling: ["False", "RenderFailed", ""],
        Ready: ["False", "RenderFailed", `revision ${outcome.revision ?? "(local)"} does not render; still running ${outcome.running ?? "nothing"}`],
        Stalled: ["True", "RenderFailed", outcome.problems],
        Degraded: ["False", "SourceAvailable", ""],
      };
    case "up-to-date":
      return { Reconciling: ["False", "UpToDate", ""], Degraded: ["False", "SourceAvailable", ""] };
    case "revision-recorded":
      return {
        Reconciling: ["False", "UpToDate", ""],
        Degraded: ["False", "SourceAvailable", ""],
        // A stack that is not Ready (drift left in place, say) stays as it is.
        ...(outcome.wasReady ? { Ready: ["True", "Succeeded", `revision ${outcome.revision} is applied (nothing in this stack changed)`] as const } : {}),
      };
    case "empty-render":
      return { Reconciling: ["False", "EmptyRender", ""], Ready: ["False", "EmptyRender", outcome.message] };
    case "held":
      return { Reconciling: ["False", "OutOfSync", ""], Ready: ["False", "OutOfSync", `${outcome.plan} waiting: ${outcome.waitReason}`] };
    case "applying":
      return { Reconciling: ["True", "Applying", `${outcome.plan} (${outcome.change})`] };
    case "applied":
      return {
        Reconciling: ["False", "Succeeded", ""],
        Ready: ["True", "Succeeded", `revision ${outcome.revision} is applied`],
        Stalled: ["False", "Succeeded", ""],
        Degraded: ["False", "Succeeded", ""],
      };
    case "unhealthy": {
      const listed = (items: readonly string[]) => `${items.slice(0, 3).join("; ")}${items.length > 3 ? `; and ${items.length - 3} more` : ""}`;
      const waiting = [...outcome.degraded, ...outcome.progressing];
      return {
        Reconciling: ["False", "Succeeded", ""],
        Ready: [
          "False",
          outcome.degraded.length > 0 ? "ResourcesDegraded" : "Progressing",
          `revision ${outcome.revision ?? "(local)"} is applied; ${waiting.length} resource(s) not healthy: ${listed(waiting)}`,
        ],
        Degraded: outcome.degraded.length > 0 ? ["True", "ResourcesDegraded", listed(outcome.degraded)] : ["False", "Succeeded", ""],
        Stalled:
          outcome.timedOut === undefined
            ? ["False", "Succeeded", ""]
            : [
                "True",
                "HealthTimeout",
                `resources still not healthy after ${outcome.timedOut}: ${listed(outcome.progressing)}; a new commit or a manual sync tries again`,
              ],
      };
    }
    case "apply-failed":
      return {
        Reconciling: ["False", "ApplyFailed", ""],
        Ready: ["False", "ApplyFailed", `${outcome.failed} change(s) failed: ${outcome.failure}`],
        Degraded: outcome.transient ? ["True", "ProviderUnavailable", outcome.transientMessage] : ["False", "ApplyFailed", ""],
        Stalled: outcome.exhausted
          ? ["True", "RetriesExhausted", `gave up after ${outcome.attempts} attempts; a new commit or a manual sync tries again`]
          : ["False", "Retrying", ""],
      };
    case "plan-failed":
      return {
        Reconciling: ["False", "Failed", ""],
        Ready: ["False", outcome.reason, outcome.message],
        Degraded: [outcome.transient ? "True" : "False", outcome.reason, outcome.transient ? outcome.message : ""],
        Stalled: [outcome.transient ? "False" : "True", outcome.reason, outcome.transient ? "" : outcome.message],
      };
    case "observe-failed":
      return { Degraded: ["True", "ObserveFailed", outcome.message] };
    case "drift-left":
      return { Ready: ["False", "Drifted", `${outcome.count} resource(s) drifted; not healed: ${outcome.waitReason}`] };
    case "drift-cleared":
      return { Ready: ["True", "Succeeded", `revision ${outcome.revision ?? ""} is applied`] };
    case "invalid-definition":
      return { Ready: ["False", "InvalidDefinition", outcome.message], Stalled: ["True", "InvalidDefinition", outcome.message] };
    case "internal-error":
      return { Reconciling: ["False", "Failed", ""], Stalled: ["True", "InternalError", outcome.message] };
  }
}
