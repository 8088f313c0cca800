// The notification queue in the store: nothing queued is lost when an agent
// restarts, a repeat of the same news within its window is counted on the
// first message instead of sent (then a reminder), a sender claims a message by moving its
// next attempt on (so one that died lets go), and failures retry with backoff
// until they are given up on — every step visible in the delivery log.

import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import type { JsonObject } from "../sdk/resource.js";
import type { Database, NotificationsTable } from "./schema.js";

export type NotificationState = "pending" | "delivered" | "failed";

export interface QueuedNotification {
  id: string;
  sink: string;
  trigger: string;
  stack: string;
  dedupKey: string;
  payload: JsonObject;
  state: NotificationState;
  attempts: number;
  /** The same news again within the window, counted instead of sent. */
  repeats: number;
  nextAttemptAt: number;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface NotificationInput {
  sink: string;
  trigger: string;
  stack: string;
  /** Messages with the same key within `windowMs` of the last one sent are counted as repeats of it, not sent. */
  dedupKey: string;
  windowMs: number;
  payload: JsonObject;
}

/** How long a claimed message is left to its sender before another may try it. */
const claimMs = 60_000;
export const maxAttempts = 8;

/** 5 s, 10 s, 20 s, … at most 10 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(600_000, 5_000 * 2 ** Math.max(0, attempts - 1));
}

function fromRow(row: Selectable<NotificationsTable>): QueuedNotification {
  return {
    id: row.id,
    sink: row.sink,
    trigger: row.trigger,
    stack: row.stack,
    dedupKey: row.dedup_key,
    payload: JSON.parse(row.payload) as JsonObject,
    state: row.state as NotificationState,
    attempts: Number(row.attempts),
    repeats: Number(row.repeats),
    nextAttemptAt: Number(row.next_attempt_at),
    lastError: row.last_error,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
  };
}

export class NotificationQueue {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Queues a message, or counts it as a repeat of the one with the same key
   * queued within the window: a stack failing every minute sends one message,
   * and a reminder once the window has passed. Returns which.
   */
  async enqueue(input: NotificationInput, now = Date.now()): Promise<"queued" | "repeat"> {
    return this.db.transaction().execute(async (transaction) => {
      const since = new Date(now - input.windowMs).toISOString();
      const recent = await transaction
        .selectFrom("notifications")
        .select("id")
        .where("dedup_key", "=", input.dedupKey)
        .where("created_at", ">", since)
        .orderBy("created_at", "desc")
        .limit(1)
        .executeTakeFirst();
      if (recent !== undefined) {
        await transaction
          .updateTable("notifications")
          .set((expression) => ({ repeats: expression("repeats", "+", 1) }))
          .where("id", "=", recent.id)
          .execute();
        return "repeat";
      }
      await transaction
        .insertInto("notifications")
        .values({
          id: randomUUID(),
          sink: input.sink,
          trigger: input.trigger,
          stack: input.stack,
          dedup_key: input.dedupKey,
          payload: JSON.stringify(input.payload),
          state: "pending",
          attempts: 0,
          repeats: 0,
          next_attempt_at: now,
          last_error: null,
          created_at: new Date(now).toISOString(),
          delivered_at: null,
        })
        .execute();
      return "queued";
    });
  }

  /** Logs a message that was sent at once (a test), delivered or not. */
  async logSent(input: Omit<NotificationInput, "windowMs">, id: string, error: string | null, now = Date.now()): Promise<void> {
    await this.db
      .insertInto("notifications")
      .values({
        id,
        sink: input.sink,
        trigger: input.trigger,
        stack: input.stack,
        dedup_key: input.dedupKey,
        payload: JSON.stringify(input.payload),
        state: error === null ? "delivered" : "failed",
        attempts: 1,
        repeats: 0,
        next_attempt_at: now,
        last_error: error === null ? null : error.slice(0, 1000),
        created_at: new Date(now).toISOString(),
        delivered_at: error === null ? new Date(now).toISOString() : null,
      })
      .execute();
  }

  /** Claims up to `limit` messages that are due: each is this sender's for a minute. */
  async claimDue(limit: number, now = Date.now()): Promise<QueuedNotification[]> {
    const due = await this.db
      .selectFrom("notifications")
      .select(["id", "next_attempt_at"])
      .where("state", "=", "pending")
      .where("next_attempt_at", "<=", now)
      .orderBy("next_attempt_at")
      .limit(limit)
      .execute();
    const claimed: QueuedNotification[] = [];
    for (const candidate of due) {
      // Taken only if no other sender moved it first.
      const row = await this.db
        .updateTable("notifications")
        .set((expression) => ({ next_attempt_at: now + claimMs, attempts: expression("attempts", "+", 1) }))
        .where("id", "=", candidate.id)
        .where("state", "=", "pending")
        .where("next_attempt_at", "=", candidate.next_attempt_at)
        .returningAll()
        .executeTakeFirst();
      if (row !== undefined) claimed.push(fromRow(row));
    }
    return claimed;
  }

  async delivered(id: string, now = Date.now()): Promise<void> {
    await this.db
      .updateTable("notifications")
      .set({ state: "delivered", delivered_at: new Date(now).toISOString(), last_error: null })
      .where("id", "=", id)
      .execute();
  }

  /** A failed attempt: tried again after the backoff, or given up on after `maxAttempts`. */
  async attemptFailed(notification: QueuedNotification, error: string, now = Date.now()): Promise<NotificationState> {
    const state: NotificationState = notification.attempts >= maxAttempts ? "failed" : "pending";
    await this.db
      .updateTable("notifications")
      .set({ state, last_error: error.slice(0, 1000), next_attempt_at: now + retryDelayMs(notification.attempts) })
      .where("id", "=", notification.id)
      .execute();
    return state;
  }

  /** The delivery log, newest first. */
  async list(filter: { sink?: string; limit: number }): Promise<QueuedNotification[]> {
    let query = this.db.selectFrom("notifications").selectAll().orderBy("created_at", "desc").limit(filter.limit);
    if (filter.sink !== undefined) query = query.where("sink", "=", filter.sink);
    return (await query.execute()).map(fromRow);
  }

  /** Per sink: how many messages are in each state. */
  async counts(): Promise<{ sink: string; state: NotificationState; count: number }[]> {
    const rows = await this.db
      .selectFrom("notifications")
      .select(["sink", "state", (expression) => expression.fn.countAll<string | number>().as("count")])
      .groupBy(["sink", "state"])
      .execute();
    return rows.map((row) => ({ sink: row.sink, state: row.state as NotificationState, count: Number(row.count) }));
  }
}
