// What the live event stream hears from the store: appended events, in id
// order, and status writes. On SQLite only this process writes, so its own
// writes are delivered as they commit; on PostgreSQL every agent's writes reach
// every agent through NOTIFY, with a poll of the events each second in case a
// notification was lost (the listening connection dropped).

import type { Notifications } from "./notifications.js";
import type { EventRecord, StackStatus, StoredEvent } from "./store.js";

/** What the feed reads back from the store. */
export interface FeedSource {
  eventsAfter(afterId: number, limit: number): Promise<EventRecord[]>;
  lastEventId(): Promise<number>;
  getStackStatus(stack: string): Promise<StackStatus | undefined>;
}

const batchSize = 500;

export class StoreFeed {
  private readonly eventListeners = new Set<(events: readonly StoredEvent[]) => void>();
  private readonly statusListeners = new Set<(status: StackStatus) => void>();
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly unlisten: (() => void)[] = [];
  private lastId: number | undefined;
  private pulling = false;
  private again = false;

  constructor(
    private readonly source: FeedSource,
    private readonly notifications: Notifications,
    /** True on PostgreSQL: other processes write too, and everything comes through the notifications. */
    private readonly shared: boolean,
  ) {}

  onEvents(listener: (events: readonly StoredEvent[]) => void): () => void {
    this.eventListeners.add(listener);
    this.start();
    return () => this.eventListeners.delete(listener);
  }

  onStatus(listener: (status: StackStatus) => void): () => void {
    this.statusListeners.add(listener);
    this.start();
    return () => this.statusListeners.delete(listener);
  }

  /** This process appended `events` (SQLite; on PostgreSQL they arrive through the feed, in id order, like everyone's). */
  appended(events: readonly StoredEvent[]): void {
    if (!this.shared) for (const listener of this.eventListeners) listener(events);
  }

  /** This process wrote `stack`'s status (SQLite; on PostgreSQL the write's NOTIFY says so). */
  statusWritten(stack: string): void {
    if (!this.shared) this.announce(stack);
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const stop of this.unlisten) stop();
  }

  private start(): void {
    if (!this.shared || this.started) return;
    this.started = true;
    this.unlisten.push(this.notifications.listen("events", () => void this.pull()));
    this.unlisten.push(this.notifications.listen("status", (stack) => stack !== "" && this.announce(stack)));
    void this.pull();
    this.timer = setInterval(() => void this.pull(), 1_000);
    this.timer.unref();
  }

  private announce(stack: string): void {
    if (this.statusListeners.size === 0) return;
    this.source
      .getStackStatus(stack)
      .then((status) => {
        if (status !== undefined) for (const listener of this.statusListeners) listener(status);
      })
      .catch(() => undefined);
  }

  /** Delivers the events after the last one delivered; one pull at a time, another right after if asked meanwhile. */
  private async pull(): Promise<void> {
    if (this.pulling) {
      this.again = true;
      return;
    }
    this.pulling = true;
    try {
      this.lastId ??= await this.source.lastEventId();
      for (;;) {
        const batch = await this.source.eventsAfter(this.lastId, batchSize);
        if (batch.length === 0) break;
        this.lastId = (batch[batch.length - 1] as EventRecord).id;
        const stored = batch.map(({ id: _id, ...event }) => event);
        for (const listener of this.eventListeners) listener(stored);
        if (batch.length < batchSize) break;
      }
    } catch {
      // The store is away; the next poll or notification tries again.
    } finally {
      this.pulling = false;
      if (this.again) {
        this.again = false;
        void this.pull();
      }
    }
  }
}
