// The platform repository's NotificationSink documents: where news goes (a
// signed webhook, Slack, Microsoft Teams, email over SMTP) and which news for
// which stacks (subscriptions by trigger, project, stack, StackSet, label).
// Addresses and passwords are secret references, resolved only when sending.

import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../errors.js";
import type { ParsedDocument } from "../render/yaml-documents.js";
import { parseDuration } from "../schedule.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import { secretReferenceSchema } from "../sdk/secret-reference.js";
import { durationSchema, stackNamePattern } from "../stack-definition.js";

export const notificationSinkKind = "NotificationSink";

export const notificationTriggers = [
  "sync-failed",
  "stalled",
  "degraded",
  "recovered",
  "drift-found",
  "drift-healed",
  "policy-denied",
  "rollback",
  "ato-expiring",
  "audit-chain-broken",
] as const;
export type NotificationTrigger = (typeof notificationTriggers)[number] | "test";

const secretOrText = Type.Union([Type.String({ minLength: 1 }), secretReferenceSchema]);
const names = Type.Array(Type.String({ minLength: 1 }), { minItems: 1 });

const subscriptionSchema = Type.Object(
  {
    triggers: Type.Array(Type.Union(notificationTriggers.map((trigger) => Type.Literal(trigger))), { minItems: 1 }),
    projects: Type.Optional(names),
    stacks: Type.Optional(names),
    stackSets: Type.Optional(names),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    atoWithinDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365, description: "ato-expiring: this many days ahead (default 30)." })),
  },
  { additionalProperties: false },
);

export const notificationSinkSchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(notificationSinkKind),
    metadata: Type.Object({ name: Type.String({ pattern: stackNamePattern }) }, { additionalProperties: true }),
    spec: Type.Object(
      {
        type: Type.Union([Type.Literal("webhook"), Type.Literal("slack"), Type.Literal("teams"), Type.Literal("email")]),
        url: Type.Optional({
          ...secretOrText,
          description: "webhook, slack, teams: where to POST; Slack's and Teams' addresses are credentials, so give a secret reference.",
        }),
        signingSecret: Type.Optional({ ...secretReferenceSchema, description: "webhook: the HMAC-SHA256 key of the X-Plumb-Signature header." }),
        email: Type.Optional(
          Type.Object(
            {
              host: Type.String({ minLength: 1 }),
              port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
              security: Type.Optional(
                Type.Union([Type.Literal("starttls"), Type.Literal("tls"), Type.Literal("none")], {
                  description: "starttls (default: required, refused without it), tls (implicit, port 465), none (loopback relays only).",
                }),
              ),
              username: Type.Optional(Type.String({ minLength: 1 })),
              password: Type.Optional(secretReferenceSchema),
              from: Type.String({ minLength: 3 }),
              to: Type.Array(Type.String({ minLength: 3 }), { minItems: 1 }),
              caFile: Type.Optional(Type.String({ minLength: 1, description: "PEM file of the CA the server's certificate chains to, if not a public one." })),
            },
            { additionalProperties: false },
          ),
        ),
        dedupWindow: Type.Optional({
          ...durationSchema,
          description: "The same news for the same stack is sent once per window (default 1h), then as a reminder.",
        }),
        subscriptions: Type.Array(subscriptionSchema, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type NotificationSinkDocument = Static<typeof notificationSinkSchema>;
export type Subscription = Static<typeof subscriptionSchema>;

export interface PlacedSink {
  sink: NotificationSinkDocument;
  file: string;
  line: number;
  dedupWindowMs: number;
}

/** What a stack is, for matching subscriptions. */
export interface StackFacts {
  name: string;
  project: string;
  stackSet: string | null;
  labels: Record<string, string>;
}

export function subscriptionMatches(subscription: Subscription, trigger: NotificationTrigger, stack: StackFacts): boolean {
  if (trigger !== "test" && !subscription.triggers.includes(trigger)) return false;
  if (subscription.projects !== undefined && !subscription.projects.includes(stack.project)) return false;
  if (subscription.stacks !== undefined && !subscription.stacks.includes(stack.name)) return false;
  if (subscription.stackSets !== undefined && (stack.stackSet === null || !subscription.stackSets.includes(stack.stackSet))) return false;
  return Object.entries(subscription.labels ?? {}).every(([key, value]) => stack.labels[key] === value);
}

/** Checks a NotificationSink document; takes it when it reads cleanly. Returns false for any other kind. */
export function readNotificationSink(document: ParsedDocument, kind: unknown, into: PlacedSink[], problems: PlumbError[]): boolean {
  if (kind !== notificationSinkKind) return false;
  const found = checkAgainstSchema(notificationSinkSchema, document.value);
  const problem = (message: string, at: (string | number)[], hint?: string) =>
    problems.push(new PlumbError("PLUMB_NOTIFICATION", message, { location: document.locate(at), ...(hint === undefined ? {} : { hint }) }));
  for (const item of found) problem(`NotificationSink: ${formatFieldPath(item.path)}: ${item.message}`, item.path, item.hint);
  if (found.length > 0) return true;
  const sink = document.value as unknown as NotificationSinkDocument;
  const name = sink.metadata.name;
  const { type, url, email, signingSecret } = sink.spec;
  if (type === "email" && email === undefined)
    return (problem(`NotificationSink ${name}: type email needs spec.email`, ["spec"], "give host, from and to"), true);
  if (type !== "email" && url === undefined) return (problem(`NotificationSink ${name}: type ${type} needs spec.url`, ["spec"]), true);
  if (type === "webhook" && signingSecret === undefined)
    return (problem(`NotificationSink ${name}: a webhook needs spec.signingSecret`, ["spec"], "receivers check the X-Plumb-Signature header with it"), true);
  if ((type === "slack" || type === "teams") && typeof url === "string")
    return (
      problem(
        `NotificationSink ${name}: a ${type} address is a credential; give it as a secret reference`,
        ["spec", "url"],
        "url: { secretRef: { name: …, key: … } }",
      ),
      true
    );
  if (into.some((other) => other.sink.metadata.name === name)) return (problem(`NotificationSink ${name} is declared twice`, ["metadata", "name"]), true);
  into.push({
    sink,
    file: document.position.file,
    line: document.position.line,
    dedupWindowMs:
      sink.spec.dedupWindow === undefined ? 3_600_000 : parseDuration(sink.spec.dedupWindow, `${document.position.file}: dedupWindow`, Number.MAX_SAFE_INTEGER),
  });
  return true;
}
