// Resolves journal entries left pending by a run that was killed mid-apply:
// re-observe each object, adopt what was made, and leave the rest for the plan
// to retry, so a crash leaves neither orphans nor duplicates.

import { errorMessage } from "../../errors.js";
import type { EventInput, JournalEntry, ResourceEffect, Store } from "../../state/store.js";
import type { ProviderConnections } from "../connections.js";
import { diffManagedFields } from "../plan/diff.js";
import { recordFor } from "../record/resource-records.js";
import { auditOfRecovered } from "../record/audit-events.js";

export type Resolution = "adopted" | "not-applied" | "deleted" | "still-present" | "unresolvable";

export interface ResolvedEntry {
  address: string;
  action: JournalEntry["action"];
  resolution: Resolution;
  message: string;
}

export async function resolvePendingJournal(store: Store, stack: string, connections: ProviderConnections): Promise<ResolvedEntry[]> {
  // The caller holds the stack's lock, so any run still marked running was cut off.
  const interruptedRuns = await store.interruptRuns(stack);
  const pending = await store.pendingJournalEntries(stack);
  if (pending.length === 0) return [];
  const resolved: ResolvedEntry[] = [];
  for (const entry of pending) {
    const result = await resolveEntry(entry, connections);
    // What the interrupted run did make goes on the audit trail now, marked as recovered; what it did not make is planned again.
    const made = result.made;
    const audit = made ? [auditOfRecovered(stack, entry.address, entry.action, result.resolution, result.message, entry.intent.audit)] : [];
    // A hook keeps no resource record, also when its run was cut off.
    const effect: ResourceEffect = entry.intent.hook === true ? { none: true } : result.effect;
    await store.completeJournalEntry(entry.id, "resolved", `${result.resolution}: ${result.message}`, effect, audit);
    resolved.push({ address: entry.address, action: entry.action, resolution: result.resolution, message: result.message });
  }
  const events: EventInput[] = resolved.map((entry) => ({
    stack,
    runId: null,
    address: entry.address,
    type: "journal.resolved",
    message: `interrupted ${entry.action} resolved: ${entry.resolution} (${entry.message})`,
  }));
  events.push({
    stack,
    runId: null,
    address: null,
    type: "run.recovered",
    message: `resolved ${resolved.length} pending journal entr${resolved.length === 1 ? "y" : "ies"} from interrupted run(s) ${interruptedRuns.join(", ")}`,
  });
  await store.appendEvents(events);
  return resolved;
}

/** `made`: the interrupted change did happen (the object is as intended, or gone for a delete). */
async function resolveEntry(
  entry: JournalEntry,
  connections: ProviderConnections,
): Promise<{ resolution: Resolution; message: string; effect: ResourceEffect; made: boolean }> {
  const { intent } = entry;
  try {
    const handler = connections.handler(intent.apiVersion, intent.kind);
    const { connection } = await connections.get(intent.provider, entry.address);
    const read = (spec: typeof intent.targetSpec) => handler.read(connection, { address: entry.address, name: intent.name, spec });
    if (entry.action === "delete") {
      const live = await read(intent.targetSpec);
      if (live === null)
        return {
          resolution: "deleted",
          message: "the object is gone; its record is dropped",
          effect: { remove: { stack: entry.stack, address: entry.address } },
          made: true,
        };
      return { resolution: "still-present", message: "the object still exists; the next plan decides again", effect: { none: true }, made: false };
    }
    const desiredSpec = intent.desiredSpec ?? intent.targetSpec;
    const live = await read(desiredSpec);
    if (live === null)
      return { resolution: "not-applied", message: "the change did not happen; the next plan makes it again", effect: { none: true }, made: false };
    const record = recordFor({ ...intent, stack: entry.stack, address: entry.address }, desiredSpec, live, handler, entry.runId);
    const differing = diffManagedFields(desiredSpec, live.spec, undefined, []);
    const message =
      differing.length === 0
        ? "the object exists as intended and is recorded"
        : `the object exists but ${differing.map((diff) => diff.path.slice(1)).join(", ")} differ; it is recorded and the next plan updates it`;
    return { resolution: "adopted", message, effect: { put: record }, made: differing.length === 0 };
  } catch (error) {
    return { resolution: "unresolvable", message: `could not re-observe: ${errorMessage(error)}`, effect: { none: true }, made: false };
  }
}
