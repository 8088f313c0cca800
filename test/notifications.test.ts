// Notifications against real receivers on loopback: an HTTP server that checks
// the webhook's HMAC signature and takes Slack's and Teams' payloads, and a
// real SMTP server (smtp-server) that requires STARTTLS and a password. A
// failing stack sends one message per de-duplication window, drift healed and
// a recovery are told, a sink that cannot be reached retries with backoff in
// the delivery log without holding anything up, messages queued when the agent
// is killed are delivered after it restarts, and no secret is in any of it.

import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { launchChromium, logIn } from "./browser.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { fileResource, runCliAsync } from "./helpers.js";
import { freePort } from "./postgres-server.js";

const signingKey = "hmac-key-canary-4711";
const slackPath = "/services/T000/B000/slack-path-canary";
const teamsPath = "/workflows/teams-path-canary";
const smtpPassword = "smtp-password-canary-0815";

interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

let work: string;
let repository: TestRepository;
let agent: RunningAgent;
let http: Server;
let httpPort: number;
let smtp: SMTPServer;
let smtpPort: number;
let closedPort: number;
const received: Received[] = [];
const mails: { from: string; to: string[]; text: string; secure: boolean; user: string | undefined }[] = [];
/** While true the "flaky" endpoint answers 503, as a receiver that is down. */
let flakyDown = true;
let environment: Record<string, string>;

const bodiesAt = (route: string) => received.filter((item) => item.path === route).map((item) => JSON.parse(item.body) as Record<string, unknown>);

function platform(): void {
  const sink = (name: string, spec: string) => `---\napiVersion: plumb.dev/v1\nkind: NotificationSink\nmetadata: { name: ${name} }\nspec:\n${spec}`;
  const all = "  subscriptions: [ { triggers: [sync-failed, stalled, degraded, recovered, drift-found, drift-healed, policy-denied, rollback] } ]\n";
  repository.write(
    "platform/sinks.yaml",
    [
      sink("hooks", `  type: webhook\n  url: http://127.0.0.1:${httpPort}/webhook\n  signingSecret: { secretRef: { name: hooks, key: key } }\n${all}`),
      sink(
        "slack",
        `  type: slack\n  url: { secretRef: { name: slack, key: url } }\n  subscriptions: [ { triggers: [sync-failed, recovered], stacks: [broken] } ]\n`,
      ),
      sink(
        "teams",
        `  type: teams\n  url: { secretRef: { name: teams, key: url } }\n  subscriptions: [ { triggers: [drift-healed], labels: { tier: gold } } ]\n`,
      ),
      sink(
        "mail",
        `  type: email\n  email: { host: 127.0.0.1, port: ${smtpPort}, username: plumb, password: { secretRef: { name: smtp, key: password } }, from: plumb@example.org, to: [oncall@example.org], caFile: ${JSON.stringify(path.join(work, "smtp.crt"))} }\n  subscriptions: [ { triggers: [sync-failed], projects: [default] } ]\n`,
      ),
      sink(
        "down",
        `  type: webhook\n  url: http://127.0.0.1:${closedPort}/nobody\n  signingSecret: { secretRef: { name: hooks, key: key } }\n  subscriptions: [ { triggers: [sync-failed] } ]\n`,
      ),
      sink(
        "flaky",
        `  type: webhook\n  url: http://127.0.0.1:${httpPort}/flaky\n  signingSecret: { secretRef: { name: hooks, key: key } }\n  subscriptions: [ { triggers: [drift-healed] } ]\n`,
      ),
    ].join(""),
  );
  const stack = (name: string, sourcePath: string, extra = "") =>
    `---\napiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name}${extra} }\nspec:\n  source: { path: ${sourcePath} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } } }\n  sync: { auto: true, prune: true, selfHeal: true, interval: 1s, driftInterval: 1s }\n`;
  repository.write("platform/stacks.yaml", stack("broken", "apps/missing") + stack("healthy", "apps/healthy", ", labels: { tier: gold }"));
  repository.write("apps/healthy/files.yaml", fileResource("note", "note.txt", "as committed\n"));
}

describe("notifications", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-notify-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        path.join(work, "smtp.key"),
        "-out",
        path.join(work, "smtp.crt"),
        "-days",
        "1",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    );
    http = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk: Buffer) => (body += chunk.toString()));
      request.on("end", () => {
        const route = request.url ?? "/";
        received.push({ path: route, headers: request.headers, body });
        const signed = request.headers["x-plumb-signature"] === `sha256=${createHmac("sha256", signingKey).update(body).digest("hex")}`;
        const status = route === "/flaky" && flakyDown ? 503 : (route === "/webhook" || route === "/flaky") && !signed ? 401 : 200;
        response.writeHead(status);
        response.end(status === 200 ? "ok" : "no");
      });
    });
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    httpPort = (http.address() as { port: number }).port;
    smtp = new SMTPServer({
      key: readFileSync(path.join(work, "smtp.key")),
      cert: readFileSync(path.join(work, "smtp.crt")),
      authMethods: ["PLAIN", "LOGIN"],
      onAuth(auth, session, callback) {
        if (!session.secure) return callback(new Error("STARTTLS first"));
        if (auth.username === "plumb" && auth.password === smtpPassword) return callback(null, { user: "plumb" });
        return callback(new Error("Invalid username or password"));
      },
      onData(stream, session, callback) {
        let text = "";
        stream.on("data", (chunk: Buffer) => (text += chunk.toString()));
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address,
            to: session.envelope.rcptTo.map((item) => item.address),
            text,
            secure: session.secure,
            user: session.user as string | undefined,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    smtpPort = (smtp.server.address() as { port: number }).port;
    closedPort = await freePort();
    repository = createTestRepository();
    platform();
    repository.commit("sinks and stacks");
    environment = {
      PLUMB_SECRET_HOOKS_KEY: signingKey,
      PLUMB_SECRET_SLACK_URL: `http://127.0.0.1:${httpPort}${slackPath}`,
      PLUMB_SECRET_TEAMS_URL: `http://127.0.0.1:${httpPort}${teamsPath}`,
      PLUMB_SECRET_SMTP_PASSWORD: smtpPassword,
    };
    agent = await start();
  }, 60_000);

  async function start(): Promise<RunningAgent> {
    return startAgent(
      [
        "--platform",
        repository.url,
        "--path",
        "platform",
        "--data-dir",
        path.join(work, "data"),
        "--platform-interval",
        "1s",
        "--public-url",
        "https://plumb.example.org",
      ],
      { tokenFile: path.join(work, "token"), env: environment },
    );
  }

  afterAll(async () => {
    await agent?.stop();
    await new Promise((resolve) => http?.close(resolve));
    await new Promise<void>((resolve) => (smtp === undefined ? resolve() : smtp.close(() => resolve())));
    repository?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("tells every subscribed sink once that a stack fails, however often it fails, signed and shaped as each sink takes it", async () => {
    await eventually(async () => (bodiesAt("/webhook").some((body) => body.trigger === "sync-failed") ? true : undefined), 30_000, "the webhook's message");
    await eventually(async () => (mails.length > 0 ? true : undefined), 30_000, "the mail");
    await eventually(async () => (received.some((item) => item.path === slackPath) ? true : undefined), 30_000, "the Slack message");
    // The stack fails again every second; within the window that is still one message per sink.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const failures = bodiesAt("/webhook").filter((body) => body.trigger === "sync-failed" && body.stack === "broken");
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      version: 1,
      severity: "error",
      title: "broken: sync failed",
      stack: "broken",
      project: "default",
      url: "https://plumb.example.org/#/stacks/broken",
    });
    const webhook = received.find((item) => item.path === "/webhook") as Received;
    expect(webhook.headers["x-plumb-signature"]).toBe(`sha256=${createHmac("sha256", signingKey).update(webhook.body).digest("hex")}`);
    expect(webhook.headers["x-plumb-event"]).toBe("sync-failed");

    const slack = bodiesAt(slackPath);
    expect(slack).toHaveLength(1);
    const blocks = (slack[0] as { blocks: { type: string; text?: { text: string }; elements?: { url?: string }[] }[] }).blocks;
    expect(blocks.map((block) => block.type)).toEqual(["header", "section", "context", "actions"]);
    expect(blocks[0]?.text?.text).toBe("broken: sync failed");
    expect(blocks[3]?.elements?.[0]?.url).toBe("https://plumb.example.org/#/stacks/broken");

    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ from: "plumb@example.org", to: ["oncall@example.org"], secure: true, user: "plumb" });
    expect(mails[0]?.text).toContain("Subject: [plumb] broken: sync failed");
    expect(mails[0]?.text).toContain("https://plumb.example.org/#/stacks/broken");

    // The sink nobody answers at is retried with backoff, in the log, and held up nothing above.
    const log = await eventually(
      async () => {
        const answer = await agent.api<{
          items: { sink: string; state: string; attempts: number; repeats: number; lastError: string | null; nextAttemptAt: string | null }[];
        }>("GET", "/api/v1/notifications?sink=down");
        const item = answer.body.items[0];
        return item !== undefined && item.attempts >= 2 ? item : undefined;
      },
      30_000,
      "two attempts at the unreachable sink",
    );
    expect(log.state).toBe("pending");
    // One message for the down sink however often the stack failed: the repeats are counted on it.
    expect((await agent.api<{ items: unknown[] }>("GET", "/api/v1/notifications?sink=down")).body.items).toHaveLength(1);
    // The stack failed every second meanwhile: counted on the one message, not sent again.
    expect(log.repeats).toBeGreaterThan(0);
    expect(log.lastError).toContain(`sink down: cannot reach 127.0.0.1:${closedPort}`);
    expect(log.nextAttemptAt).not.toBeNull();
  }, 90_000);

  it("tells of drift healed and of a recovery, by label and stack subscriptions", async () => {
    await eventually(async () => (readFileSync(path.join(work, "out", "healthy", "note.txt"), "utf8") === "as committed\n" ? true : undefined));
    writeFileSync(path.join(work, "out", "healthy", "note.txt"), "changed by hand\n");
    await eventually(async () => (received.some((item) => item.path === teamsPath) ? true : undefined), 30_000, "the Teams card");
    const card = bodiesAt(teamsPath)[0] as {
      type: string;
      attachments: { contentType: string; content: { type: string; version: string; body: { type: string; text?: string }[]; actions: { url: string }[] } }[];
    };
    expect(card.type).toBe("message");
    expect(card.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.attachments[0]?.content).toMatchObject({ type: "AdaptiveCard", version: "1.4" });
    expect(card.attachments[0]?.content.body[0]?.text).toMatch(/^healthy: drift healed/);
    expect(card.attachments[0]?.content.actions[0]?.url).toBe("https://plumb.example.org/#/stacks/healthy");

    repository.write("apps/missing/files.yaml", fileResource("fixed", "fixed.txt", "now it renders\n"));
    repository.commit("broken is fixed");
    await eventually(
      async () => (bodiesAt(slackPath).some((body) => String(body.text).startsWith("broken recovered")) ? true : undefined),
      30_000,
      "the recovery on Slack",
    );
  }, 60_000);

  it("delivers what was queued when the agent was killed, after it restarts", async () => {
    // The flaky receiver is down: the drift-healed messages for it wait in the queue for their retry.
    await eventually(async () => (received.some((item) => item.path === "/flaky") ? true : undefined), 30_000, "a refused attempt");
    expect(await flakyDelivered()).toBeUndefined();
    await agent.stop("SIGKILL");
    flakyDown = false;
    agent = await start();
    await eventually(flakyDelivered, 90_000, "the queued message delivered after the restart");
    const delivered = received.filter((item) => item.path === "/flaky").at(-1) as Received;
    expect(JSON.parse(delivered.body)).toMatchObject({ trigger: "drift-healed", stack: "healthy" });
  }, 120_000);

  it("sends a test message on request, says why one did not arrive, and leaks no secret anywhere", async () => {
    const environmentForCli = { PLUMB_URL: agent.url, PLUMB_TOKEN: agent.adminToken };
    const ok = await runCliAsync(["notify", "test", "hooks"], { env: environmentForCli });
    expect(ok.stdout).toContain("delivered a test message to hooks");
    expect(bodiesAt("/webhook").some((body) => body.trigger === "test")).toBe(true);
    const failed = await runCliAsync(["notify", "test", "down"], { env: environmentForCli });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain(`did not arrive: sink down: cannot reach 127.0.0.1:${closedPort}`);
    const missing = await runCliAsync(["notify", "test", "nobody"], { env: environmentForCli });
    expect(missing.stderr).toContain("no NotificationSink named nobody");
    const log = await runCliAsync(["notify", "log"], { env: environmentForCli });
    expect(log.stdout).toMatch(/^hooks \(webhook\): .*delivered/m);
    const everything = [
      JSON.stringify(await agent.api("GET", "/api/v1/notifications")),
      log.stdout,
      ok.stdout,
      failed.stderr,
      agent.output(),
      ...received.filter((item) => item.path !== slackPath && item.path !== teamsPath).map((item) => item.body),
      ...mails.map((mail) => mail.text),
    ].join("\n");
    for (const secret of [signingKey, "slack-path-canary", "teams-path-canary", smtpPassword]) expect(everything).not.toContain(secret);
  }, 60_000);

  it("shows the sinks and the delivery log on the dashboard", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await logIn(page, agent.url, agent.adminToken);
      await page.getByRole("link", { name: "Notifications" }).click();
      const sinks = page.locator("section.card", { has: page.getByRole("heading", { name: "Sinks" }) });
      await expect.poll(() => sinks.locator("tbody").textContent(), { timeout: 15_000 }).toMatch(/hooks.*webhook.*delivered/);
      const log = page.locator("section.card", { has: page.getByRole("heading", { name: "Delivery log" }) });
      await page.getByLabel("Sink", { exact: true }).selectOption("down");
      // Only the down sink's messages once the filter's answer is in.
      await expect.poll(() => log.locator("tbody").textContent(), { timeout: 15_000 }).not.toContain("hooks");
      expect(await log.locator("tbody").textContent()).toContain(`sink down: cannot reach 127.0.0.1:${closedPort}`);
      expect(await log.locator("tbody").textContent()).toMatch(/repeat\(s\) not sent/);
      await page.screenshot({ path: path.join(tmpdir(), "plumb-notifications.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});

async function flakyDelivered(): Promise<true | undefined> {
  const answer = await agent.api<{ items: { state: string; trigger: string }[] }>("GET", "/api/v1/notifications?sink=flaky");
  return answer.body.items.some((item) => item.trigger === "drift-healed" && item.state === "delivered") ? true : undefined;
}
