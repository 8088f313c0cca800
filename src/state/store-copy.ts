// Moves an installation from one store to another (SQLite to PostgreSQL):
// every table copied row for row in one transaction on the target, so the
// audit chain arrives exactly as it was and verifies there. The target must be
// empty; stack locks, leases and agents stay behind (they belong to processes
// of the old store), and so do actions not yet handed over.

import { sql } from "kysely";
import { PlumbError } from "../errors.js";
import type { KyselyStore } from "./kysely-store.js";
import type { Database } from "./schema.js";

/** In a readable order: the schema has no foreign keys, so any order would do. */
const tables = [
  "stacks",
  "stack_status",
  "renders",
  "runs",
  "journal",
  "resources",
  "events",
  "api_tokens",
  "sessions",
  "audit_events",
  "audit_head",
  "notifications",
] as const satisfies readonly (keyof Database)[];

const pageSize = 500;

export async function copyStore(from: KyselyStore, to: KyselyStore, dialect: "sqlite" | "postgres"): Promise<Record<string, number>> {
  const occupied = await to.db
    .selectFrom("audit_head")
    .select((expression) => expression.fn.countAll<number | string>().as("count"))
    .executeTakeFirstOrThrow();
  const stacks = await to.db
    .selectFrom("stacks")
    .select((expression) => expression.fn.countAll<number | string>().as("count"))
    .executeTakeFirstOrThrow();
  if (Number(occupied.count) > 0 || Number(stacks.count) > 0)
    throw new PlumbError("PLUMB_USAGE", "the target store is not empty: it holds stacks or an audit trail already", {
      hint: "move into a new, empty database; nothing was written",
    });
  const copied: Record<string, number> = {};
  await to.db.transaction().execute(async (target) => {
    for (const table of tables) {
      copied[table] = 0;
      for (let offset = 0; ; offset += pageSize) {
        // SQLite's rowid keeps the pages in insertion order, the audit chain's order among them.
        const rows = await from.db
          .selectFrom(table)
          .selectAll()
          .orderBy(sql`rowid`)
          .limit(pageSize)
          .offset(offset)
          .execute();
        if (rows.length === 0) break;
        await target
          .insertInto(table)
          .values(rows as never)
          .execute();
        copied[table] += rows.length;
        if (rows.length < pageSize) break;
      }
    }
    // Events carry their ids over; the next one must come after them.
    if (dialect === "postgres") await sql`SELECT setval(pg_get_serial_sequence('events', 'id'), GREATEST((SELECT MAX(id) FROM events), 1))`.execute(target);
  });
  return copied;
}
