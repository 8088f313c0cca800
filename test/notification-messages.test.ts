// The pure parts of notifications: which outcomes and events are news, how
// subscriptions match, what each sink's message looks like, and the
// NotificationSink documents the platform scan refuses.

import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { emailText, slackMessage, webhookBody, webhookSignature, type Notice } from "../src/agent/notification-delivery.js";
import { subscriptionMatches } from "../src/agent/notification-sinks.js";
import { eventNotices, outcomeNotices } from "../src/agent/notifier.js";
import { scanPlatform } from "../src/agent/platform.js";
import type { Condition } from "../src/state/store.js";

const at = "2026-11-30T12:00:00.000Z";
const conditions = (ready: Condition["status"], stalled: Condition["status"] = "False", degraded: Condition["status"] = "False"): Condition[] => [
  { type: "Ready", status: ready, reason: "x", message: ready === "True" ? "revision abc is applied" : "not yet", lastTransitionTime: at },
  { type: "Stalled", status: stalled, reason: "x", message: "gave up", lastTransitionTime: at },
  { type: "Degraded", status: degraded, reason: "x", message: "the database is unreachable", lastTransitionTime: at },
];

describe("what is news", () => {
  it("a failure, a denial, a stall, a degradation and a recovery, each once at its transition", () => {
    const triggers = (outcome: Parameters<typeof outcomeNotices>[1], before: Condition[], after: Condition[]) =>
      outcomeNotices("web", outcome, before, after).map(([trigger]) => trigger);
    expect(
      triggers({ kind: "plan-failed", reason: "PolicyDenied", message: "owner missing", transient: false }, conditions("True"), conditions("False", "True")),
    ).toEqual(["policy-denied", "stalled"]);
    expect(
      triggers(
        { kind: "plan-failed", reason: "ProviderUnavailable", message: "down", transient: true },
        conditions("False", "False", "True"),
        conditions("False", "False", "True"),
      ),
    ).toEqual(["sync-failed"]);
    expect(triggers({ kind: "observe-failed", message: "down" }, conditions("True"), conditions("False", "False", "True"))).toEqual(["degraded"]);
    expect(triggers({ kind: "applied", revision: "abc" }, conditions("False", "True"), conditions("True"))).toEqual(["recovered"]);
    // Ready from Unknown (a first apply) is no recovery; a transient apply failure that will be retried is no news yet.
    expect(triggers({ kind: "applied", revision: "abc" }, conditions("Unknown"), conditions("True"))).toEqual([]);
    expect(
      triggers(
        { kind: "apply-failed", failed: 1, failure: "x", transient: true, transientMessage: "x", attempts: 1, exhausted: false },
        conditions("True"),
        conditions("True"),
      ),
    ).toEqual([]);
  });

  it("drift found and healed, and a rollback, from the events", () => {
    expect(eventNotices({ stack: "web", runId: null, address: "file.plumb.dev/v1/File/a", type: "drift.healed", message: "reverted" })?.[0]).toBe(
      "drift-healed",
    );
    expect(eventNotices({ stack: "web", runId: null, address: null, type: "rollback.started", message: "to abc" })?.[0]).toBe("rollback");
    expect(eventNotices({ stack: "web", runId: null, address: null, type: "run.started", message: "" })).toBeUndefined();
  });

  it("subscriptions match by trigger, project, stack, StackSet and every label", () => {
    const stack = { name: "pay-prod", project: "payments", stackSet: "teams", labels: { tier: "gold", env: "prod" } };
    expect(subscriptionMatches({ triggers: ["stalled"] }, "stalled", stack)).toBe(true);
    expect(subscriptionMatches({ triggers: ["stalled"] }, "degraded", stack)).toBe(false);
    expect(subscriptionMatches({ triggers: ["stalled"], projects: ["search"] }, "stalled", stack)).toBe(false);
    expect(subscriptionMatches({ triggers: ["stalled"], stackSets: ["teams"], labels: { tier: "gold" } }, "stalled", stack)).toBe(true);
    expect(subscriptionMatches({ triggers: ["stalled"], labels: { tier: "gold", env: "dev" } }, "stalled", stack)).toBe(false);
    expect(subscriptionMatches({ triggers: ["stalled"], stacks: ["other"] }, "stalled", stack)).toBe(false);
  });
});

describe("messages", () => {
  const notice: Notice = {
    trigger: "sync-failed",
    severity: "error",
    title: "web: sync failed\r\nBcc: everyone@example.org",
    text: "<script>alert(1)</script> & more",
    stack: "web",
    project: "default",
    stackSet: null,
    environment: "prod",
    revision: "0123456789abcdef0123",
    url: "https://plumb.example.org/#/stacks/web",
    at,
  };

  it("signs the webhook body with HMAC-SHA256 over the exact bytes sent", () => {
    const body = webhookBody(notice, "id-1");
    expect(JSON.parse(body)).toMatchObject({ version: 1, id: "id-1", trigger: "sync-failed", stack: "web" });
    expect(webhookSignature(body, "key")).toBe(`sha256=${createHmac("sha256", "key").update(body).digest("hex")}`);
  });

  it("escapes Slack's markup and keeps a mail subject on one line", () => {
    const blocks = (slackMessage(notice) as { blocks: { text?: { text: string } }[] }).blocks;
    expect(blocks[1]?.text?.text).toBe("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more");
    const mail = emailText(notice);
    expect(mail.subject).toBe("[plumb] web: sync failed Bcc: everyone@example.org");
    expect(mail.text).toContain("Revision: 0123456789ab");
  });
});

describe("NotificationSink documents", () => {
  const work = mkdtempSync(path.join(tmpdir(), "plumb-sinks-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("are refused with the reason when a credential is written out, a part is missing or a name repeats", async () => {
    const sink = (name: string, spec: string, subscriptions = "  subscriptions: [ { triggers: [stalled] } ]\n") =>
      `---\napiVersion: plumb.dev/v1\nkind: NotificationSink\nmetadata: { name: ${name} }\nspec:\n${spec}${subscriptions}`;
    writeFileSync(
      path.join(work, "sinks.yaml"),
      [
        sink("plain-slack", "  type: slack\n  url: https://hooks.slack.com/services/T/B/secret\n"),
        sink("unsigned", "  type: webhook\n  url: https://example.org/hook\n"),
        sink("no-mail", "  type: email\n"),
        sink("good", "  type: webhook\n  url: https://example.org/hook\n  signingSecret: { secretRef: { name: hook, key: key } }\n"),
        sink("good", "  type: webhook\n  url: https://example.org/other\n  signingSecret: { secretRef: { name: hook, key: key } }\n"),
        sink(
          "bad-trigger",
          "  type: webhook\n  url: https://example.org/hook\n  signingSecret: { secretRef: { name: hook, key: key } }\n",
          "  subscriptions: [ { triggers: [whenever] } ]\n",
        ),
      ].join(""),
    );
    const scan = await scanPlatform(work);
    const problems = scan.problems.map((problem) => problem.describe()).join("\n");
    expect(problems).toContain("NotificationSink plain-slack: a slack address is a credential; give it as a secret reference");
    expect(problems).toContain("NotificationSink unsigned: a webhook needs spec.signingSecret");
    expect(problems).toContain("NotificationSink no-mail: type email needs spec.email");
    expect(problems).toContain("NotificationSink good is declared twice");
    expect(problems).toMatch(/sinks\.yaml:\d+:\d+: NotificationSink: /);
    expect(scan.sinks.map((placed) => placed.sink.metadata.name)).toEqual(["good"]);
    // The message never repeats the address written out in the file.
    expect(problems).not.toContain("/services/T/B/secret");
  });
});
