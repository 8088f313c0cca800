// Single sign-on against a real OpenID Connect provider (oidc-provider, in
// this process, over HTTPS): alice (group team-alpha, viewer of project
// alpha) and bob (group team-beta-ops, operator of project beta) sign in to
// the dashboard in Chromium and see only their project; a change without the
// session's anti-forgery token is refused; signing out ends the session; bob
// signs in from the command line (plumb login, loopback redirect) and the CLI
// then sees what he may. Sign-ins and sign-outs are on the audit trail.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { launchChromium } from "./browser.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { cliPath, runCliAsync } from "./helpers.js";
import { startOidcServer, type OidcServer } from "./oidc-server.js";
import { freePort } from "./postgres-server.js";
import { writeTwoProjects } from "./two-projects.js";

let work: string;
let repository: TestRepository;
let oidc: OidcServer;
let agent: RunningAgent;
let browser: Browser;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-sso-"));
  const port = await freePort();
  const agentUrl = `http://127.0.0.1:${port}`;
  oidc = await startOidcServer({ agentUrl, users: { alice: ["team-alpha"], bob: ["team-beta-ops", "unrelated"] } });
  repository = createTestRepository();
  writeTwoProjects(repository, path.join(work, "out"), {
    alpha: "[ { groups: [team-alpha], role: viewer } ]",
    beta: "[ { groups: [team-beta-ops], role: operator } ]",
  });
  const commit = repository.commit("two projects with members");
  agent = await startAgent(
    [
      "--platform",
      repository.url,
      "--path",
      "platform",
      "--data-dir",
      path.join(work, "data"),
      "--listen",
      `127.0.0.1:${port}`,
      "--oidc-issuer",
      oidc.issuer,
      "--oidc-client-id",
      "plumb-dashboard",
      "--oidc-cli-client-id",
      "plumb-cli",
      "--public-url",
      agentUrl,
    ],
    { tokenFile: path.join(work, "token"), env: { PLUMB_OIDC_CLIENT_SECRET: oidc.clientSecret, NODE_EXTRA_CA_CERTS: oidc.caFile } },
  );
  for (const stack of ["a-app", "b-app"])
    await eventually(
      async () => ((await agent.api<StackSummary>("GET", `/api/v1/stacks/${stack}`)).body.lastAppliedRevision === commit ? true : undefined),
      30_000,
    );
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  await oidc?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** The provider's own login and consent pages, as a person fills them in. */
async function signInAtProvider(page: Page, user: string): Promise<void> {
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
}

/** A browser of its own (the provider's certificate is the test CA's), signed in to the dashboard as `user`. */
async function dashboardAs(user: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(agent.url);
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await signInAtProvider(page, user);
  await page.getByRole("heading", { name: "Stacks" }).waitFor();
  return { context, page };
}

/** A request from the dashboard's page, with its cookie and, when given, the anti-forgery token. */
async function fromPage(page: Page, method: string, route: string, csrf?: string): Promise<number> {
  return page.evaluate(
    async ({ method, route, csrf }) => (await fetch(route, { method, headers: csrf === undefined ? {} : { "x-csrf-token": csrf } })).status,
    { method, route, csrf },
  );
}

describe("single sign-on", () => {
  it("signs alice in to the dashboard with her project only, read-only, in an HttpOnly cookie session, and out again", async () => {
    const { context, page } = await dashboardAs("alice");
    await page.getByRole("link", { name: "a-app" }).waitFor();
    expect(await page.getByRole("link", { name: "b-app" }).count()).toBe(0);
    expect(await page.locator(".who").textContent()).toContain("alice@example.org");
    await page.getByRole("link", { name: "a-app" }).click();
    await page.getByRole("heading", { name: "Resources" }).waitFor();
    expect(await page.getByRole("region", { name: "Actions" }).count()).toBe(0);
    const cookie = (await context.cookies()).find((item) => item.name === "plumb_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax" });
    expect(await fromPage(page, "GET", "/api/v1/stacks/b-app")).toBe(404);

    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("API token").waitFor();
    expect(await fromPage(page, "GET", "/api/v1/session")).toBe(401);
    const audit = (
      await agent.api<{ items: { kind: string; actor: string; summary: { groups?: string[] } }[] }>("GET", "/api/v1/audit?actor=alice@example.org")
    ).body.items;
    expect(audit.map((item) => item.kind)).toEqual(["sign-in", "sign-out"]);
    expect(audit[0]?.summary.groups).toEqual(["team-alpha"]);
    await context.close();
  }, 60_000);

  it("lets bob act on his project, and refuses a change that lacks the session's anti-forgery token", async () => {
    const { context, page } = await dashboardAs("bob");
    await page.getByRole("link", { name: "b-app" }).click();
    await page.getByRole("region", { name: "Actions" }).waitFor();
    expect(await fromPage(page, "POST", "/api/v1/stacks/b-app/refresh")).toBe(403);
    const session = await page.evaluate(async () => (await (await fetch("/api/v1/session")).json()) as { csrfToken: string; grants: unknown[] });
    expect(session.grants).toEqual([{ project: "beta", role: "operator" }]);
    expect(await fromPage(page, "POST", "/api/v1/stacks/b-app/refresh", session.csrfToken)).toBe(202);
    expect(await fromPage(page, "POST", "/api/v1/stacks/a-app/refresh", session.csrfToken)).toBe(404);
    await context.close();
  }, 60_000);

  it("signs bob in from the command line, and the CLI then sees his project", async () => {
    const configDirectory = path.join(work, "cli-config");
    const environment = { ...process.env, PLUMB_CONFIG_DIR: configDirectory, NODE_EXTRA_CA_CERTS: oidc.caFile };
    const login = spawn(process.execPath, [cliPath, "login", "--url", agent.url, "--timeout", "60"], { env: environment, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    login.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    login.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => login.on("exit", resolve));
    const address = await eventually(async () => /https:\/\/127\.0\.0\.1:\d+\/auth\S+/.exec(output)?.[0], 20_000, "the sign-in address");
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(address);
    await signInAtProvider(page, "bob");
    await page.getByText("Signed in to Plumb").waitFor();
    expect(await exited, output).toBe(0);
    expect(output).toContain(`signed in to ${agent.url} as bob@example.org`);
    expect(statSync(path.join(configDirectory, "credentials.json")).mode & 0o777).toBe(0o600);
    await context.close();

    const status = await runCliAsync(["status", "--url", agent.url], { env: { PLUMB_CONFIG_DIR: configDirectory, NODE_EXTRA_CA_CERTS: oidc.caFile } });
    expect(status.stderr).toBe("");
    expect(status.stdout).toContain("b-app");
    expect(status.stdout).not.toContain("a-app");
  }, 90_000);
});
