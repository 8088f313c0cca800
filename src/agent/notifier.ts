// Telling people: what the agent's own work turns up (a sync that failed, a
// stack that stalled or recovered, drift found or healed, a policy denial, a
// rollback), an ATO date coming up and an audit chain that no longer verifies
// become notices; each subscribed sink gets one, through the store's queue
// (de-duplicated per sink, trigger and stack), and a sender delivers the queue
// with retries. Only the agent doing the work notices it, so several agents
// never send the same news twice.

import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { errorMessage, PlumbError } from "../errors.js";
import { redactor } from "../secrets/redaction.js";
import type { JsonObject } from "../sdk/resource.js";
import { auditEvents } from "../state/audit-export.js";
import { verifyAuditChain } from "../state/audit.js";
import type { QueuedNotification } from "../state/notification-queue.js";
import type { Condition, EventInput, Store } from "../state/store.js";
import type { ReconcileOutcome } from "./conditions.js";
import { deliver, type Notice, type SecretSource } from "./notification-delivery.js";
import { subscriptionMatches, type NotificationTrigger, type PlacedSink, type StackFacts } from "./notification-sinks.js";

export interface NotifierOptions {
  store: Store;
  /** The sinks as the platform repository last read cleanly, and the secrets to reach them. */
  sinks: () => readonly PlacedSink[];
  secrets: () => SecretSource;
  /** What the agent knows of a stack (undefined: not one of its stacks). */
  facts: (stack: string) => (StackFacts & { environment: string | null; atoDate: string | undefined }) | undefined;
  stacks: () => string[];
  /** The dashboard's address, for links; none without --public-url. */
  publicUrl: string | undefined;
  logger: Logger;
}

type NoticeDraft = Pick<Notice, "severity" | "title" | "text"> & { revision?: string | null };

const statusOf = (conditions: readonly Condition[], type: Condition["type"]) => conditions.find((condition) => condition.type === type)?.status;

/** The news in a reconcile outcome and the condition changes it made. */
export function outcomeNotices(
  stack: string,
  outcome: ReconcileOutcome,
  before: readonly Condition[],
  after: readonly Condition[],
): [NotificationTrigger, NoticeDraft][] {
  const notices: [NotificationTrigger, NoticeDraft][] = [];
  const failed = (text: string): NoticeDraft => ({ severity: "error", title: `${stack}: sync failed`, text });
  switch (outcome.kind) {
    case "source-failed":
      notices.push(["sync-failed", failed(outcome.message)]);
      break;
    case "render-failed":
      notices.push(["sync-failed", { ...failed(outcome.problems), revision: outcome.revision }]);
      break;
    case "plan-failed":
      notices.push(
        outcome.reason === "PolicyDenied"
          ? ["policy-denied", { severity: "warning", title: `${stack}: a policy denied the sync`, text: outcome.message }]
          : ["sync-failed", failed(outcome.message)],
      );
      break;
    case "apply-failed":
      if (!outcome.transient || outcome.exhausted) notices.push(["sync-failed", failed(outcome.failure)]);
      break;
    default:
      break;
  }
  const turned = (type: Condition["type"], to: Condition["status"]) => statusOf(before, type) !== to && statusOf(after, type) === to;
  const message = (type: Condition["type"]) => after.find((condition) => condition.type === type)?.message ?? "";
  if (turned("Stalled", "True")) notices.push(["stalled", { severity: "error", title: `${stack} is stalled`, text: message("Stalled") }]);
  if (turned("Degraded", "True")) notices.push(["degraded", { severity: "warning", title: `${stack} is degraded`, text: message("Degraded") }]);
  if (statusOf(before, "Ready") === "False" && statusOf(after, "Ready") === "True")
    notices.push(["recovered", { severity: "info", title: `${stack} recovered`, text: message("Ready") || "Ready again" }]);
  return notices;
}

/** The news in recorded events. */
export function eventNotices(event: EventInput): [NotificationTrigger, NoticeDraft] | undefined {
  const where = event.address === null ? "" : ` (${event.address})`;
  if (event.type === "drift.detected") return ["drift-found", { severity: "warning", title: `${event.stack}: drift found${where}`, text: event.message }];
  if (event.type === "drift.healed") return ["drift-healed", { severity: "info", title: `${event.stack}: drift healed${where}`, text: event.message }];
  if (event.type === "rollback.started") return ["rollback", { severity: "warning", title: `${event.stack}: rollback`, text: event.message }];
  return undefined;
}

export class Notifier {
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private lastPeriodicCheck = 0;

  constructor(private readonly options: NotifierOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.send();
      if (Date.now() - this.lastPeriodicCheck > 3_600_000) void this.periodicChecks();
    }, 2_000);
    this.timer.unref();
    this.send();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.sending;
  }

  /** Called by the status book for every outcome this agent reports. */
  async outcome(stack: string, outcome: ReconcileOutcome, before: readonly Condition[], after: readonly Condition[]): Promise<void> {
    for (const [trigger, draft] of outcomeNotices(stack, outcome, before, after)) await this.notify(trigger, stack, draft);
  }

  /** Called by the status book for the events this agent records. */
  async events(events: readonly EventInput[]): Promise<void> {
    for (const event of events) {
      const found = eventNotices(event);
      if (found !== undefined) await this.notify(found[0], event.stack, found[1]);
    }
  }

  /**
   * Queues the notice for every sink subscribed to it. A failure to queue is
   * logged, never thrown: telling people must not stop the work it reports on.
   */
  async notify(trigger: NotificationTrigger, stack: string, draft: NoticeDraft, dedup: { key?: string; windowMs?: number } = {}): Promise<void> {
    const facts = this.options.facts(stack) ?? { name: stack, project: "default", stackSet: null, labels: {}, environment: null, atoDate: undefined };
    const notice = this.notice(trigger, facts, draft);
    for (const placed of this.options.sinks()) {
      if (!placed.sink.spec.subscriptions.some((subscription) => subscriptionMatches(subscription, trigger, facts))) continue;
      try {
        await this.options.store.notificationQueue.enqueue({
          sink: placed.sink.metadata.name,
          trigger,
          stack,
          dedupKey: `${placed.sink.metadata.name}|${trigger}|${stack}${dedup.key === undefined ? "" : `|${dedup.key}`}`,
          windowMs: dedup.windowMs ?? placed.dedupWindowMs,
          payload: notice as unknown as JsonObject,
        });
      } catch (error) {
        this.options.logger.error({ stack, trigger, sink: placed.sink.metadata.name, err: errorMessage(error) }, "cannot queue a notification");
      }
    }
    this.send();
  }

  private notice(trigger: NotificationTrigger, facts: StackFacts & { environment: string | null }, draft: NoticeDraft): Notice {
    // Whatever a message says went through the same redaction as the log: a secret value never leaves in one.
    return {
      trigger,
      severity: draft.severity,
      title: redactor.redact(draft.title).slice(0, 300),
      text: redactor.redact(draft.text).slice(0, 4000),
      stack: facts.name,
      project: facts.project,
      stackSet: facts.stackSet,
      environment: facts.environment,
      revision: draft.revision ?? null,
      url: this.options.publicUrl === undefined ? null : `${this.options.publicUrl.replace(/\/+$/, "")}/#/stacks/${encodeURIComponent(facts.name)}`,
      at: new Date().toISOString(),
    };
  }

  /** `plumb notify test`: one message to one sink, now, with the outcome in the delivery log. */
  async test(sinkName: string): Promise<{ delivered: boolean; error: string | null }> {
    const placed = this.options.sinks().find((sink) => sink.sink.metadata.name === sinkName);
    if (placed === undefined)
      throw new PlumbError("PLUMB_NOT_FOUND", `no NotificationSink named ${sinkName}`, {
        hint: "see GET /api/v1/notifications for the sinks the platform declares",
      });
    const notice = this.notice(
      "test",
      { name: "(test)", project: "default", stackSet: null, labels: {}, environment: null },
      {
        severity: "info",
        title: "Test message from Plumb",
        text: `If you read this, sink ${sinkName} works.`,
      },
    );
    const id = randomUUID();
    let error: string | null = null;
    try {
      await deliver(placed, notice, id, this.options.secrets());
    } catch (failure) {
      error = failure instanceof PlumbError ? failure.message : errorMessage(failure);
    }
    await this.options.store.notificationQueue.logSent(
      { sink: sinkName, trigger: "test", stack: "(test)", dedupKey: `test|${id}`, payload: notice as unknown as JsonObject },
      id,
      error,
    );
    return { delivered: error === null, error };
  }

  /** Delivers what is due, one batch at a time; a second call while one runs is folded into it. */
  send(): void {
    this.sending = this.sending.then(async () => {
      try {
        for (;;) {
          const batch = await this.options.store.notificationQueue.claimDue(10);
          if (batch.length === 0) return;
          for (const item of batch) await this.deliverOne(item);
        }
      } catch (error) {
        this.options.logger.warn({ err: errorMessage(error) }, "cannot read the notification queue; trying again");
      }
    });
  }

  private async deliverOne(item: QueuedNotification): Promise<void> {
    const queue = this.options.store.notificationQueue;
    const placed = this.options.sinks().find((sink) => sink.sink.metadata.name === item.sink);
    try {
      if (placed === undefined) throw new PlumbError("PLUMB_NOTIFICATION", `sink ${item.sink} is no longer declared in the platform repository`);
      await deliver(placed, item.payload as unknown as Notice, item.id, this.options.secrets());
      await queue.delivered(item.id);
    } catch (error) {
      const message = error instanceof PlumbError ? error.message : errorMessage(error);
      const state = await queue.attemptFailed(item, message);
      if (state === "failed")
        this.options.logger.error(
          { sink: item.sink, stack: item.stack, trigger: item.trigger, attempts: item.attempts, err: message },
          "notification given up on",
        );
      else
        this.options.logger.warn(
          { sink: item.sink, stack: item.stack, trigger: item.trigger, attempt: item.attempts, err: message },
          "notification not delivered; retrying",
        );
    }
  }

  /** ATO dates coming up (once a day per stack and date) and the audit chain (hourly). */
  private async periodicChecks(): Promise<void> {
    this.lastPeriodicCheck = Date.now();
    try {
      const today = Date.parse(new Date().toISOString().slice(0, 10));
      for (const stack of this.options.stacks()) {
        const atoDate = this.options.facts(stack)?.atoDate;
        if (atoDate === undefined || Number.isNaN(Date.parse(atoDate))) continue;
        const days = Math.round((Date.parse(atoDate) - today) / 86_400_000);
        const inWindow = this.options
          .sinks()
          .some((placed) =>
            placed.sink.spec.subscriptions.some((subscription) => subscription.triggers.includes("ato-expiring") && days <= (subscription.atoWithinDays ?? 30)),
          );
        if (!inWindow) continue;
        await this.notify(
          "ato-expiring",
          stack,
          {
            severity: days < 0 ? "error" : "warning",
            title: days < 0 ? `${stack}: its ATO expired on ${atoDate}` : `${stack}: its ATO expires on ${atoDate}, in ${days} day(s)`,
            text: "Renew the authority to operate, or update the stack's atoDate.",
          },
          { key: atoDate, windowMs: 86_400_000 },
        );
      }
      const verdict = await verifyAuditChain(auditEvents(this.options.store, {}), await this.options.store.auditHead());
      if (!verdict.ok)
        await this.notify(
          "audit-chain-broken",
          "(platform)",
          { severity: "error", title: "The audit trail does not verify", text: `At event #${verdict.sequence}: ${verdict.problem}` },
          { windowMs: 86_400_000 },
        );
    } catch (error) {
      this.options.logger.warn({ err: errorMessage(error) }, "cannot run the notification checks; trying again in an hour");
    }
  }
}
