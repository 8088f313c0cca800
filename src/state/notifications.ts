// Wake-ups between the processes on one store: PostgreSQL's LISTEN/NOTIFY over
// one connection of its own (re-opened with backoff when the server goes away,
// and every listener woken once it is back, to catch up on what it missed),
// or plain in-process delivery for SQLite. Never the only path: whoever
// listens also polls.

import { EventEmitter } from "node:events";
import pg from "pg";

export type StoreChannel = "events" | "status" | "requests";

export interface Notifications {
  listen(channel: StoreChannel, listener: (payload: string) => void): () => void;
  /** In-process delivery (SQLite): called after the write committed. */
  deliver(channel: StoreChannel, payload: string): void;
  close(): Promise<void>;
}

/** SQLite: one process writes, so its own writes are all there is to hear. */
export class LocalNotifications implements Notifications {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  listen(channel: StoreChannel, listener: (payload: string) => void): () => void {
    this.emitter.on(channel, listener);
    return () => this.emitter.off(channel, listener);
  }

  deliver(channel: StoreChannel, payload: string): void {
    this.emitter.emit(channel, payload);
  }

  async close(): Promise<void> {
    this.emitter.removeAllListeners();
  }
}

export function postgresChannel(channel: StoreChannel): string {
  return `plumb_${channel}`;
}

export class PostgresNotifications implements Notifications {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private client: pg.Client | undefined;
  private starting = false;
  private closed = false;
  private retryMs = 250;

  constructor(private readonly config: pg.ClientConfig) {}

  listen(channel: StoreChannel, listener: (payload: string) => void): () => void {
    this.emitter.on(channel, listener);
    void this.start();
    return () => this.emitter.off(channel, listener);
  }

  /** NOTIFY travels with the transaction that wrote; nothing to do here. */
  deliver(): void {}

  private async start(): Promise<void> {
    if (this.client !== undefined || this.starting || this.closed) return;
    this.starting = true;
    const client = new pg.Client(this.config);
    const reopen = () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end().catch(() => undefined);
      this.later();
    };
    client.on("error", reopen);
    client.on("end", reopen);
    client.on("notification", (message) => {
      const channel = message.channel.replace(/^plumb_/, "") as StoreChannel;
      this.emitter.emit(channel, message.payload ?? "");
    });
    try {
      await client.connect();
      for (const channel of ["events", "status", "requests"] as const) await client.query(`LISTEN ${postgresChannel(channel)}`);
      this.client = client;
      this.retryMs = 250;
      // Whatever was notified while no connection listened: every listener looks once.
      for (const channel of ["events", "status", "requests"] as const) this.emitter.emit(channel, "");
      if (this.closed) await client.end();
    } catch {
      client.end().catch(() => undefined);
      this.later();
    } finally {
      this.starting = false;
    }
  }

  private later(): void {
    if (this.closed) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, 5_000);
    setTimeout(() => void this.start(), delay).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emitter.removeAllListeners();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
