// Turning one piece of news into what each kind of sink takes, and sending it:
// a JSON body signed with HMAC-SHA256 for a generic webhook, a Block Kit
// message for Slack, an Adaptive Card for a Teams workflow, a plain-text mail
// over SMTP (STARTTLS required unless told otherwise). Addresses and passwords
// are resolved here, at send time, and no error message repeats them.

import { createHmac } from "node:crypto";
import { readFile } from "node:fs/promises";
import nodemailer from "nodemailer";
import { PlumbError } from "../errors.js";
import { redactor } from "../secrets/redaction.js";
import type { SecretReference } from "../sdk/secret-reference.js";
import type { NotificationTrigger, PlacedSink } from "./notification-sinks.js";

/** One piece of news, as queued: what every sink's message is made from. */
export interface Notice {
  [key: string]: string | null;
  trigger: NotificationTrigger;
  severity: "error" | "warning" | "info";
  title: string;
  text: string;
  stack: string;
  project: string;
  stackSet: string | null;
  environment: string | null;
  revision: string | null;
  /** The stack's page in the dashboard, when the agent knows its public address. */
  url: string | null;
  at: string;
}

export interface SecretSource {
  resolve(reference: SecretReference): Promise<string>;
}

/** The generic webhook's body (documented in the README): the notice and the message's id. */
export function webhookBody(notice: Notice, id: string): string {
  return JSON.stringify({ version: 1, id, ...notice });
}

/** `sha256=<hex>` of HMAC-SHA256 over the raw body, as X-Plumb-Signature carries it. */
export function webhookSignature(body: string, key: string): string {
  return `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
}

const facts = (notice: Notice) =>
  [
    ["Stack", notice.stack],
    ["Project", notice.project],
    ["StackSet", notice.stackSet],
    ["Environment", notice.environment],
    ["Revision", notice.revision === null ? null : notice.revision.slice(0, 12)],
  ].filter((fact): fact is [string, string] => fact[1] !== null);

const slackEscape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function slackMessage(notice: Notice): unknown {
  return {
    text: `${notice.title}: ${notice.text}`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: notice.title.slice(0, 150) } },
      { type: "section", text: { type: "mrkdwn", text: slackEscape(notice.text).slice(0, 3000) } },
      {
        type: "context",
        elements: [
          {
            type: "mrkdwn",
            text: facts(notice)
              .map(([name, value]) => `*${name}:* ${slackEscape(value)}`)
              .join("  ·  "),
          },
        ],
      },
      ...(notice.url === null
        ? []
        : [{ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open in Plumb" }, url: notice.url }] }]),
    ],
  };
}

export function teamsMessage(notice: Notice): unknown {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            {
              type: "TextBlock",
              text: notice.title,
              weight: "Bolder",
              size: "Medium",
              wrap: true,
              color: notice.severity === "error" ? "Attention" : notice.severity === "warning" ? "Warning" : "Default",
            },
            { type: "TextBlock", text: notice.text, wrap: true },
            { type: "FactSet", facts: facts(notice).map(([title, value]) => ({ title, value })) },
          ],
          actions: notice.url === null ? [] : [{ type: "Action.OpenUrl", title: "Open in Plumb", url: notice.url }],
        },
      },
    ],
  };
}

export function emailText(notice: Notice): { subject: string; text: string } {
  const lines = [notice.text, "", ...facts(notice).map(([name, value]) => `${name}: ${value}`), `When: ${notice.at}`];
  if (notice.url !== null) lines.push("", notice.url);
  return { subject: `[plumb] ${notice.title}`.replace(/[\r\n]+/g, " ").slice(0, 200), text: `${lines.join("\n")}\n` };
}

async function secretOrText(value: string | SecretReference, secrets: SecretSource): Promise<string> {
  return typeof value === "string" ? value : secrets.resolve(value);
}

async function post(sinkName: string, url: string, body: string, headers: Record<string, string>): Promise<void> {
  let address: URL;
  try {
    address = new URL(url);
  } catch {
    throw new PlumbError("PLUMB_NOTIFICATION", `sink ${sinkName}: its url is not an address`);
  }
  if (address.protocol !== "https:" && address.protocol !== "http:")
    throw new PlumbError("PLUMB_NOTIFICATION", `sink ${sinkName}: only http and https addresses`);
  // Said by host only: Slack's and Teams' paths are the credential.
  const where = address.host;
  let response: Response;
  try {
    response = await fetch(address, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "plumb", ...headers },
      body,
      redirect: "error",
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    throw new PlumbError("PLUMB_NOTIFICATION", `sink ${sinkName}: cannot reach ${where}: ${redactor.redact(cause).replaceAll(url, where)}`);
  }
  await response.text().catch(() => "");
  if (!response.ok) throw new PlumbError("PLUMB_NOTIFICATION", `sink ${sinkName}: ${where} answered HTTP ${response.status}`);
}

/** Sends one notice to one sink; throws PLUMB_NOTIFICATION saying why it did not arrive. */
export async function deliver(placed: PlacedSink, notice: Notice, id: string, secrets: SecretSource): Promise<void> {
  const { sink } = placed;
  const name = sink.metadata.name;
  const spec = sink.spec;
  if (spec.type === "email") {
    const email = spec.email as NonNullable<typeof spec.email>;
    const security = email.security ?? "starttls";
    const password = email.password === undefined ? undefined : await secrets.resolve(email.password);
    const transport = nodemailer.createTransport({
      host: email.host,
      port: email.port ?? (security === "tls" ? 465 : 587),
      secure: security === "tls",
      requireTLS: security === "starttls",
      ignoreTLS: security === "none",
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 20_000,
      ...(email.caFile === undefined ? {} : { tls: { ca: await readFile(email.caFile, "utf8") } }),
      ...(email.username === undefined ? {} : { auth: { user: email.username, pass: password ?? "" } }),
    });
    const { subject, text } = emailText(notice);
    try {
      await transport.sendMail({ from: email.from, to: email.to, subject, text, headers: { "X-Plumb-Delivery": id } });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new PlumbError(
        "PLUMB_NOTIFICATION",
        `sink ${name}: ${email.host} did not take the mail: ${redactor.redact(password === undefined ? message : message.replaceAll(password, "[redacted]"))}`,
      );
    } finally {
      transport.close();
    }
    return;
  }
  const url = await secretOrText(spec.url as string | SecretReference, secrets);
  if (spec.type === "webhook") {
    const body = webhookBody(notice, id);
    const key = await secrets.resolve(spec.signingSecret as SecretReference);
    await post(name, url, body, { "x-plumb-signature": webhookSignature(body, key), "x-plumb-delivery": id, "x-plumb-event": notice.trigger });
    return;
  }
  await post(name, url, JSON.stringify(spec.type === "slack" ? slackMessage(notice) : teamsMessage(notice)), {});
}
