// Writes of many rows at once: resources upserted in chunks, and audit events
// appended to the hash chain inside the caller's transaction, so an event
// commits with what it records.

import { redactor } from "../secrets/redaction.js";
import { sql, type Kysely, type Transaction } from "kysely";
import { auditHash, genesisHash, type AuditInput } from "./audit.js";
import type { Database } from "./schema.js";
import type { RecordedResource } from "./store.js";
import { insertChunk, now, toResourceRow } from "./rows.js";

/** Appends to the audit chain inside the caller's transaction, so an event commits with what it records. */
export async function appendAuditIn(transaction: Transaction<Database>, events: readonly AuditInput[]): Promise<void> {
  if (events.length === 0) return;
  await transaction
    .insertInto("audit_head")
    .values({ id: 1, count: 0, hash: genesisHash })
    .onConflict((conflict) => conflict.column("id").doNothing())
    .execute();
  // Writing the head row first takes its row lock on PostgreSQL, so appenders (other connections,
  // other agents) go one after another and the chain never forks; SQLite has one writer anyway.
  await transaction
    .updateTable("audit_head")
    .set({ count: sql`count` })
    .where("id", "=", 1)
    .execute();
  const head = await transaction.selectFrom("audit_head").selectAll().where("id", "=", 1).executeTakeFirstOrThrow();
  let count = Number(head.count);
  let previous = head.hash;
  const at = now();
  // Masked before hashing: the chain must verify against what is stored.
  const rows = events.map((unmasked) => {
    const event = redactor.redactDeep(unmasked);
    count++;
    const unsigned = { ...event, sequence: count, at, previousHash: previous };
    const hash = auditHash(unsigned);
    previous = hash;
    return {
      sequence: count,
      at,
      kind: event.kind,
      actor: event.actor,
      stack: event.stack,
      resource: event.resource,
      commit_sha: event.commit,
      author: event.author,
      commit_message: event.commitMessage,
      summary: JSON.stringify(event.summary),
      previous_hash: unsigned.previousHash,
      hash,
    };
  });
  for (let start = 0; start < rows.length; start += insertChunk)
    await transaction
      .insertInto("audit_events")
      .values(rows.slice(start, start + insertChunk))
      .execute();
  await transaction.updateTable("audit_head").set({ count, hash: previous }).where("id", "=", 1).execute();
}

export async function upsertResources(db: Kysely<Database> | Transaction<Database>, records: readonly RecordedResource[]): Promise<void> {
  for (let start = 0; start < records.length; start += insertChunk) {
    const rows = records.slice(start, start + insertChunk).map(toResourceRow);
    await db
      .insertInto("resources")
      .values(rows)
      .onConflict((conflict) =>
        conflict.columns(["stack", "address"]).doUpdateSet((update) => ({
          api_version: update.ref("excluded.api_version"),
          kind: update.ref("excluded.kind"),
          name: update.ref("excluded.name"),
          provider: update.ref("excluded.provider"),
          applied_spec: update.ref("excluded.applied_spec"),
          managed_fields: update.ref("excluded.managed_fields"),
          outputs: update.ref("excluded.outputs"),
          live_hash: update.ref("excluded.live_hash"),
          status: update.ref("excluded.status"),
          health: update.ref("excluded.health"),
          depends_on: update.ref("excluded.depends_on"),
          prune: update.ref("excluded.prune"),
          deletion_policy: update.ref("excluded.deletion_policy"),
          last_run_id: update.ref("excluded.last_run_id"),
          updated_at: update.ref("excluded.updated_at"),
        })),
      )
      .execute();
  }
}
