// The Store implemented once with Kysely; the dialect-specific files only open
// the connection and pick the migration flavour.

import { randomUUID } from "node:crypto";
import { sql, type Kysely, type Selectable, type Transaction } from "kysely";
import type { JsonObject } from "../sdk/resource.js";
import type { AuditEvent, AuditHead, AuditInput, AuditKind } from "./audit.js";
import type { ApiTokensTable, Database, SessionsTable } from "./schema.js";
import { appendAuditIn, upsertResources } from "./batch-writes.js";
import { currentFence } from "./fence.js";
import { LeaseTable } from "./leases.js";
import { NotificationQueue } from "./notification-queue.js";
import { StoreFeed } from "./store-feed.js";
import type { Dialect } from "./migrations.js";
import { postgresChannel, type Notifications, type StoreChannel } from "./notifications.js";
import { fromEventRow, fromJournalRow, fromResourceRow, fromRunRow, fromStatusRow, insertChunk, now, parseStored } from "./rows.js";
import type {
  EventInput,
  EventRecord,
  JournalEntry,
  JournalState,
  LockHolder,
  PlanSummary,
  RecordedResource,
  ResourceEffect,
  RenderRecord,
  RunRecord,
  StackStatus,
  StoredEvent,
  AuditFilter,
  ApiToken,
  TokenRole,
  RunResult,
  StackRecord,
  Store,
  UserSession,
} from "./store.js";

/** Serialises event appends on PostgreSQL, so event ids become visible in order and a reader after id N misses none. */
const eventAppendLockKey = 0x706c756d62_02n;

export class KyselyStore implements Store {
  readonly leases: LeaseTable;
  readonly notificationQueue: NotificationQueue;
  /** Events and status writes for the live stream: this process's, or every agent's on PostgreSQL. */
  private readonly feed: StoreFeed;

  constructor(
    /** The connection itself, for copying a whole store (store-copy.ts); everything else goes through the methods. */
    readonly db: Kysely<Database>,
    private readonly onClose: () => Promise<void>,
    private readonly dialect: Dialect,
    private readonly notifications: Notifications,
    /** Connections of their own for heartbeats and lease renewals, which must never queue behind an apply's writes. */
    private readonly leaseDb: Kysely<Database> = db,
  ) {
    this.leases = new LeaseTable(leaseDb, dialect, (transaction, channel, payload) => this.signal(transaction, channel, payload));
    this.notificationQueue = new NotificationQueue(db);
    this.feed = new StoreFeed(
      {
        eventsAfter: (afterId, limit) => this.eventsAfter(afterId, limit),
        getStackStatus: (stack) => this.getStackStatus(stack),
        lastEventId: async () => {
          const row = await this.db
            .selectFrom("events")
            .select((expression) => expression.fn.max("id").as("last"))
            .executeTakeFirst();
          return Number(row?.last ?? 0);
        },
      },
      notifications,
      dialect === "postgres",
    );
  }

  async close(): Promise<void> {
    this.feed.close();
    await this.notifications.close();
    if (this.leaseDb !== this.db) await this.leaseDb.destroy();
    await this.db.destroy();
    await this.onClose();
  }

  listen(channel: StoreChannel, listener: (payload: string) => void): () => void {
    return this.notifications.listen(channel, listener);
  }

  /** Tells every process on the store that something was written: with the transaction on PostgreSQL, right after it here on SQLite. */
  private async signal(transaction: Transaction<Database>, channel: StoreChannel, payload: string): Promise<void> {
    if (this.dialect === "postgres") await sql`SELECT pg_notify(${postgresChannel(channel)}, ${payload})`.execute(transaction);
    else setImmediate(() => this.notifications.deliver(channel, payload));
  }

  /**
   * A write for `stack`: under an agent's lease for that stack (or for a
   * write that names no stack), it commits only while the lease is still
   * this agent's at the same epoch.
   */
  private async write<Result>(stack: string | undefined, work: (transaction: Transaction<Database>) => Promise<Result>): Promise<Result> {
    const fence = currentFence();
    if (fence === undefined || (stack !== undefined && stack !== fence.stack)) return this.db.transaction().execute(work);
    return this.db.transaction().execute(async (transaction) => {
      await this.leases.check(transaction, fence);
      return work(transaction);
    });
  }

  async saveStack(stack: Omit<StackRecord, "updatedAt">): Promise<void> {
    const row = {
      name: stack.name,
      directory: stack.directory,
      environment: stack.environment,
      definition: JSON.stringify(stack.definition),
      updated_at: now(),
    };
    await this.db
      .insertInto("stacks")
      .values(row)
      .onConflict((conflict) =>
        conflict.column("name").doUpdateSet({ directory: row.directory, environment: row.environment, definition: row.definition, updated_at: row.updated_at }),
      )
      .execute();
  }

  async listStacks(): Promise<StackRecord[]> {
    const rows = await this.db.selectFrom("stacks").selectAll().orderBy("name").execute();
    return rows.map((row) => ({
      name: row.name,
      directory: row.directory,
      environment: row.environment,
      definition: parseStored(row.definition, "definition", row) as JsonObject,
      updatedAt: row.updated_at,
    }));
  }

  async listResources(stack: string): Promise<RecordedResource[]> {
    const rows = await this.db.selectFrom("resources").selectAll().where("stack", "=", stack).orderBy("address").execute();
    return rows.map(fromResourceRow);
  }

  async getResource(stack: string, address: string): Promise<RecordedResource | undefined> {
    const row = await this.db.selectFrom("resources").selectAll().where("stack", "=", stack).where("address", "=", address).executeTakeFirst();
    return row === undefined ? undefined : fromResourceRow(row);
  }

  async putResources(records: readonly RecordedResource[], audit: readonly AuditInput[] = []): Promise<void> {
    if (records.length === 0) return;
    await this.write(records[0]?.stack, async (transaction) => {
      await upsertResources(transaction, records);
      await appendAuditIn(transaction, audit);
    });
  }

  async removeResources(stack: string, addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    await this.write(stack, async (transaction) => {
      for (let start = 0; start < addresses.length; start += insertChunk) {
        await transaction
          .deleteFrom("resources")
          .where("stack", "=", stack)
          .where("address", "in", addresses.slice(start, start + insertChunk))
          .execute();
      }
    });
  }

  async acquireLock(
    stack: string,
    holder: string,
    ttlMs: number,
    canSteal: (current: LockHolder) => boolean,
  ): Promise<{ acquired: true } | { acquired: false; current: LockHolder }> {
    return this.db.transaction().execute(async (transaction) => {
      const current = await transaction.selectFrom("locks").selectAll().where("stack", "=", stack).executeTakeFirst();
      const timestamp = now();
      if (current !== undefined && current.holder !== holder) {
        const holderInfo: LockHolder = { holder: current.holder, acquiredAt: current.acquired_at, expiresAt: current.expires_at };
        if (current.expires_at > timestamp && !canSteal(holderInfo)) return { acquired: false as const, current: holderInfo };
      }
      const expiresAt = new Date(Date.now() + ttlMs).toISOString();
      await transaction
        .insertInto("locks")
        .values({ stack, holder, acquired_at: timestamp, expires_at: expiresAt })
        .onConflict((conflict) => conflict.column("stack").doUpdateSet({ holder, acquired_at: timestamp, expires_at: expiresAt }))
        .execute();
      return { acquired: true as const };
    });
  }

  async renewLock(stack: string, holder: string, ttlMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable("locks")
      .set({ expires_at: new Date(Date.now() + ttlMs).toISOString() })
      .where("stack", "=", stack)
      .where("holder", "=", holder)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async releaseLock(stack: string, holder: string): Promise<void> {
    await this.db.deleteFrom("locks").where("stack", "=", stack).where("holder", "=", holder).execute();
  }

  async createRun(run: RunRecord): Promise<void> {
    const agent = currentFence()?.agent ?? null;
    await this.write(run.stack, (transaction) =>
      transaction
        .insertInto("runs")
        .values({
          id: run.id,
          stack: run.stack,
          trigger: run.trigger,
          revision: run.revision,
          digest: run.digest,
          environment: run.environment,
          plan_summary: run.planSummary === null ? null : JSON.stringify(run.planSummary),
          result: run.result,
          error: run.error,
          started_at: run.startedAt,
          finished_at: run.finishedAt,
          actor: run.actor,
          agent,
        })
        .execute(),
    );
  }

  async finishRun(id: string, result: Exclude<RunResult, "running">, error: string | null, planSummary: PlanSummary | null): Promise<void> {
    await this.write(undefined, (transaction) =>
      transaction
        .updateTable("runs")
        .set({ result, error, finished_at: now(), ...(planSummary === null ? {} : { plan_summary: JSON.stringify(planSummary) }) })
        .where("id", "=", id)
        .execute(),
    );
  }

  async interruptRuns(stack: string): Promise<string[]> {
    return this.write(stack, async (transaction) => {
      const rows = await transaction
        .updateTable("runs")
        .set({ result: "interrupted", finished_at: now(), error: "the process applying this run stopped before it finished" })
        .where("stack", "=", stack)
        .where("result", "=", "running")
        .returning("id")
        .execute();
      return rows.map((row) => row.id);
    });
  }

  async listRuns(stack: string | readonly string[] | undefined, limit: number): Promise<RunRecord[]> {
    let query = this.db.selectFrom("runs").selectAll();
    if (typeof stack === "string") query = query.where("stack", "=", stack);
    else if (stack !== undefined) query = stack.length === 0 ? query.where(sql<boolean>`1 = 0`) : query.where("stack", "in", stack);
    const rows = await query.orderBy("started_at", "desc").limit(limit).execute();
    return rows.map(fromRunRow);
  }

  async addJournalEntry(entry: Omit<JournalEntry, "id" | "createdAt" | "updatedAt" | "state" | "outcome">): Promise<string> {
    const id = randomUUID();
    const timestamp = now();
    const epoch = currentFence()?.epoch ?? null;
    await this.write(entry.stack, (transaction) =>
      transaction
        .insertInto("journal")
        .values({
          id,
          run_id: entry.runId,
          stack: entry.stack,
          address: entry.address,
          action: entry.action,
          intent: JSON.stringify(entry.intent),
          state: "pending",
          outcome: null,
          created_at: timestamp,
          updated_at: timestamp,
          epoch,
        })
        .execute(),
    );
    return id;
  }

  async completeJournalEntry(
    id: string,
    state: Exclude<JournalState, "pending">,
    outcome: string,
    effect: ResourceEffect,
    audit: readonly AuditInput[] = [],
  ): Promise<void> {
    await this.write(undefined, async (transaction) => {
      await appendAuditIn(transaction, audit);
      if ("put" in effect) await upsertResources(transaction, [effect.put]);
      if ("remove" in effect) {
        await transaction.deleteFrom("resources").where("stack", "=", effect.remove.stack).where("address", "=", effect.remove.address).execute();
      }
      await transaction.updateTable("journal").set({ state, outcome, updated_at: now() }).where("id", "=", id).execute();
    });
  }

  async pendingJournalEntries(stack: string): Promise<JournalEntry[]> {
    const rows = await this.db.selectFrom("journal").selectAll().where("stack", "=", stack).where("state", "=", "pending").orderBy("created_at").execute();
    return rows.map(fromJournalRow);
  }

  async listJournal(stack: string, runId?: string): Promise<JournalEntry[]> {
    let query = this.db.selectFrom("journal").selectAll().where("stack", "=", stack);
    if (runId !== undefined) query = query.where("run_id", "=", runId);
    const rows = await query.orderBy("created_at").execute();
    return rows.map(fromJournalRow);
  }

  async appendEvents(events: readonly EventInput[]): Promise<void> {
    if (events.length === 0) return;
    const timestamp = now();
    await this.write(events[0]?.stack, async (transaction) => {
      if (this.dialect === "postgres") await sql`SELECT pg_advisory_xact_lock(${eventAppendLockKey.toString()})`.execute(transaction);
      for (let start = 0; start < events.length; start += insertChunk) {
        await transaction
          .insertInto("events")
          .values(
            events.slice(start, start + insertChunk).map((event) => ({
              stack: event.stack,
              run_id: event.runId,
              address: event.address,
              type: event.type,
              message: event.message,
              data: event.data === undefined ? null : JSON.stringify(event.data),
              created_at: timestamp,
            })),
          )
          .execute();
      }
      if (this.dialect === "postgres") await this.signal(transaction, "events", "");
    });
    this.feed.appended(events.map((event) => ({ ...event, createdAt: timestamp })));
  }

  onEvents(listener: (events: readonly StoredEvent[]) => void): () => void {
    return this.feed.onEvents(listener);
  }

  onStatus(listener: (status: StackStatus) => void): () => void {
    return this.feed.onStatus(listener);
  }

  async listEvents(stack: string, limit: number): Promise<EventRecord[]> {
    const rows = await this.db.selectFrom("events").selectAll().where("stack", "=", stack).orderBy("id", "desc").limit(limit).execute();
    return rows.map(fromEventRow);
  }

  async eventsAfter(afterId: number, limit: number): Promise<EventRecord[]> {
    const rows = await this.db.selectFrom("events").selectAll().where("id", ">", afterId).orderBy("id").limit(limit).execute();
    return rows.map(fromEventRow);
  }

  async getStackStatus(stack: string): Promise<StackStatus | undefined> {
    const row = await this.db.selectFrom("stack_status").selectAll().where("stack", "=", stack).executeTakeFirst();
    return row === undefined ? undefined : fromStatusRow(row);
  }

  async listStackStatuses(): Promise<StackStatus[]> {
    const rows = await this.db.selectFrom("stack_status").selectAll().orderBy("stack").execute();
    return rows.map(fromStatusRow);
  }

  async putStackStatus(status: Omit<StackStatus, "updatedAt">): Promise<void> {
    const row = {
      stack: status.stack,
      suspended: status.suspended ? 1 : 0,
      conditions: JSON.stringify(status.conditions),
      last_applied_revision: status.lastAppliedRevision,
      last_attempted_revision: status.lastAttemptedRevision,
      last_applied_digest: status.lastAppliedDigest,
      drift: status.drift === null ? null : JSON.stringify(status.drift),
      updated_at: now(),
      epoch: currentFence()?.epoch ?? null,
    };
    // Suspension is a person's setting (setSuspended); a status written from an older read never undoes it.
    const { stack: _key, suspended: _suspended, ...changes } = row;
    await this.write(status.stack, async (transaction) => {
      await transaction
        .insertInto("stack_status")
        .values(row)
        .onConflict((conflict) => conflict.column("stack").doUpdateSet(changes))
        .execute();
      await this.signal(transaction, "status", status.stack);
    });
    this.feed.statusWritten(status.stack);
  }

  async setSuspended(stack: string, suspended: boolean): Promise<void> {
    await this.db.transaction().execute(async (transaction) => {
      const updated = await transaction
        .updateTable("stack_status")
        .set({ suspended: suspended ? 1 : 0, updated_at: now() })
        .where("stack", "=", stack)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0)
        await transaction
          .insertInto("stack_status")
          .values({
            stack,
            suspended: suspended ? 1 : 0,
            conditions: "[]",
            last_applied_revision: null,
            last_attempted_revision: null,
            last_applied_digest: null,
            drift: null,
            updated_at: now(),
            epoch: null,
          })
          .execute();
      await this.signal(transaction, "status", stack);
    });
    this.feed.statusWritten(stack);
  }

  async removeStack(stack: string): Promise<void> {
    await this.write(stack, async (transaction) => {
      await transaction.deleteFrom("stack_status").where("stack", "=", stack).execute();
      await transaction.deleteFrom("stacks").where("name", "=", stack).execute();
    });
  }

  async saveRender(render: Omit<RenderRecord, "createdAt">): Promise<void> {
    await this.write(render.stack, (transaction) =>
      transaction
        .insertInto("renders")
        .values({ stack: render.stack, digest: render.digest, revision: render.revision, rendered: JSON.stringify(render.rendered), created_at: now() })
        .onConflict((conflict) => conflict.columns(["stack", "digest"]).doNothing())
        .execute(),
    );
  }

  async getRender(stack: string, digest: string): Promise<RenderRecord | undefined> {
    const row = await this.db.selectFrom("renders").selectAll().where("stack", "=", stack).where("digest", "=", digest).executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          stack: row.stack,
          digest: row.digest,
          revision: row.revision,
          rendered: parseStored(row.rendered, "rendered", row) as JsonObject,
          createdAt: row.created_at,
        };
  }

  async createToken(token: ApiToken, tokenHash: string): Promise<void> {
    await this.db
      .insertInto("api_tokens")
      .values({
        id: token.id,
        name: token.name,
        token_hash: tokenHash,
        role: token.role,
        project: token.project,
        created_at: token.createdAt,
        expires_at: token.expiresAt,
        last_used_at: token.lastUsedAt,
        revoked_at: token.revokedAt,
        created_by: token.createdBy,
      })
      .execute();
  }

  async findToken(tokenHash: string): Promise<ApiToken | undefined> {
    const row = await this.db.selectFrom("api_tokens").selectAll().where("token_hash", "=", tokenHash).executeTakeFirst();
    return row === undefined ? undefined : tokenOf(row);
  }

  async listTokens(): Promise<ApiToken[]> {
    const rows = await this.db.selectFrom("api_tokens").selectAll().orderBy("created_at").orderBy("name").execute();
    return rows.map(tokenOf);
  }

  async revokeToken(name: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable("api_tokens").set({ revoked_at: at }).where("name", "=", name).where("revoked_at", "is", null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async markTokenUsed(id: string, at: string): Promise<void> {
    await this.db.updateTable("api_tokens").set({ last_used_at: at }).where("id", "=", id).execute();
  }

  async createSession(idHash: string, session: UserSession): Promise<void> {
    // Sessions that ran out go when a new one comes, not on every request.
    await this.db.deleteFrom("sessions").where("expires_at", "<=", session.createdAt).execute();
    await this.db
      .insertInto("sessions")
      .values({
        id_hash: idHash,
        subject: session.subject,
        name: session.name,
        groups: JSON.stringify(session.groups),
        csrf: session.csrf,
        created_at: session.createdAt,
        expires_at: session.expiresAt,
      })
      .execute();
  }

  async findSession(idHash: string, now: string): Promise<UserSession | undefined> {
    const row = await this.db.selectFrom("sessions").selectAll().where("id_hash", "=", idHash).where("expires_at", ">", now).executeTakeFirst();
    return row === undefined ? undefined : sessionOf(row);
  }

  async deleteSession(idHash: string): Promise<UserSession | undefined> {
    const row = await this.db.deleteFrom("sessions").where("id_hash", "=", idHash).returningAll().executeTakeFirst();
    return row === undefined ? undefined : sessionOf(row);
  }

  async countTokens(): Promise<number> {
    const row = await this.db
      .selectFrom("api_tokens")
      .select((expression) => expression.fn.countAll<number>().as("count"))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async appendAudit(events: readonly AuditInput[]): Promise<void> {
    if (events.length === 0) return;
    await this.write(events[0]?.stack, (transaction) => appendAuditIn(transaction, events));
  }

  async listAudit(filter: AuditFilter): Promise<AuditEvent[]> {
    let query = this.db.selectFrom("audit_events").selectAll();
    if (filter.afterSequence !== undefined) query = query.where("sequence", ">", filter.afterSequence);
    if (filter.since !== undefined) query = query.where("at", ">=", filter.since);
    if (typeof filter.stack === "string") query = query.where("stack", "=", filter.stack);
    else if (filter.stack !== undefined) query = filter.stack.length === 0 ? query.where(sql<boolean>`1 = 0`) : query.where("stack", "in", filter.stack);
    if (filter.resource !== undefined) query = query.where("resource", "=", filter.resource);
    if (filter.until !== undefined) query = query.where("at", "<", filter.until);
    if (filter.beforeSequence !== undefined) query = query.where("sequence", "<", filter.beforeSequence);
    if (typeof filter.kind === "string") query = query.where("kind", "=", filter.kind);
    else if (filter.kind !== undefined) query = query.where("kind", "in", filter.kind);
    if (filter.actor !== undefined) query = query.where("actor", "=", filter.actor);
    const rows = await query
      .orderBy("sequence", filter.newestFirst === true ? "desc" : "asc")
      .limit(filter.limit)
      .execute();
    return rows.map((row) => ({
      sequence: Number(row.sequence),
      at: row.at,
      kind: row.kind as AuditKind,
      actor: row.actor,
      stack: row.stack,
      resource: row.resource,
      commit: row.commit_sha,
      author: row.author,
      commitMessage: row.commit_message,
      summary: parseStored(row.summary, "summary", row) as JsonObject,
      previousHash: row.previous_hash,
      hash: row.hash,
    }));
  }

  async countAuditByDay(since: string, stacks?: readonly string[]): Promise<{ day: string; kind: string; count: number }[]> {
    // Timestamps are stored as ISO text in UTC, so the day is their first ten characters in both backends.
    const day = sql<string>`substr(at, 1, 10)`;
    let query = this.db
      .selectFrom("audit_events")
      .select([day.as("day"), "kind", (expression) => expression.fn.countAll<number | string>().as("count")])
      .where("at", ">=", since);
    if (stacks !== undefined) query = stacks.length === 0 ? query.where(sql<boolean>`1 = 0`) : query.where("stack", "in", stacks);
    const rows = await query.groupBy([day, "kind"]).orderBy(day).execute();
    return rows.map((row) => ({ day: row.day, kind: row.kind, count: Number(row.count) }));
  }

  async auditHead(): Promise<AuditHead | undefined> {
    const head = await this.db.selectFrom("audit_head").selectAll().where("id", "=", 1).executeTakeFirst();
    return head === undefined ? undefined : { count: Number(head.count), hash: head.hash };
  }
}

function sessionOf(row: Selectable<SessionsTable>): UserSession {
  return {
    subject: row.subject,
    name: row.name,
    groups: JSON.parse(row.groups) as string[],
    csrf: row.csrf,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

function tokenOf(row: Selectable<ApiTokensTable>): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role as TokenRole,
    project: row.project,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    createdBy: row.created_by,
  };
}
