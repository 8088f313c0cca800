// The audit trail read out whole, a page at a time, as JSON lines or CSV: what
// `plumb audit export` prints and `GET /api/v1/audit/export` streams.

import { csvField } from "../csv.js";
import type { AuditEvent } from "./audit.js";
import type { AuditCheckpoint } from "./audit-checkpoints.js";
import type { AuditFilter, Store } from "./store.js";

const pageSize = 5000;

export type AuditExportFormat = "jsonl" | "csv";
export const auditExportFormats: readonly AuditExportFormat[] = ["jsonl", "csv"];

/** Every matching event in chain order, so an unlimited trail never sits in memory whole. */
export async function* auditEvents(store: Store, filter: Omit<AuditFilter, "limit" | "afterSequence" | "newestFirst">): AsyncGenerator<AuditEvent> {
  let afterSequence = 0;
  for (;;) {
    const page = await store.listAudit({ ...filter, afterSequence, limit: pageSize });
    yield* page;
    if (page.length < pageSize) return;
    afterSequence = (page[page.length - 1] as AuditEvent).sequence;
  }
}

const csvColumns = ["sequence", "at", "kind", "actor", "stack", "resource", "commit", "author", "commitMessage", "summary", "previousHash", "hash"] as const;

/**
 * The export's lines, each ending in a newline; CSV starts with its header.
 * JSON lines carry each signed checkpoint right after the event it covers
 * (`{"checkpoint":{…}}`), so the file verifies offline with the public key.
 */
export async function* auditExportLines(
  store: Store,
  filter: Omit<AuditFilter, "limit" | "afterSequence" | "newestFirst">,
  format: AuditExportFormat,
  checkpoints: readonly AuditCheckpoint[] = [],
): AsyncGenerator<string> {
  if (format === "csv") yield `${csvColumns.join(",")}\n`;
  const covering = new Map<number, AuditCheckpoint[]>();
  for (const checkpoint of checkpoints) covering.set(checkpoint.sequence, [...(covering.get(checkpoint.sequence) ?? []), checkpoint]);
  for await (const event of auditEvents(store, filter)) {
    if (format === "csv") {
      yield `${csvColumns.map((column) => csvField(event[column])).join(",")}\n`;
      continue;
    }
    yield `${JSON.stringify(event)}\n`;
    for (const checkpoint of covering.get(event.sequence) ?? []) yield `${JSON.stringify({ checkpoint })}\n`;
  }
}
