// Promotion between environments against a real git platform repository and a
// real agent: plumb promote pins, in staging, the revision dev runs healthy,
// as a commit the agent then applies; the PromotionPolicy's rules refuse with
// their name and place; a StackSet promotes as one pull request. The forge is
// a fake — a small HTTP server that follows GitHub's documented REST API for
// opening a pull request (no forge server runs here); the branch it names is
// real, in the real repository.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { launchChromium, logIn } from "./browser.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { fileResource, runCliAsync } from "./helpers.js";

let work: string;
let repository: TestRepository;
let agent: RunningAgent;

const stack = (name: string, environment: string, sourcePath: string) =>
  `---\napiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: ${sourcePath} }\n  environment: ${environment}\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } } }\n  sync: { auto: true, prune: true, interval: 1s }\n`;

const pin = (name: string, revision: string) => `apiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: ${name} }\nspec: { revision: ${revision} }\n`;

const policy = `apiVersion: plumb.dev/v1
kind: PromotionPolicy
metadata: { name: promotions }
spec:
  environments: [dev, staging, prod]
  rules:
    - name: prod-only-from-staging
      to: prod
      from: [staging]
    - name: soak-before-prod
      to: prod
      readyFor: 30m
`;

const content = (stackName: string) => readFileSync(path.join(work, "out", stackName, "app.txt"), "utf8");

async function summary(name: string): Promise<StackSummary> {
  return (await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`)).body;
}

async function appliedAt(name: string, revision: string): Promise<void> {
  await eventually(async () => ((await summary(name)).lastAppliedRevision === revision ? true : undefined), 30_000, `${name} at ${revision}`);
}

function promote(args: string[], environment: Record<string, string> = {}) {
  return runCliAsync(["promote", ...args, "--platform", repository.url, "--path", "platform", "--url", agent.url], {
    env: {
      PLUMB_TOKEN: agent.adminToken,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "Pat Promoter",
      GIT_AUTHOR_EMAIL: "pat@example.org",
      ...environment,
    },
  });
}

/** A fake GitHub: POST /repos/{owner}/{repo}/pulls, as documented, remembered in memory. */
class FakeGitHub {
  readonly pulls: { head: string; base: string; title: string; body: string }[] = [];
  readonly authorizations: string[] = [];
  private server: Server | undefined;
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        this.authorizations.push(String(request.headers.authorization));
        if (request.method === "POST" && request.url === "/api/repos/acme/platform/pulls" && request.headers.authorization === "Bearer forge-token-canary") {
          const pull = JSON.parse(text) as FakeGitHub["pulls"][number];
          this.pulls.push(pull);
          response.writeHead(201, { "content-type": "application/json" });
          response.end(JSON.stringify({ number: this.pulls.length, html_url: `https://github.example/acme/platform/pull/${this.pulls.length}` }));
          return;
        }
        response.writeHead(request.headers.authorization === "Bearer forge-token-canary" ? 404 : 401, { "content-type": "application/json" });
        response.end(JSON.stringify({ message: "Not Found" }));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

let first: string;
let pinned: string;

describe("plumb promote", () => {
  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-promote-"));
    repository = createTestRepository();
    // Pushes to the checked-out branch update its files too, so the test's own commits carry on from them.
    repository.git("config", "receive.denyCurrentBranch", "updateInstead");
    repository.write("platform/promotion.yaml", policy);
    repository.write(
      "platform/payments.yaml",
      ["dev", "staging", "prod"].map((environment) => stack(`payments-${environment}`, environment, "apps/payments")).join(""),
    );
    repository.write(
      "platform/teams.yaml",
      `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: teams }\nspec:\n  generators:\n    - matrix:\n        generators:\n          - list: { elements: [ { team: alpha }, { team: bravo } ] }\n          - list: { elements: [ { env: dev }, { env: staging } ] }\n  template:\n    metadata: { name: "{{ .team }}-{{ .env }}" }\n    spec:\n      source: { path: "apps/{{ .team }}" }\n      environment: "{{ .env }}"\n      providers: { default: { type: file, config: { root: "${path.join(work, "out")}/{{ .team }}-{{ .env }}" } } }\n      sync: { auto: true, interval: 1s }\n`,
    );
    for (const app of ["payments", "alpha", "bravo"]) repository.write(`apps/${app}/files.yaml`, fileResource("app", "app.txt", `${app} v1\n`));
    first = repository.commit("v1 everywhere");
    // Staging and prod start pinned at v1.
    for (const name of ["payments-staging", "payments-prod", "alpha-staging", "bravo-staging"])
      repository.write(`platform/pins/${name}.yaml`, pin(name, first));
    pinned = repository.commit("pin staging and prod at v1");
    agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data"), "--platform-interval", "1s"], {
      tokenFile: path.join(work, "token"),
    });
  });

  afterAll(async () => {
    await agent?.stop();
    repository?.cleanup();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it("pins staging at the revision dev runs healthy, as a commit the agent applies", async () => {
    for (const name of ["payments-staging", "payments-prod", "alpha-staging", "bravo-staging"]) await appliedAt(name, first);
    // Dev follows the branch: the pin commit changed nothing it renders, so it records the revision without a run.
    await appliedAt("payments-dev", pinned);
    repository.write("apps/payments/files.yaml", fileResource("app", "app.txt", "payments v2\n"));
    repository.write("apps/alpha/files.yaml", fileResource("app", "app.txt", "alpha v2\n"));
    const second = repository.commit("payments and alpha v2");
    await appliedAt("payments-dev", second);
    await appliedAt("alpha-dev", second);
    expect(content("payments-dev")).toBe("payments v2\n");
    expect(content("payments-staging")).toBe("payments v1\n");

    // The matrix says what is pending and whether it may go.
    const matrix = await agent.api<{
      environments: string[];
      applications: { name: string; cells: Record<string, { revision: string; promotion?: unknown }> }[];
    }>("GET", "/api/v1/environments");
    expect(matrix.body.environments).toEqual(["dev", "staging", "prod"]);
    const payments = matrix.body.applications.find((application) => application.name === "payments");
    expect(payments?.cells.staging?.promotion).toEqual({ from: "dev", revision: second, allowed: true });
    expect(payments?.cells.prod?.promotion).toBeUndefined();

    const dry = await promote(["payments", "--to", "staging", "--dry-run"]);
    expect(dry.stderr).toBe("");
    expect(dry.stdout).toContain(`would pin payments-staging at ${second.slice(0, 12)}`);
    expect(repository.git("rev-parse", "HEAD")).toBe(second);

    const promoted = await promote(["payments", "--to", "staging"]);
    expect(promoted.stderr).toBe("");
    expect(promoted.status).toBe(0);
    expect(promoted.stdout).toMatch(/committed [0-9a-f]{12} on main: platform\/pins\/payments-staging\.yaml/);
    const landed = repository.git("rev-parse", "HEAD");
    expect(landed).not.toBe(second);
    expect(repository.git("log", "-1", "--format=%an|%s", landed)).toBe("Pat Promoter|Promote payments from dev to staging");
    const written = parse(repository.git("show", `${landed}:platform/pins/payments-staging.yaml`)) as { spec: Record<string, string> };
    expect(written.spec).toMatchObject({ revision: second, promotedFrom: "payments-dev", promotedBy: "Pat Promoter" });

    await appliedAt("payments-staging", second);
    expect(content("payments-staging")).toBe("payments v2\n");
    expect(content("payments-prod")).toBe("payments v1\n");
    // Once there, nothing is pending, and a second promotion says so and commits nothing.
    const again = await promote(["payments", "--to", "staging"]);
    expect(again.stdout).toContain("nothing to promote");
    expect(repository.git("rev-parse", "HEAD")).toBe(landed);
  }, 120_000);

  it("refuses what the PromotionPolicy forbids, naming the rule and where it is", async () => {
    const head = repository.git("rev-parse", "HEAD");
    const fromDev = await promote(["payments", "--from", "dev", "--to", "prod"]);
    expect(fromDev.status).not.toBe(0);
    expect(fromDev.stderr).toContain("PLUMB_PROMOTION_REFUSED");
    expect(fromDev.stderr).toContain("rule prod-only-from-staging (promotion.yaml:7)");
    expect(fromDev.stderr).toContain("prod may be promoted to only from staging, not from dev");
    const tooSoon = await promote(["payments", "--to", "prod"]);
    expect(tooSoon.status).not.toBe(0);
    expect(tooSoon.stderr).toContain("rule soak-before-prod (promotion.yaml:10)");
    expect(tooSoon.stderr).toMatch(/payments-staging must have run [0-9a-f]{12} Ready for 30m; it has for [0-9]+m[0-9]+s/);
    const unknown = await promote(["nothing-like-it", "--to", "staging"]);
    expect(unknown.stderr).toContain("no StackSet, application or stack named nothing-like-it");
    expect(repository.git("rev-parse", "HEAD")).toBe(head);
    const matrix = await agent.api<{ applications: { name: string; cells: Record<string, { promotion?: { allowed: boolean; rule?: string } }> }[] }>(
      "GET",
      "/api/v1/environments",
    );
    const payments = matrix.body.applications.find((application) => application.name === "payments");
    expect(payments?.cells.prod?.promotion).toMatchObject({ from: "staging", allowed: false, rule: "soak-before-prod" });
  }, 60_000);

  it("promotes a StackSet as one branch and pull request, pinning only what is behind", async () => {
    const forge = new FakeGitHub();
    await forge.start();
    try {
      const head = repository.git("rev-parse", "HEAD");
      const environment = { PLUMB_FORGE: "github", PLUMB_FORGE_API: `http://127.0.0.1:${forge.port}/api`, PLUMB_FORGE_TOKEN: "forge-token-canary" };
      const result = await promote(["teams", "--to", "staging", "--pull-request", `http://127.0.0.1:${forge.port}/acme/platform`], environment);
      expect(result.stderr).toBe("");
      expect(result.stdout).toContain("opened https://github.example/acme/platform/pull/1");
      expect(`${result.stdout}${result.stderr}`).not.toContain("forge-token-canary");
      expect(forge.pulls).toHaveLength(1);
      const pull = forge.pulls[0] as FakeGitHub["pulls"][number];
      expect(pull.base).toBe("main");
      expect(pull.title).toBe("Promote teams from dev to staging");
      expect(pull.head).toMatch(/^plumb\/promote-teams-staging-[0-9a-f]{8}$/);
      // Only alpha moved in dev; bravo's staging already runs what its dev runs.
      expect(pull.body).toContain("alpha-staging");
      expect(pull.body).not.toContain("bravo-staging");
      const changed = repository.git("diff", "--name-only", `main...${pull.head}`).split("\n");
      expect(changed).toEqual(["platform/pins/alpha-staging.yaml"]);
      // Nothing lands on main until the pull request is merged.
      expect(repository.git("rev-parse", "main")).toBe(head);
      expect(content("alpha-staging")).toBe("alpha v1\n");

      const refusedToken = await promote(["teams", "--to", "staging", "--pull-request", `http://127.0.0.1:${forge.port}/acme/platform`], {
        ...environment,
        PLUMB_FORGE_TOKEN: "wrong-token-canary",
      });
      expect(refusedToken.status).not.toBe(0);
      expect(refusedToken.stderr).toContain("the token was refused");
      expect(refusedToken.stderr).not.toContain("wrong-token-canary");
    } finally {
      await forge.stop();
    }
  }, 60_000);

  it("shows on the environments page what is promotable and what a rule holds", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await logIn(page, agent.url, agent.adminToken);
      await page.getByRole("link", { name: "Environments" }).click();
      const row = (name: string) => page.locator("main table tbody tr", { has: page.getByRole("rowheader", { name, exact: true }) });
      await expect.poll(() => page.locator("main table thead").textContent(), { timeout: 15_000 }).toMatch(/dev.*staging.*prod/);
      // Columns: application, dev, staging, prod.
      await expect.poll(() => row("alpha").locator("td").nth(1).textContent()).toMatch(/[0-9a-f]{12} from dev: promotable/);
      await expect.poll(() => row("payments").locator("td").nth(2).textContent()).toMatch(/from staging: held by soak-before-prod/);
      expect(await row("payments").locator("td").nth(2).locator(".promotion .badge").getAttribute("title")).toMatch(/must have run [0-9a-f]{12} Ready for 30m/);
      expect(await row("bravo").locator(".promotion").count()).toBe(0);
      await page.screenshot({ path: path.join(tmpdir(), "plumb-promotion-environments.png") });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
