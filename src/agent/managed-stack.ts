// What the agent keeps per stack between jobs (intervals, backoff, the
// render the drift loop compares against) and the jobs its queue runs.

import type { PlumbError } from "../errors.js";
import type { RenderedStack } from "../stack-model.js";
import { backoffDelay, type Backoff } from "../schedule.js";
import type { PlatformStack, StackOrigin } from "./platform.js";

export type JobKind = "sync" | "drift" | "rollback" | "remove";

export interface Job {
  stack: string;
  kind: JobKind;
  trigger: string;
  actor: string | null;
  /** For rollback: the revision (or render digest) to go back to. */
  revision?: string;
  /** A person's explicit choice to apply although the stack is suspended or a deny window is open. */
  override?: boolean;
  /** For sync: apply only these resources' changes (a selective sync). */
  only?: string[];
}

export interface ManagedStack {
  platform: PlatformStack;
  /** Set when the Stack document itself is unusable (bad interval, bad source). */
  definitionError: PlumbError | undefined;
  intervalMs: number;
  driftIntervalMs: number;
  /** How long resources may stay Progressing after an apply before the stack is Stalled. */
  healthTimeoutMs: number;
  backoff: Backoff;
  nextSyncAt: number;
  nextDriftAt: number;
  failures: number;
  /** A manual sync or a webhook: run even when the revision has not moved. */
  forced: boolean;
  /** The render the drift loop compares against. */
  applied: RenderedStack | undefined;
  /** Where the stack was last read from, to look up commit authors for the audit trail. */
  origin: StackOrigin | undefined;
  /** The newest render, applied or not (a denied one too), for the compliance report. */
  lastRendered: RenderedStack | undefined;
  /** renderKey() of the render last applied in full by this process; unknown after a restart. */
  appliedKey: string | undefined;
}

/** After a failure: retry with backoff, or at the stack's interval once the retry limit is spent. */
export function scheduleRetry(managed: ManagedStack): void {
  managed.failures++;
  managed.forced = true;
  const exhausted = managed.backoff.limit !== undefined && managed.failures > managed.backoff.limit;
  managed.nextSyncAt = Date.now() + (exhausted ? managed.intervalMs : backoffDelay(managed.backoff, managed.failures));
}
