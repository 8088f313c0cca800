// Holds a stack's lock in the store for the length of an apply, renewing it
// while work goes on, so two processes never apply the same stack at once.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { PlumbError } from "../../errors.js";
import { currentFence } from "../../state/fence.js";
import { ownIdentity, processAlive } from "../../state/process-identity.js";
import type { LockHolder, Store } from "../../state/store.js";

const lockTtlMs = 60_000;
const renewEveryMs = 20_000;

/**
 * A lock whose holder ran on this host in a process that no longer exists can
 * be taken over: a dead pid, a zombie, or a pid now used by another process.
 */
function holderIsDead(current: LockHolder): boolean {
  const [host, identity] = current.holder.split(":");
  if (host !== hostname() || identity === undefined) return false;
  return !processAlive(identity);
}

/** Prefix of a lock taken by an agent under the stack's lease. */
const agentHolder = "agent/";

export async function withStackLock<Result>(store: Store, stack: string, work: () => Promise<Result>): Promise<Result> {
  const fence = currentFence();
  const underLease = fence?.stack === stack;
  const holder = underLease ? `${agentHolder}${fence.agent}/${fence.epoch}:${randomUUID()}` : `${hostname()}:${ownIdentity()}:${randomUUID()}`;
  // Under the stack's current lease, a lock another agent left (it died or was paused and lost the lease) is stale;
  // a lock of the CLI's is still respected.
  const canSteal = (current: LockHolder) => holderIsDead(current) || (underLease && current.holder.startsWith(agentHolder));
  const attempt = await store.acquireLock(stack, holder, lockTtlMs, canSteal);
  if (!attempt.acquired) {
    throw new PlumbError("PLUMB_STACK_LOCKED", `stack ${stack} is locked by ${attempt.current.holder} since ${attempt.current.acquiredAt}`, {
      location: { stack },
      hint: `another plumb process is applying it; wait for it to finish (the lock expires at ${attempt.current.expiresAt} if that process died)`,
    });
  }
  const timer = setInterval(() => {
    store.renewLock(stack, holder, lockTtlMs).catch(() => undefined);
  }, renewEveryMs);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await store.releaseLock(stack, holder);
  }
}
