// A stack's status as the agent keeps it: conditions (Ready, Reconciling,
// Stalled, Degraded — Flux's set), revisions and drift in the store, every
// write announced on the live stream, and the stack's events, logged as they
// are recorded.

import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { Condition, ConditionType, EventInput, StackStatus, StoredEvent, Store } from "../state/store.js";

/** What the event stream carries: a status write or a stored event. */
export type AgentNotice = { type: "event"; event: StoredEvent } | { type: "status"; status: StackStatus };

/** A condition change: status, reason, message. */
export type ConditionChange = readonly [Condition["status"], string, string];

const conditionOrder: ConditionType[] = ["Ready", "Reconciling", "Stalled", "Degraded"];

/** Every condition after `revision` was applied in full: Ready, nothing reconciling, stalled or degraded. */
export function appliedConditions(revision: string): Partial<Record<ConditionType, ConditionChange>> {
  return {
    Reconciling: ["False", "Succeeded", ""],
    Ready: ["True", "Succeeded", `revision ${revision} is applied`],
    Stalled: ["False", "Succeeded", ""],
    Degraded: ["False", "Succeeded", ""],
  };
}

/** The status of a stack the agent has not looked at yet. */
export function notCheckedStatus(stack: string): StackStatus {
  const now = new Date().toISOString();
  return {
    stack,
    suspended: false,
    conditions: conditionOrder.map((type) => ({ type, status: "Unknown" as const, reason: "NotChecked", message: "", lastTransitionTime: now })),
    lastAppliedRevision: null,
    lastAttemptedRevision: null,
    lastAppliedDigest: null,
    drift: null,
    updatedAt: now,
  };
}

export class StackStatusBook {
  readonly notices = new EventEmitter();

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Stacks no longer managed get no status writes (a job may finish after its stack left). */
    private readonly managed: (stack: string) => boolean,
  ) {
    this.notices.setMaxListeners(0);
    // Every stored event, also those the engine appends during an apply, goes to the live stream.
    store.onEvents((events) => {
      for (const event of events) this.notices.emit("notice", { type: "event", event } satisfies AgentNotice);
    });
  }

  async status(stack: string): Promise<StackStatus> {
    return (await this.store.getStackStatus(stack)) ?? notCheckedStatus(stack);
  }

  async write(status: StackStatus): Promise<void> {
    await this.store.putStackStatus(status);
    this.notices.emit("notice", { type: "status", status: { ...status, updatedAt: new Date().toISOString() } } satisfies AgentNotice);
  }

  /** Changes conditions (and, in the same write, any other status fields given in `also`); a condition's transition time moves only when its status does. */
  async setConditions(stack: string, changes: Partial<Record<ConditionType, ConditionChange>>, also: Partial<Pick<StackStatus, "drift">> = {}): Promise<void> {
    if (!this.managed(stack)) return;
    const status = await this.status(stack);
    const now = new Date().toISOString();
    const conditions = conditionOrder.map((type): Condition => {
      const current = status.conditions.find((condition) => condition.type === type) ?? {
        type,
        status: "Unknown",
        reason: "NotChecked",
        message: "",
        lastTransitionTime: now,
      };
      const change = changes[type];
      if (change === undefined) return current;
      const [value, reason, message] = change;
      return { type, status: value, reason, message, lastTransitionTime: value === current.status ? current.lastTransitionTime : now };
    });
    await this.write({ ...status, ...also, conditions });
  }

  async record(events: EventInput[]): Promise<void> {
    await this.store.appendEvents(events);
    for (const event of events) this.logger.info({ stack: event.stack, address: event.address ?? undefined, event: event.type }, event.message);
  }
}
