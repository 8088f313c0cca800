// Whether an apply may go ahead now, as a pure function of the stack's sync
// policy, its status and who asked: the one place suspension, sync windows,
// sync.auto, selfHeal and a person's override meet.

import type { RenderedStack } from "../stack-model.js";
import { syncAllowed } from "../schedule.js";
import type { StackStatus } from "../state/store.js";

export type ChangeKind = "intentional" | "corrective" | "rollback";

export interface SyncRequest {
  /** A person (a token's name), or null for the agent's own loops. */
  actor: string | null;
  /** The loop that asks: a drift check (refresh included) only re-reads. */
  kind: "sync" | "drift" | "rollback" | "remove";
  /** A person's explicit choice to apply into a suspended stack or a deny window. */
  override?: boolean;
}

/**
 * Why an apply must wait, or undefined when it may go ahead. A person's sync
 * or rollback may apply where sync.auto or selfHeal is off, but not into a
 * suspended stack or a deny window unless they override; a refresh only
 * re-reads, so what it finds is healed only where automatic healing would be.
 */
export function holdReason(
  sync: RenderedStack["definition"]["sync"],
  status: Pick<StackStatus, "suspended">,
  request: SyncRequest,
  change: ChangeKind,
  now: Date = new Date(),
): string | undefined {
  if (request.override === true) return undefined;
  // A rollback suspends the stack itself before it applies.
  if (status.suspended && change !== "rollback") return "the stack is suspended (resume it, or sync with override)";
  const window = syncAllowed(sync.windows, now);
  if (!window.allowed) return `${window.reason}${request.actor === null ? "" : " (sync with override to apply anyway)"}`;
  if (request.actor !== null && request.kind !== "drift") return undefined;
  if (sync.auto !== true) return "sync.auto is off; sync by hand to apply";
  if (change === "corrective" && sync.selfHeal !== true) return "sync.selfHeal is off";
  return undefined;
}
