// Leases, agents and handed-over actions: what several agents on one store use
// to share the stacks. A lease is a row per stack, claimed with FOR UPDATE SKIP
// LOCKED on PostgreSQL, kept by heartbeats, judged by the store's clock (never
// an agent's), and given a new epoch on every claim so that fenced writes
// (fence.ts) from an older holder are refused.

import { sql, type Kysely, type RawBuilder, type Transaction } from "kysely";
import { chunked } from "./rows.js";
import { leaseLostError, type Fence } from "./fence.js";
import type { Dialect } from "./migrations.js";
import type { Database } from "./schema.js";

export interface Lease {
  stack: string;
  epoch: number;
  /** The agent whose lease ran out, when the stack was taken over rather than free. */
  previousHolder: string | null;
}

export interface LeaseRecord {
  stack: string;
  holder: string | null;
  epoch: number;
  /** Milliseconds on the store's clock. */
  expiresAt: number;
  acquiredAt: string | null;
}

export interface AgentRecord {
  id: string;
  name: string;
  startedAt: string;
  heartbeatAt: number;
}

export type StackRequestKind = "sync" | "refresh" | "rollback";

/** An action a person (or a webhook) took on one agent, for the agent that holds the stack. */
export interface StackRequest {
  stack: string;
  kind: StackRequestKind;
  trigger: string;
  actor: string | null;
  revision: string | null;
  force: boolean;
  override: boolean;
  /** For sync: the addresses a selective sync applies; absent for a whole sync. */
  only?: string[];
}

export interface Leases {
  /** Records that the agent is alive; returns the store's clock. */
  heartbeat(agent: Omit<AgentRecord, "heartbeatAt">): Promise<number>;
  /** Agents whose heartbeat is younger than `ttlMs`. */
  liveAgents(ttlMs: number): Promise<AgentRecord[]>;
  /** An agent that stops: its leases are freed at once and it leaves the list. */
  forgetAgent(id: string): Promise<void>;
  /** Makes sure every stack has a lease row to claim; returns the stacks that had none (new to the store). */
  ensure(stacks: readonly string[]): Promise<string[]>;
  /** Claims up to `limit` of `candidates` that are free or expired, skipping rows another agent is claiming. */
  claim(holder: string, candidates: readonly string[], limit: number, ttlMs: number): Promise<Lease[]>;
  /** Extends the holder's leases; returns the stacks still held at the same epoch. */
  renew(holder: string, held: ReadonlyMap<string, number>, ttlMs: number): Promise<Set<string>>;
  release(holder: string, stack: string, epoch: number): Promise<void>;
  list(): Promise<LeaseRecord[]>;
  /** Removes the lease of a stack that left the platform. */
  drop(stack: string, holder: string, epoch: number): Promise<void>;
  addRequest(request: StackRequest): Promise<void>;
  /** Takes (and removes) the waiting requests of these stacks, oldest first. */
  takeRequests(stacks: readonly string[]): Promise<StackRequest[]>;
}

export class LeaseTable implements Leases {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    /** Wakes the other agents (NOTIFY on PostgreSQL) inside the writing transaction. */
    private readonly signal: (transaction: Transaction<Database>, channel: "requests", payload: string) => Promise<void>,
  ) {}

  /** Now on the store's clock, in milliseconds. */
  private now(): RawBuilder<number> {
    return this.dialect === "postgres"
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`cast((julianday('now') - 2440587.5) * 86400000.0 as integer)`;
  }

  async heartbeat(agent: Omit<AgentRecord, "heartbeatAt">): Promise<number> {
    const row = await this.db
      .insertInto("agents")
      .values({ id: agent.id, name: agent.name, started_at: agent.startedAt, heartbeat_at: this.now() })
      .onConflict((conflict) => conflict.column("id").doUpdateSet({ heartbeat_at: this.now() }))
      .returning("heartbeat_at")
      .executeTakeFirstOrThrow();
    return Number(row.heartbeat_at);
  }

  async liveAgents(ttlMs: number): Promise<AgentRecord[]> {
    const rows = await this.db
      .selectFrom("agents")
      .selectAll()
      .where("heartbeat_at", ">", sql<number>`${this.now()} - ${ttlMs}`)
      .orderBy("started_at")
      .orderBy("id")
      .execute();
    return rows.map((row) => ({ id: row.id, name: row.name, startedAt: row.started_at, heartbeatAt: Number(row.heartbeat_at) }));
  }

  async forgetAgent(id: string): Promise<void> {
    await this.db.transaction().execute(async (transaction) => {
      await transaction.updateTable("leases").set({ holder: null, expires_at: 0 }).where("holder", "=", id).execute();
      await transaction.deleteFrom("agents").where("id", "=", id).execute();
    });
  }

  async ensure(stacks: readonly string[]): Promise<string[]> {
    const added: string[] = [];
    for (const part of chunked(stacks)) {
      const rows = await this.db
        .insertInto("leases")
        .values(part.map((stack) => ({ stack, holder: null, epoch: 0, expires_at: 0, acquired_at: null })))
        .onConflict((conflict) => conflict.column("stack").doNothing())
        .returning("stack")
        .execute();
      added.push(...rows.map((row) => row.stack));
    }
    return added;
  }

  async claim(holder: string, candidates: readonly string[], limit: number, ttlMs: number): Promise<Lease[]> {
    if (candidates.length === 0 || limit <= 0) return [];
    return this.db.transaction().execute(async (transaction) => {
      let free = transaction
        .selectFrom("leases")
        .select(["stack", "holder"])
        .where("stack", "in", candidates)
        .where((where) => where.or([where("holder", "is", null), where("expires_at", "<", this.now())]))
        // Agents claiming at once pick different rows instead of queueing on the same ones.
        .orderBy(sql`random()`)
        .limit(limit);
      if (this.dialect === "postgres") free = free.forUpdate().skipLocked();
      const picked = await free.execute();
      if (picked.length === 0) return [];
      const rows = await transaction
        .updateTable("leases")
        .set({ holder, epoch: sql<number>`epoch + 1`, expires_at: sql<number>`${this.now()} + ${ttlMs}`, acquired_at: new Date().toISOString() })
        .where(
          "stack",
          "in",
          picked.map((row) => row.stack),
        )
        .returning(["stack", "epoch"])
        .execute();
      const previous = new Map(picked.map((row) => [row.stack, row.holder]));
      return rows.map((row) => ({ stack: row.stack, epoch: Number(row.epoch), previousHolder: previous.get(row.stack) ?? null }));
    });
  }

  async renew(holder: string, held: ReadonlyMap<string, number>, ttlMs: number): Promise<Set<string>> {
    const renewed = new Set<string>();
    for (const part of chunked([...held.keys()])) {
      const rows = await this.db
        .updateTable("leases")
        .set({ expires_at: sql<number>`${this.now()} + ${ttlMs}` })
        .where("holder", "=", holder)
        .where("stack", "in", part)
        .returning(["stack", "epoch"])
        .execute();
      for (const row of rows) if (held.get(row.stack) === Number(row.epoch)) renewed.add(row.stack);
    }
    return renewed;
  }

  async release(holder: string, stack: string, epoch: number): Promise<void> {
    await this.db
      .updateTable("leases")
      .set({ holder: null, expires_at: 0 })
      .where("stack", "=", stack)
      .where("holder", "=", holder)
      .where("epoch", "=", epoch)
      .execute();
  }

  async drop(stack: string, holder: string, epoch: number): Promise<void> {
    await this.db.deleteFrom("leases").where("stack", "=", stack).where("holder", "=", holder).where("epoch", "=", epoch).execute();
  }

  async list(): Promise<LeaseRecord[]> {
    const rows = await this.db.selectFrom("leases").selectAll().orderBy("stack").execute();
    return rows.map((row) => ({
      stack: row.stack,
      holder: row.holder,
      epoch: Number(row.epoch),
      expiresAt: Number(row.expires_at),
      acquiredAt: row.acquired_at,
    }));
  }

  async addRequest(request: StackRequest): Promise<void> {
    await this.db.transaction().execute(async (transaction) => {
      await transaction
        .insertInto("stack_requests")
        .values({
          stack: request.stack,
          kind: request.kind,
          trigger: request.trigger,
          actor: request.actor,
          revision: request.revision,
          force: request.force ? 1 : 0,
          override: request.override ? 1 : 0,
          only_resources: request.only === undefined ? null : JSON.stringify(request.only),
          created_at: new Date().toISOString(),
        })
        .execute();
      await this.signal(transaction, "requests", request.stack);
    });
  }

  async takeRequests(stacks: readonly string[]): Promise<StackRequest[]> {
    const taken: { id: number; request: StackRequest }[] = [];
    for (const part of chunked(stacks)) {
      const rows = await this.db.deleteFrom("stack_requests").where("stack", "in", part).returningAll().execute();
      for (const row of rows)
        taken.push({
          id: Number(row.id),
          request: {
            stack: row.stack,
            kind: row.kind as StackRequestKind,
            trigger: row.trigger,
            actor: row.actor,
            revision: row.revision,
            force: Number(row.force) === 1,
            override: Number(row.override) === 1,
            ...(row.only_resources === null ? {} : { only: JSON.parse(row.only_resources) as string[] }),
          },
        });
    }
    return taken.sort((left, right) => left.id - right.id).map((item) => item.request);
  }

  /**
   * Inside a write's transaction: refuses it unless the fence's lease still
   * names this holder at this epoch. On PostgreSQL the row is share-locked
   * until the write commits, so a claim cannot slip in between.
   */
  async check(transaction: Transaction<Database>, fence: Fence): Promise<void> {
    fence.assertCurrent();
    let query = transaction.selectFrom("leases").select(["holder", "epoch"]).where("stack", "=", fence.stack);
    if (this.dialect === "postgres") query = query.forShare();
    const row = await query.executeTakeFirst();
    if (row === undefined) throw leaseLostError(fence, "the stack has no lease any more");
    if (row.holder !== fence.holder || Number(row.epoch) !== fence.epoch)
      throw leaseLostError(fence, row.holder === null ? "the lease was freed" : `another agent holds it at epoch ${Number(row.epoch)}`);
  }
}
