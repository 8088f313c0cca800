// The agent's side of the audit evidence: every `every` new events, or every
// `intervalMs` when fewer came, it signs the store's audit head with the key it
// holds outside the store and writes the checkpoint outside the store too. A
// last one is written on shutdown. With several agents each signs what it sees;
// a head signed twice is one file.

import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { errorMessage } from "../errors.js";
import { signCheckpoint, writeCheckpoint } from "../state/audit-checkpoints.js";
import type { Store } from "../state/store.js";

export interface CheckpointSettings {
  privateKey: KeyObject;
  directory: string;
  /** Sign once this many events are new… */
  every: number;
  /** …or this long after the last checkpoint, if any event is new. */
  intervalMs: number;
}

export class AuditCheckpointer {
  private timer: NodeJS.Timeout | undefined;
  private signed = { count: -1, at: 0 };
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly settings: CheckpointSettings,
    private readonly logger: Logger,
  ) {}

  start(): void {
    // Looked at often enough that `every` events never wait long; signing itself happens only when due.
    const tick = Math.min(10_000, Math.max(1_000, Math.floor(this.settings.intervalMs / 6)));
    this.timer = setInterval(() => void this.checkpoint(false), tick);
    this.timer.unref();
    void this.checkpoint(true);
  }

  /** Stops looking and signs what is there now. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.checkpoint(true);
  }

  private checkpoint(force: boolean): Promise<void> {
    this.running = this.running.then(async () => {
      try {
        const head = await this.store.auditHead();
        if (head === undefined || head.count === 0 || head.count === this.signed.count) return;
        const due = force || head.count - this.signed.count >= this.settings.every || Date.now() - this.signed.at >= this.settings.intervalMs;
        if (!due) return;
        const checkpoint = signCheckpoint(head, this.settings.privateKey);
        const file = await writeCheckpoint(this.settings.directory, checkpoint);
        this.signed = { count: head.count, at: Date.now() };
        if (file !== undefined) this.logger.info({ sequence: head.count, file }, "audit checkpoint signed");
      } catch (error) {
        this.logger.error({ err: errorMessage(error), directory: this.settings.directory }, "cannot write the audit checkpoint; trying again");
      }
    });
    return this.running;
  }
}
