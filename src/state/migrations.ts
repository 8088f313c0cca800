// Versioned schema migrations, written once for both SQLite and PostgreSQL.
// Append new migrations; never edit one that has shipped.

import { Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { PlumbError } from "../errors.js";

export type Dialect = "sqlite" | "postgres";

function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    "0001-initial": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("stacks")
          .addColumn("name", "text", (column) => column.primaryKey())
          .addColumn("directory", "text")
          .addColumn("environment", "text")
          .addColumn("definition", "text", (column) => column.notNull())
          .addColumn("updated_at", "text", (column) => column.notNull())
          .execute();
        await db.schema
          .createTable("resources")
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("address", "text", (column) => column.notNull())
          .addColumn("api_version", "text", (column) => column.notNull())
          .addColumn("kind", "text", (column) => column.notNull())
          .addColumn("name", "text", (column) => column.notNull())
          .addColumn("provider", "text", (column) => column.notNull())
          .addColumn("applied_spec", "text", (column) => column.notNull())
          .addColumn("managed_fields", "text", (column) => column.notNull())
          .addColumn("outputs", "text", (column) => column.notNull())
          .addColumn("live_hash", "text")
          .addColumn("status", "text", (column) => column.notNull())
          .addColumn("health", "text", (column) => column.notNull())
          .addColumn("depends_on", "text", (column) => column.notNull())
          .addColumn("prune", "integer", (column) => column.notNull())
          .addColumn("last_run_id", "text")
          .addColumn("updated_at", "text", (column) => column.notNull())
          .addPrimaryKeyConstraint("resources_pk", ["stack", "address"])
          .execute();
        await db.schema
          .createTable("runs")
          .addColumn("id", "text", (column) => column.primaryKey())
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("trigger", "text", (column) => column.notNull())
          .addColumn("revision", "text")
          .addColumn("digest", "text", (column) => column.notNull())
          .addColumn("environment", "text")
          .addColumn("plan_summary", "text")
          .addColumn("result", "text", (column) => column.notNull())
          .addColumn("error", "text")
          .addColumn("started_at", "text", (column) => column.notNull())
          .addColumn("finished_at", "text")
          .execute();
        await db.schema.createIndex("runs_stack_started").on("runs").columns(["stack", "started_at"]).execute();
        await db.schema
          .createTable("journal")
          .addColumn("id", "text", (column) => column.primaryKey())
          .addColumn("run_id", "text", (column) => column.notNull())
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("address", "text", (column) => column.notNull())
          .addColumn("action", "text", (column) => column.notNull())
          .addColumn("intent", "text", (column) => column.notNull())
          .addColumn("state", "text", (column) => column.notNull())
          .addColumn("outcome", "text")
          .addColumn("created_at", "text", (column) => column.notNull())
          .addColumn("updated_at", "text", (column) => column.notNull())
          .execute();
        await db.schema.createIndex("journal_stack_state").on("journal").columns(["stack", "state"]).execute();
        await db.schema
          .createTable("events")
          .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (column) =>
            dialect === "postgres" ? column.primaryKey() : column.primaryKey().autoIncrement(),
          )
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("run_id", "text")
          .addColumn("address", "text")
          .addColumn("type", "text", (column) => column.notNull())
          .addColumn("message", "text", (column) => column.notNull())
          .addColumn("data", "text")
          .addColumn("created_at", "text", (column) => column.notNull())
          .execute();
        await db.schema.createIndex("events_stack_id").on("events").columns(["stack", "id"]).execute();
        await db.schema
          .createTable("locks")
          .addColumn("stack", "text", (column) => column.primaryKey())
          .addColumn("holder", "text", (column) => column.notNull())
          .addColumn("acquired_at", "text", (column) => column.notNull())
          .addColumn("expires_at", "text", (column) => column.notNull())
          .execute();
      },
    },
    "0002-deletion-policy": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .alterTable("resources")
          .addColumn("deletion_policy", "text", (column) => column.notNull().defaultTo("Delete"))
          .execute();
      },
    },
    "0003-agent": {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable("runs").addColumn("actor", "text").execute();
        await db.schema
          .createTable("stack_status")
          .addColumn("stack", "text", (column) => column.primaryKey())
          .addColumn("suspended", "integer", (column) => column.notNull().defaultTo(0))
          .addColumn("conditions", "text", (column) => column.notNull())
          .addColumn("last_applied_revision", "text")
          .addColumn("last_attempted_revision", "text")
          .addColumn("last_applied_digest", "text")
          .addColumn("drift", "text")
          .addColumn("updated_at", "text", (column) => column.notNull())
          .execute();
        await db.schema
          .createTable("renders")
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("digest", "text", (column) => column.notNull())
          .addColumn("revision", "text")
          .addColumn("rendered", "text", (column) => column.notNull())
          .addColumn("created_at", "text", (column) => column.notNull())
          .addPrimaryKeyConstraint("renders_pk", ["stack", "digest"])
          .execute();
        await db.schema
          .createTable("api_tokens")
          .addColumn("id", "text", (column) => column.primaryKey())
          .addColumn("name", "text", (column) => column.notNull().unique())
          .addColumn("token_hash", "text", (column) => column.notNull().unique())
          .addColumn("role", "text", (column) => column.notNull())
          .addColumn("created_at", "text", (column) => column.notNull())
          .execute();
      },
    },
    "0004-audit": {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("audit_events")
          .addColumn("sequence", "integer", (column) => column.primaryKey())
          .addColumn("at", "text", (column) => column.notNull())
          .addColumn("kind", "text", (column) => column.notNull())
          .addColumn("actor", "text", (column) => column.notNull())
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("resource", "text")
          .addColumn("commit_sha", "text")
          .addColumn("author", "text")
          .addColumn("commit_message", "text")
          .addColumn("summary", "text", (column) => column.notNull())
          .addColumn("previous_hash", "text", (column) => column.notNull())
          .addColumn("hash", "text", (column) => column.notNull())
          .execute();
        await db.schema.createIndex("audit_events_at").on("audit_events").columns(["at"]).execute();
        await db.schema
          .createTable("audit_head")
          .addColumn("id", "integer", (column) => column.primaryKey())
          .addColumn("count", "integer", (column) => column.notNull())
          .addColumn("hash", "text", (column) => column.notNull())
          .execute();
      },
    },
    "0005-fleet-views": {
      // The dashboard's fleet-wide recent runs read runs by start time alone.
      async up(db: Kysely<unknown>) {
        await db.schema.createIndex("runs_started").on("runs").columns(["started_at"]).execute();
      },
    },
    "0006-token-scopes": {
      // Tokens for a project and a role, with an expiry, revocable, with their last use; the two old roles become their new names.
      async up(db: Kysely<unknown>) {
        for (const column of ["project", "expires_at", "last_used_at", "revoked_at", "created_by"])
          await db.schema.alterTable("api_tokens").addColumn(column, "text").execute();
        await sql`UPDATE api_tokens SET role = 'platform-admin' WHERE role = 'admin'`.execute(db);
        await sql`UPDATE api_tokens SET role = 'viewer' WHERE role = 'read'`.execute(db);
      },
    },
    "0007-sessions": {
      // People signed in through single sign-on: a session by the hash of its cookie, with their groups (roles follow the platform's current mapping).
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("sessions")
          .addColumn("id_hash", "text", (column) => column.primaryKey())
          .addColumn("subject", "text", (column) => column.notNull())
          .addColumn("name", "text", (column) => column.notNull())
          .addColumn("groups", "text", (column) => column.notNull())
          .addColumn("csrf", "text", (column) => column.notNull())
          .addColumn("created_at", "text", (column) => column.notNull())
          .addColumn("expires_at", "text", (column) => column.notNull())
          .execute();
      },
    },
    "0008-leases": {
      // Several agents on one store: a lease per stack with an epoch for fencing, the agents' heartbeats,
      // actions handed to the agent holding the stack, and which epoch and agent wrote what.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("leases")
          .addColumn("stack", "text", (column) => column.primaryKey())
          .addColumn("holder", "text")
          .addColumn("epoch", "bigint", (column) => column.notNull().defaultTo(0))
          .addColumn("expires_at", "bigint", (column) => column.notNull().defaultTo(0))
          .addColumn("acquired_at", "text")
          .execute();
        await db.schema
          .createTable("agents")
          .addColumn("id", "text", (column) => column.primaryKey())
          .addColumn("name", "text", (column) => column.notNull())
          .addColumn("started_at", "text", (column) => column.notNull())
          .addColumn("heartbeat_at", "bigint", (column) => column.notNull())
          .execute();
        await db.schema
          .createTable("stack_requests")
          .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (column) =>
            dialect === "postgres" ? column.primaryKey() : column.primaryKey().autoIncrement(),
          )
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("kind", "text", (column) => column.notNull())
          .addColumn("trigger", "text", (column) => column.notNull())
          .addColumn("actor", "text")
          .addColumn("revision", "text")
          .addColumn("force", "integer", (column) => column.notNull().defaultTo(0))
          .addColumn("override", "integer", (column) => column.notNull().defaultTo(0))
          .addColumn("created_at", "text", (column) => column.notNull())
          .execute();
        await db.schema.createIndex("stack_requests_stack").on("stack_requests").columns(["stack", "id"]).execute();
        await db.schema.alterTable("journal").addColumn("epoch", "bigint").execute();
        await db.schema.alterTable("stack_status").addColumn("epoch", "bigint").execute();
        await db.schema.alterTable("runs").addColumn("agent", "text").execute();
      },
    },
    "0009-notifications": {
      // The notification queue: what each sink is to be told, retried with backoff, de-duplicated per key.
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("notifications")
          .addColumn("id", "text", (column) => column.primaryKey())
          .addColumn("sink", "text", (column) => column.notNull())
          .addColumn("trigger", "text", (column) => column.notNull())
          .addColumn("stack", "text", (column) => column.notNull())
          .addColumn("dedup_key", "text", (column) => column.notNull())
          .addColumn("payload", "text", (column) => column.notNull())
          .addColumn("state", "text", (column) => column.notNull())
          .addColumn("attempts", "integer", (column) => column.notNull().defaultTo(0))
          .addColumn("repeats", "integer", (column) => column.notNull().defaultTo(0))
          .addColumn("next_attempt_at", "bigint", (column) => column.notNull())
          .addColumn("last_error", "text")
          .addColumn("created_at", "text", (column) => column.notNull())
          .addColumn("delivered_at", "text")
          .execute();
        await db.schema.createIndex("notifications_due").on("notifications").columns(["state", "next_attempt_at"]).execute();
        await db.schema.createIndex("notifications_dedup").on("notifications").columns(["dedup_key", "created_at"]).execute();
        await db.schema.createIndex("notifications_sink").on("notifications").columns(["sink", "created_at"]).execute();
      },
    },
    "0010-selective-sync": {
      // A sync request handed between agents may name the resources it applies.
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable("stack_requests").addColumn("only_resources", "text").execute();
      },
    },
    "0011-audit-by-stack": {
      // A stack page asks for its newest changes: without this the store walks the whole trail back to them.
      async up(db: Kysely<unknown>) {
        await db.schema.createIndex("audit_events_stack_sequence").on("audit_events").columns(["stack", "sequence"]).execute();
      },
    },
  };
}

export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const provider: MigrationProvider = { getMigrations: async () => migrations(dialect) };
  const migrator = new Migrator({ db, provider, migrationTableName: "plumb_migrations", migrationLockTableName: "plumb_migrations_lock" });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === "Error");
    throw new PlumbError(
      "PLUMB_STORE",
      `state store migration ${failed?.migrationName ?? ""} failed: ${error instanceof Error ? error.message : String(error)}`,
      {
        cause: error,
        hint: "the store may have been written by a newer Plumb; use that version or restore a backup",
      },
    );
  }
}
