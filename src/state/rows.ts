// How the store's records map to table rows and back: JSON columns encoded
// and parsed (a damaged value says which row and column), booleans and
// numbers normalised across SQLite and PostgreSQL.

import { PlumbError } from "../errors.js";
import type { Selectable } from "kysely";
import type { HealthStatus } from "../sdk/provider.js";
import type { JsonObject } from "../sdk/resource.js";
import type { EventsTable, JournalTable, ResourcesTable, RunsTable, StackStatusTable } from "./schema.js";
import type {
  ChangeAction,
  EventRecord,
  JournalEntry,
  JournalState,
  PlanSummary,
  RecordedResource,
  ResourceStatus,
  RunRecord,
  StackStatus,
  Condition,
  DriftSummary,
  RunResult,
} from "./store.js";

export const now = () => new Date().toISOString();
/** Rows per multi-row insert: well under SQLite's bound-parameter limit. */
export const insertChunk = 200;

/** `items` in slices of insertChunk, to keep each statement's parameters bounded. */
export function chunked<Item>(items: readonly Item[]): Item[][] {
  const parts: Item[][] = [];
  for (let start = 0; start < items.length; start += insertChunk) parts.push(items.slice(start, start + insertChunk));
  return parts;
}

export function toResourceRow(record: RecordedResource): ResourcesTable {
  return {
    stack: record.stack,
    address: record.address,
    api_version: record.apiVersion,
    kind: record.kind,
    name: record.name,
    provider: record.provider,
    applied_spec: JSON.stringify(record.appliedSpec),
    managed_fields: JSON.stringify(record.managedFields),
    outputs: JSON.stringify(record.outputs),
    live_hash: record.liveHash,
    status: record.status,
    health: record.health,
    depends_on: JSON.stringify(record.dependsOn),
    prune: record.prune ? 1 : 0,
    deletion_policy: record.deletionPolicy,
    last_run_id: record.lastRunId,
    updated_at: record.updatedAt,
  };
}

/**
 * A JSON column as stored; one that does not parse (edited by hand, a bad
 * disk) is named with its row, so the damage can be found and repaired.
 */
export function parseStored(
  text: string,
  column: string,
  row: { stack?: string; name?: string; address?: string | null; sequence?: number | string; id?: string | number },
): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const identity = [
      row.stack === undefined ? (row.name === undefined ? undefined : `stack ${row.name}`) : `stack ${row.stack}`,
      row.address ?? undefined,
      row.sequence === undefined ? undefined : `audit event #${row.sequence}`,
      row.id === undefined ? undefined : `row ${row.id}`,
    ]
      .filter((part) => part !== undefined)
      .join(", ");
    throw new PlumbError(
      "PLUMB_STORE_CORRUPT",
      `the state store's ${column} of ${identity} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`,
      {
        location: {
          ...(row.stack === undefined ? {} : { stack: row.stack }),
          ...(row.address === undefined || row.address === null ? {} : { resource: row.address }),
        },
        hint: "the store was edited or damaged: restore it from a backup, or remove that row and apply again",
      },
    );
  }
}

export function fromResourceRow(row: Selectable<ResourcesTable>): RecordedResource {
  return {
    stack: row.stack,
    address: row.address,
    apiVersion: row.api_version,
    kind: row.kind,
    name: row.name,
    provider: row.provider,
    appliedSpec: parseStored(row.applied_spec, "applied_spec", row) as JsonObject,
    managedFields: parseStored(row.managed_fields, "managed_fields", row) as string[],
    outputs: parseStored(row.outputs, "outputs", row) as JsonObject,
    liveHash: row.live_hash,
    status: row.status as ResourceStatus,
    health: row.health as HealthStatus,
    dependsOn: parseStored(row.depends_on, "depends_on", row) as string[],
    prune: Number(row.prune) === 1,
    deletionPolicy: row.deletion_policy === "Retain" ? "Retain" : "Delete",
    lastRunId: row.last_run_id,
    updatedAt: row.updated_at,
  };
}

export function fromRunRow(row: Selectable<RunsTable>): RunRecord {
  return {
    id: row.id,
    stack: row.stack,
    trigger: row.trigger,
    revision: row.revision,
    digest: row.digest,
    environment: row.environment,
    planSummary: row.plan_summary === null ? null : (parseStored(row.plan_summary, "plan_summary", row) as PlanSummary),
    result: row.result as RunResult,
    error: row.error,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    actor: row.actor,
  };
}

export function fromJournalRow(row: Selectable<JournalTable>): JournalEntry {
  return {
    id: row.id,
    runId: row.run_id,
    stack: row.stack,
    address: row.address,
    action: row.action as ChangeAction,
    intent: parseStored(row.intent, "intent", row) as JournalEntry["intent"],
    state: row.state as JournalState,
    outcome: row.outcome,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function fromEventRow(row: Selectable<EventsTable>): EventRecord {
  return {
    id: Number(row.id),
    stack: row.stack,
    runId: row.run_id,
    address: row.address,
    type: row.type,
    message: row.message,
    ...(row.data === null ? {} : { data: parseStored(row.data, "data", row) as JsonObject }),
    createdAt: row.created_at,
  };
}

export function fromStatusRow(row: Selectable<StackStatusTable>): StackStatus {
  return {
    stack: row.stack,
    suspended: Number(row.suspended) === 1,
    conditions: parseStored(row.conditions, "conditions", row) as Condition[],
    lastAppliedRevision: row.last_applied_revision,
    lastAttemptedRevision: row.last_attempted_revision,
    lastAppliedDigest: row.last_applied_digest,
    drift: row.drift === null ? null : (parseStored(row.drift, "drift", row) as DriftSummary),
    updatedAt: row.updated_at,
  };
}
