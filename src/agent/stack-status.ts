// A stack's status as the agent keeps it: conditions (computed in
// conditions.ts from what a step found), revisions and drift in the store,
// every write announced on the live stream, and the stack's events, logged as
// they are recorded.

import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { Condition, ConditionType, EventInput, StackStatus, StoredEvent, Store } from "../state/store.js";
import { conditionsFor, type ReconcileOutcome } from "./conditions.js";

/** What the event stream carries: a status write or a stored event. */
export type AgentNotice = { type: "event"; event: StoredEvent } | { type: "status"; status: StackStatus };

const conditionOrder: ConditionType[] = ["Ready", "Reconciling", "Stalled", "Degraded"];

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

/** Hears this agent's own outcomes and events (not other agents'), to tell people about them. */
export interface StatusListener {
  outcome(stack: string, outcome: ReconcileOutcome, before: readonly Condition[], after: readonly Condition[]): Promise<void>;
  events(events: readonly EventInput[]): Promise<void>;
}

export class StackStatusBook {
  readonly notices = new EventEmitter();
  listener: StatusListener | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Stacks no longer managed get no status writes (a job may finish after its stack left). */
    private readonly managed: (stack: string) => boolean,
  ) {
    this.notices.setMaxListeners(0);
    // Every stored event and status write (every agent's, on a PostgreSQL store), also what the engine writes during an apply, goes to the live stream.
    store.onEvents((events) => {
      for (const event of events) this.notices.emit("notice", { type: "event", event } satisfies AgentNotice);
    });
    store.onStatus((status) => this.notices.emit("notice", { type: "status", status } satisfies AgentNotice));
  }

  async status(stack: string): Promise<StackStatus> {
    return (await this.store.getStackStatus(stack)) ?? notCheckedStatus(stack);
  }

  async write(status: StackStatus): Promise<void> {
    await this.store.putStackStatus(status);
  }

  /**
   * Sets the conditions `outcome` means (and, in the same write, any other
   * status fields given in `also`); a condition's transition time moves only
   * when its status does.
   */
  async report(stack: string, outcome: ReconcileOutcome, also: Partial<Pick<StackStatus, "drift">> = {}): Promise<void> {
    if (!this.managed(stack)) return;
    const changes = conditionsFor(outcome);
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
    await this.listener?.outcome(stack, outcome, status.conditions, conditions);
  }

  async record(events: EventInput[]): Promise<void> {
    await this.store.appendEvents(events);
    for (const event of events)
      this.logger[eventLevel(event.type)]({ stack: event.stack, address: event.address ?? undefined, event: event.type }, event.message);
    await this.listener?.events(events);
  }
}

/** Events that need a person at once. */
const errorEvents = new Set(["stack.invalid", "admission.unavailable"]);
/** Events someone should see, but nothing is broken: a denial, drift, something kept or left out. */
const warnEvents = new Set([
  "policy.denied",
  "project.denied",
  "drift.detected",
  "drift.healed",
  "render.empty",
  "resource.orphaned",
  "resource.skipped",
  "run.recovered",
  "journal.resolved",
]);

/** The log level of an event, so log-based alerting can tell failures (error) and denials and drift (warn) from routine (info). */
export function eventLevel(type: string): "error" | "warn" | "info" {
  if (type.endsWith(".failed") || errorEvents.has(type)) return "error";
  return warnEvents.has(type) ? "warn" : "info";
}
