// The apply stage: walks the plan's dependency graph with bounded concurrency
// per provider instance. Each change is journaled before it is made and its
// outcome after, so a process killed mid-apply leaves a record the next run
// resolves. A failure stops only the changes that depend on it.

import { errorMessage, PlumbError } from "../../errors.js";
import { backoffDelay, type Backoff } from "../../schedule.js";
import type { AnyKindHandler, LiveObject, Target } from "../../sdk/provider.js";
import { currentFence } from "../../state/fence.js";
import type { EventInput, JournalIntent, RecordedResource, Store } from "../../state/store.js";
import { Semaphore } from "../../sdk/concurrency.js";
import type { ProviderConnections } from "../connections.js";
import { asResourceError } from "../observe/observe.js";
import type { Plan, ResourceChange } from "../plan/plan.js";
import { hasWaves, stagesOf, waitUntilHealthy } from "./sync-waves.js";
import { recordFor } from "../record/resource-records.js";
import { auditOfChange, type ChangeAuditContext } from "../record/audit-events.js";

export interface ApplyContext {
  store: Store;
  connections: ProviderConnections;
  stack: string;
  runId: string;
  /** Changes in flight at once per provider instance. */
  concurrency: number;
  /** Live objects as observed for the plan; updates start from them. */
  live: ReadonlyMap<string, LiveObject | null>;
  onProgress?: (progress: ApplyProgress) => void;
  /** Attempts for a transient provider error before the change counts as failed. */
  attempts?: number;
  /** Who makes these changes and why: each change's audit event commits with its journal entry. */
  audit: ChangeAuditContext;
  /** How long a sync wave may take to become healthy before the later ones are given up. Default 10 minutes. */
  waveHealthTimeoutMs?: number;
  /** Aborted: a wait for a wave's health gives up (the agent is stopping). */
  signal?: AbortSignal;
}

export type OutcomeStatus = "succeeded" | "failed" | "skipped";

export interface ApplyProgress {
  address: string;
  action: ResourceChange["action"];
  status: OutcomeStatus;
  /** How many changes have finished, of `total`. */
  done: number;
  total: number;
  durationMs: number;
  error?: PlumbError;
  blockedBy?: string;
}

export interface ChangeOutcome {
  address: string;
  action: ResourceChange["action"];
  status: OutcomeStatus;
  error?: PlumbError;
  /** The failed change that kept this one from running. */
  blockedBy?: string;
}

export interface ApplyResult {
  outcomes: ChangeOutcome[];
  succeeded: number;
  failed: number;
  skipped: number;
  /** No-op resources whose store record was written or refreshed. */
  recorded: number;
  /** Resources Plumb stopped managing, leaving their live objects in place. */
  orphaned: number;
}

const transientCodes = new Set(["EBUSY", "EAGAIN", "ETIMEDOUT", "ECONNRESET", "ECONNREFUSED", "EMFILE", "ENFILE"]);

function isTransient(error: unknown): boolean {
  if (error instanceof PlumbError) return error.disposition === "transient";
  return typeof error === "object" && error !== null && "code" in error && transientCodes.has(String(error.code));
}

export const pastTense = { create: "created", update: "updated", replace: "replaced", delete: "deleted" } as const;

export async function applyPlan(plan: Plan, context: ApplyContext): Promise<ApplyResult> {
  const recorded = await recordNoops(plan, context);
  const orphaned = plan.changes.filter((change) => change.action === "orphan");
  await context.store.removeResources(
    context.stack,
    orphaned.map((change) => change.address),
  );
  const orphanEvents: EventInput[] = orphaned.map((change) => ({
    stack: context.stack,
    runId: context.runId,
    address: change.address,
    type: "resource.orphaned",
    message: "no longer managed; the live object is left in place (deletion policy Retain)",
  }));
  const work = plan.changes.filter((change): change is ResourceChange & { action: keyof typeof pastTense } => change.action in pastTense);
  const byAddress = new Map(work.map((change) => [change.address, change]));
  const deletionsWaitingOn = new Map<string, string[]>();
  for (const change of work) {
    if (change.action !== "delete") continue;
    // A deletion waits until everything that depended on it is deleted.
    for (const dependency of change.dependsOn) {
      if (byAddress.get(dependency)?.action !== "delete") continue;
      const list = deletionsWaitingOn.get(dependency) ?? [];
      list.push(change.address);
      deletionsWaitingOn.set(dependency, list);
    }
  }
  // Sync waves: a change starts once every earlier stage is applied (and, for applies, healthy); inside a
  // stage the graph orders it. A dependency in another stage is left to the stages, so they never wait on each other.
  const stages = hasWaves(work) ? stagesOf(work) : [];
  const stageIndex = new Map(stages.flatMap((group, index) => group.members.map((change) => [change.address, index] as const)));
  const sameStage = (change: ResourceChange, dependency: string) => stages.length === 0 || stageIndex.get(dependency) === stageIndex.get(change.address);
  const waitsFor = (change: ResourceChange): string[] =>
    (change.action === "delete"
      ? (deletionsWaitingOn.get(change.address) ?? [])
      : change.dependsOn.filter((dependency) => {
          const action = byAddress.get(dependency)?.action;
          return action !== undefined && action !== "delete";
        })
    ).filter((dependency) => sameStage(change, dependency));
  const gates = new Map<number, Promise<string | undefined>>();
  /** Resolves once stage `index` and all before it are done (and healthy); with why not, when one is not. */
  const gate = (index: number): Promise<string | undefined> => {
    let promise = gates.get(index);
    if (promise === undefined) {
      const group = stages[index] as (typeof stages)[number];
      promise = (async () => {
        const before = index > 0 ? await gate(index - 1) : undefined;
        if (before !== undefined) return before;
        const settled = await Promise.all(group.members.map((change) => outcomes.get(change.address)));
        const what = group.stage.deletions ? `deletions of wave ${group.stage.wave}` : `wave ${group.stage.wave}`;
        const failed = settled.find((outcome) => outcome !== undefined && outcome.status !== "succeeded");
        if (failed !== undefined) return `${what} did not finish: ${failed.blockedBy ?? failed.address} ${failed.status}`;
        if (group.stage.deletions) return undefined;
        const unhealthy = await waitUntilHealthy(group.members, context.connections, context.waveHealthTimeoutMs ?? 600_000, context.signal);
        return unhealthy === undefined ? undefined : `${what} is not healthy: ${unhealthy}`;
      })();
      gates.set(index, promise);
    }
    return promise;
  };

  const semaphores = new Map<string, Semaphore>();
  const semaphoreFor = (instance: string) => {
    let semaphore = semaphores.get(instance);
    if (semaphore === undefined) {
      semaphore = new Semaphore(context.concurrency);
      semaphores.set(instance, semaphore);
    }
    return semaphore;
  };

  const outcomes = new Map<string, Promise<ChangeOutcome>>();
  const events: EventInput[] = orphanEvents;
  let done = 0;
  const finish = (change: ResourceChange, outcome: ChangeOutcome, startedAt: number): ChangeOutcome => {
    done++;
    context.onProgress?.({
      address: change.address,
      action: change.action,
      status: outcome.status,
      done,
      total: work.length,
      durationMs: Date.now() - startedAt,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
      ...(outcome.blockedBy === undefined ? {} : { blockedBy: outcome.blockedBy }),
    });
    return outcome;
  };

  const visiting = new Set<string>();
  const outcomeOf = (address: string): Promise<ChangeOutcome> | undefined => {
    const existing = outcomes.get(address);
    if (existing !== undefined) return existing;
    const change = byAddress.get(address);
    // A cycle among recorded dependencies of deletions cannot be ordered; do not wait on it.
    if (change === undefined || visiting.has(address)) return undefined;
    visiting.add(address);
    const dependencies = waitsFor(change)
      .map(outcomeOf)
      .filter((outcome): outcome is Promise<ChangeOutcome> => outcome !== undefined);
    visiting.delete(address);
    const promise = (async (): Promise<ChangeOutcome> => {
      const settled = await Promise.all(dependencies);
      const index = stageIndex.get(address) ?? 0;
      const held = index > 0 ? await gate(index - 1) : undefined;
      const startedAt = Date.now();
      if (held !== undefined) {
        const error = new PlumbError("PLUMB_DEPENDENCY_FAILED", `not ${pastTense[change.action]}: ${held}`, {
          location: { stack: context.stack, resource: address },
          hint: "fix the earlier wave (or its health) and sync again",
        });
        events.push({ stack: context.stack, runId: context.runId, address, type: "resource.skipped", message: error.message });
        return finish(change, { address, action: change.action, status: "skipped", error }, startedAt);
      }
      const blocker = settled.find((outcome) => outcome.status !== "succeeded");
      if (blocker !== undefined) {
        const blockedBy = blocker.blockedBy ?? blocker.address;
        const error = new PlumbError("PLUMB_DEPENDENCY_FAILED", `not ${pastTense[change.action]}: it depends on ${blockedBy}, which failed`, {
          location: { stack: context.stack, resource: address },
          hint: `fix ${blockedBy} and apply again`,
        });
        events.push({ stack: context.stack, runId: context.runId, address, type: "resource.skipped", message: error.message });
        return finish(change, { address, action: change.action, status: "skipped", blockedBy, error }, startedAt);
      }
      const semaphore = semaphoreFor(change.provider);
      await semaphore.acquire();
      try {
        const outcome = await executeChange(change, context, events);
        return finish(change, outcome, startedAt);
      } finally {
        semaphore.release();
      }
    })();
    outcomes.set(address, promise);
    return promise;
  };

  for (const change of work) outcomeOf(change.address);
  // Every change in flight settles before the apply ends, also when one of them could not be recorded
  // (the store went away, the lease was lost): nothing of this run may still be writing when the next begins.
  const settled = await Promise.allSettled(work.map((change) => outcomes.get(change.address) as Promise<ChangeOutcome>));
  const broken = settled.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (broken !== undefined) throw broken.reason;
  const results = settled.map((result) => (result as PromiseFulfilledResult<ChangeOutcome>).value);
  await context.store.appendEvents(events);
  return {
    outcomes: results,
    succeeded: results.filter((outcome) => outcome.status === "succeeded").length,
    failed: results.filter((outcome) => outcome.status === "failed").length,
    skipped: results.filter((outcome) => outcome.status === "skipped").length,
    recorded,
    orphaned: orphaned.length,
  };
}

/** Writes store records for resources that already match but whose record is missing or stale. */
async function recordNoops(plan: Plan, context: ApplyContext): Promise<number> {
  const records: RecordedResource[] = [];
  for (const change of plan.changes) {
    if (change.action !== "noop" || !change.recordStale || change.desiredSpec === undefined) continue;
    const live = context.live.get(change.address);
    if (live === undefined || live === null) continue;
    records.push(
      recordFor({ ...change, stack: context.stack }, change.desiredSpec, live, context.connections.handler(change.apiVersion, change.kind), context.runId),
    );
  }
  await context.store.putResources(records);
  return records.length;
}

export function journalIntent(change: ResourceChange, audit?: ChangeAuditContext): JournalIntent {
  return {
    ...(audit === undefined ? {} : { audit }),
    apiVersion: change.apiVersion,
    kind: change.kind,
    name: change.name,
    provider: change.provider,
    targetSpec: change.targetSpec,
    ...(change.desiredSpec === undefined ? {} : { desiredSpec: change.desiredSpec }),
    dependsOn: change.dependsOn,
    prune: change.prune,
    deletionPolicy: change.deletionPolicy,
  };
}

/**
 * Makes one change, journaled before and after. `keepRecord: false` (a sync
 * hook) leaves the store's resource records alone: the change is journaled
 * and audited, but the object is not one the stack keeps in step.
 */
export async function executeChange(
  change: ResourceChange & { action: keyof typeof pastTense },
  context: ApplyContext,
  events: EventInput[],
  keepRecord = true,
): Promise<ChangeOutcome> {
  const { store, stack, runId } = context;
  let handler: AnyKindHandler;
  let connection: unknown;
  try {
    handler = context.connections.handler(change.apiVersion, change.kind);
    connection = (await context.connections.get(change.provider, change.address)).connection;
  } catch (error) {
    const failure = asResourceError(error, change.address);
    events.push({ stack, runId, address: change.address, type: "resource.failed", message: failure.message });
    return { address: change.address, action: change.action, status: "failed", error: failure };
  }
  const intent = { ...journalIntent(change, context.audit), ...(keepRecord ? {} : { hook: true }) };
  const journalId = await store.addJournalEntry({ runId, stack, address: change.address, action: change.action, intent });
  const current: Target = { address: change.address, name: change.name, spec: change.targetSpec };
  const desired: Target | undefined =
    change.desiredSpec === undefined
      ? undefined
      : {
          address: change.address,
          name: change.name,
          spec: change.desiredSpec,
          ...(change.drift ? { corrective: true } : {}),
          ...(change.adopt === true ? { adopting: true } : {}),
        };
  try {
    const live = await withRetries(context.attempts ?? 3, async () => {
      // The last moment an agent that lost its lease (it was paused) can be stopped before it touches a live system.
      currentFence()?.assertCurrent();
      switch (change.action) {
        case "create":
          return handler.create(connection, desired as Target);
        case "update": {
          const observed = context.live.get(change.address);
          return observed === null || observed === undefined
            ? handler.create(connection, desired as Target)
            : handler.update(connection, desired as Target, observed);
        }
        case "replace":
          await handler.delete(connection, current);
          return handler.create(connection, desired as Target);
        case "delete":
          await handler.delete(connection, current);
          return null;
      }
    });
    const fields = change.diffs.map((diff) => diff.path);
    const message = `${pastTense[change.action]}${change.drift ? " (drift corrected)" : ""}`;
    const audit = auditOfChange(change, stack, context.audit);
    if (!keepRecord) {
      await store.completeJournalEntry(journalId, "applied", message, { none: true }, audit);
    } else if (live === null) {
      await store.completeJournalEntry(journalId, "applied", message, { remove: { stack, address: change.address } }, audit);
    } else {
      const record = recordFor({ ...change, stack }, change.desiredSpec ?? change.targetSpec, live, handler, runId);
      await store.completeJournalEntry(journalId, "applied", message, { put: record }, audit);
    }
    events.push({ stack, runId, address: change.address, type: `resource.${pastTense[change.action]}`, message, data: { fields, drift: change.drift } });
    return { address: change.address, action: change.action, status: "succeeded" };
  } catch (error) {
    const failure = asResourceError(error, change.address);
    await store.completeJournalEntry(journalId, "failed", errorMessage(failure), { none: true });
    events.push({ stack, runId, address: change.address, type: "resource.failed", message: failure.message });
    return { address: change.address, action: change.action, status: "failed", error: failure };
  }
}

/** A transient provider error within one change: a short backoff of its own, through the one backoff rule the scheduler uses. */
const changeBackoff: Backoff = { limit: undefined, initialMs: 100, factor: 2, maxMs: 2_000 };

async function withRetries<Result>(attempts: number, operation: () => Promise<Result>): Promise<Result> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(changeBackoff, attempt)));
    }
  }
}
