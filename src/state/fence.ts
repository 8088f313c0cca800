// Fencing: work an agent does for a stack runs inside that stack's lease, and
// every write the store makes for it checks, in the same transaction, that the
// lease still has this epoch. An agent that slept past its lease (a GC pause,
// SIGSTOP) finds its writes refused instead of overwriting the new holder's.

import { AsyncLocalStorage } from "node:async_hooks";
import { PlumbError } from "../errors.js";

export interface Fence {
  stack: string;
  /** The agent id the lease names. */
  holder: string;
  /** The agent's name, recorded on the runs it makes. */
  agent: string;
  epoch: number;
  /**
   * Throws PLUMB_LEASE_LOST when the holder's own clock says the lease may
   * have run out or it was given up; checked before each change to a live
   * system, where no store transaction can stop a stale agent.
   */
  assertCurrent(): void;
}

const storage = new AsyncLocalStorage<Fence>();

/** Runs `work` (and everything it starts) under `fence`. */
export function runFenced<Result>(fence: Fence, work: () => Promise<Result>): Promise<Result> {
  return storage.run(fence, work);
}

/** The fence of the work running now, if it runs under a lease. */
export function currentFence(): Fence | undefined {
  return storage.getStore();
}

export function leaseLostError(fence: Pick<Fence, "stack" | "epoch">, why: string): PlumbError {
  return new PlumbError(
    "PLUMB_LEASE_LOST",
    `this agent no longer holds stack ${fence.stack} (lease epoch ${fence.epoch}): ${why}; nothing more is written for it`,
    {
      location: { stack: fence.stack },
      hint: "another agent holds the stack now and carries on; if this happens often, the agent is paused or starved for longer than --lease-duration",
    },
  );
}
