// The pure parts of promotion: the PromotionPolicy's judgement (source health,
// from, readyFor, windows), how long a stack has run its content, the Pin and
// PromotionPolicy documents as the platform scan reads them, and the forge
// repository addresses plumb promote opens pull requests on.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { scanPlatform } from "../src/agent/platform.js";
import { openPullRequest, parseRepository } from "../src/cli/promote.js";
import { judgePromotion, previousEnvironment, runningSince, type PlacedPromotionPolicy, type PromotionSource } from "../src/policy/promotion.js";

const placed: PlacedPromotionPolicy = {
  file: "promotion.yaml",
  ruleLines: [7, 10, 13],
  policy: {
    apiVersion: "plumb.dev/v1",
    kind: "PromotionPolicy",
    metadata: { name: "promotions" },
    spec: {
      environments: ["dev", "staging", "prod"],
      rules: [
        { name: "prod-only-from-staging", to: "prod", from: ["staging"] },
        { name: "soak", to: ["prod"], readyFor: "30m" },
        // Fridays from 16:00 UTC, for 64 hours: the weekend.
        { name: "no-weekend-releases", to: "prod", windows: [{ kind: "deny", schedule: "0 16 * * 5", duration: "64h" }] },
      ],
    },
  },
};

const healthy = (overrides: Partial<PromotionSource> = {}): PromotionSource => ({
  stack: "payments-staging",
  environment: "staging",
  suspended: false,
  revision: "a".repeat(40),
  ready: true,
  healthySince: "2026-11-25T08:00:00.000Z",
  ...overrides,
});
const prod = { stack: "payments-prod", environment: "prod" };
// A Wednesday at 10:00 UTC: outside the weekend window.
const wednesday = new Date("2026-11-25T10:00:00.000Z");

describe("judgePromotion", () => {
  it("lets a source that has run its revision Ready long enough through, outside the deny window", () => {
    expect(judgePromotion(placed, healthy(), prod, wednesday)).toEqual({ allowed: true });
    // Without a policy only the built-in checks apply.
    expect(judgePromotion(undefined, healthy({ environment: "dev", healthySince: wednesday.toISOString() }), prod, wednesday)).toEqual({ allowed: true });
  });

  it("refuses a source that is not running healthy, whatever the rules", () => {
    expect(judgePromotion(placed, healthy({ revision: null }), prod, wednesday)).toMatchObject({ allowed: false, rule: "healthy-source" });
    expect(judgePromotion(placed, healthy({ ready: false }), prod, wednesday)).toMatchObject({
      rule: "healthy-source",
      reason: "payments-staging is not Ready, so its revision is not running healthy",
    });
    expect(judgePromotion(placed, healthy({ suspended: true }), prod, wednesday)).toMatchObject({ rule: "healthy-source" });
    expect(judgePromotion(undefined, healthy(), { stack: "other", environment: "staging" }, wednesday)).toMatchObject({ rule: "different-environments" });
  });

  it("names the first rule that refuses and where it is", () => {
    expect(judgePromotion(placed, healthy({ environment: "dev", stack: "payments-dev" }), prod, wednesday)).toEqual({
      allowed: false,
      rule: "prod-only-from-staging",
      where: "promotion.yaml:7",
      reason: "prod may be promoted to only from staging, not from dev",
    });
    expect(judgePromotion(placed, healthy({ healthySince: "2026-11-25T09:45:30.000Z" }), prod, wednesday)).toEqual({
      allowed: false,
      rule: "soak",
      where: "promotion.yaml:10",
      reason: "payments-staging must have run aaaaaaaaaaaa Ready for 30m; it has for 14m30s",
    });
    expect(judgePromotion(placed, healthy({ healthySince: null }), prod, wednesday)).toMatchObject({ rule: "soak" });
    const saturday = new Date("2026-11-28T12:00:00.000Z");
    expect(judgePromotion(placed, healthy(), prod, saturday)).toMatchObject({
      rule: "no-weekend-releases",
      where: "promotion.yaml:13",
      reason: 'promotions to prod are closed: deny window "0 16 * * 5" for 64h is open',
    });
    // The rules guard prod only: staging from dev passes on a Saturday.
    expect(judgePromotion(placed, healthy({ environment: "dev" }), { stack: "payments-staging", environment: "staging" }, saturday)).toEqual({ allowed: true });
  });

  it("takes --from from the order of the environments", () => {
    expect(previousEnvironment(placed, "prod")).toBe("staging");
    expect(previousEnvironment(placed, "dev")).toBeUndefined();
    expect(previousEnvironment(undefined, "prod")).toBeUndefined();
  });
});

describe("runningSince", () => {
  const run = (digest: string, result: string, finishedAt: string) => ({ digest, result, finishedAt });
  it("is when the oldest of the newest unbroken series of succeeded runs of one digest finished", () => {
    expect(
      runningSince([
        run("d2", "failed", "2026-11-25T10:00:00Z"),
        run("d1", "succeeded", "2026-11-25T09:00:00Z"),
        run("d1", "succeeded", "2026-11-25T08:00:00Z"),
        run("d0", "succeeded", "2026-11-25T07:00:00Z"),
      ]),
    ).toBe("2026-11-25T08:00:00Z");
    expect(runningSince([run("d1", "succeeded", "2026-11-25T09:00:00Z"), run("d1", "failed", "2026-11-25T08:00:00Z")])).toBe("2026-11-25T09:00:00Z");
    expect(runningSince([run("d1", "failed", "2026-11-25T09:00:00Z")])).toBeNull();
  });
});

describe("Pin and PromotionPolicy documents", () => {
  const work = mkdtempSync(path.join(tmpdir(), "plumb-pins-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const platform = (files: Record<string, string>) => {
    const root = mkdtempSync(path.join(work, "platform-"));
    for (const [relative, text] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
      writeFileSync(path.join(root, relative), text);
    }
    return root;
  };
  const stack = "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web-prod }\nspec:\n  source: { path: apps/web, ref: main }\n  environment: prod\n";
  const revision = "0123456789abcdef0123456789abcdef01234567";

  it("reads a stack's source at its pin's commit", async () => {
    const root = platform({
      "stacks.yaml": stack,
      "pins/web-prod.yaml": `apiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: web-prod }\nspec: { revision: ${revision}, promotedFrom: web-staging }\n`,
    });
    const scan = await scanPlatform(root);
    expect(scan.problems).toEqual([]);
    const pinned = scan.stacks.get("web-prod");
    expect(pinned?.document.spec?.source).toEqual({ path: "apps/web", ref: { commit: revision } });
    expect(pinned?.pin).toEqual({ revision, file: "pins/web-prod.yaml", line: 1, promotedFrom: "web-staging" });
  });

  it("says what is wrong with a stray, doubled or malformed pin, and pins nothing with it", async () => {
    const root = platform({
      "stacks.yaml": stack,
      "pins/a.yaml": `apiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: web-dev }\nspec: { revision: ${revision} }\n`,
      "pins/b.yaml": `apiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: web-prod }\nspec: { revision: main }\n`,
      "pins/c.yaml": `apiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: web-prod }\nspec: { revision: ${revision} }\n---\napiVersion: plumb.dev/v1\nkind: Pin\nmetadata: { name: web-prod }\nspec: { revision: ${revision} }\n`,
    });
    const scan = await scanPlatform(root);
    const problems = scan.problems.map((problem) => problem.describe());
    expect(problems).toContainEqual(expect.stringContaining("pins/a.yaml:1: Pin web-dev: the platform has no stack of that name [PLUMB_PROMOTION]"));
    expect(problems).toContainEqual(expect.stringMatching(/^pins\/b\.yaml:4:[0-9]+: Pin: spec\.revision: .*pattern/));
    expect(problems).toContainEqual(expect.stringContaining("stack web-prod is pinned twice; the first Pin is at pins/c.yaml:1"));
    // The first good pin holds; the stray one changed nothing.
    expect(scan.stacks.get("web-prod")?.pin?.file).toBe("pins/c.yaml");
  });

  it("reports a broken PromotionPolicy, and marks it broken rather than absent", async () => {
    const root = platform({
      "stacks.yaml": stack,
      "promotion.yaml":
        "apiVersion: plumb.dev/v1\nkind: PromotionPolicy\nmetadata: { name: p }\nspec:\n  rules:\n    - { name: bad, to: prod, windows: [ { kind: deny, schedule: 'not a cron', duration: 1h } ] }\n",
    });
    const scan = await scanPlatform(root);
    expect(scan.promotions.policy).toBeUndefined();
    expect(scan.promotions.policyBroken).toBe(true);
    expect(scan.problems.map((problem) => problem.describe()).join("\n")).toContain('"not a cron" is not a cron expression');
  });
});

describe("parseRepository", () => {
  it("finds the pull request endpoint of GitHub, GitLab and Gitea repositories", () => {
    expect(parseRepository("https://github.com/acme/platform", {})).toMatchObject({
      forge: "github",
      pulls: "https://api.github.com/repos/acme/platform/pulls",
    });
    expect(parseRepository("https://gitlab.example.org/infra/teams/platform.git", {})).toMatchObject({
      forge: "gitlab",
      pulls: "https://gitlab.example.org/api/v4/projects/infra%2Fteams%2Fplatform/merge_requests",
    });
    expect(parseRepository("https://code.example.org/acme/platform", { PLUMB_FORGE: "gitea" })).toMatchObject({
      forge: "gitea",
      pulls: "https://code.example.org/api/v1/repos/acme/platform/pulls",
    });
  });

  it("refuses an address it cannot use, saying why, without echoing credentials", () => {
    expect(() => parseRepository("https://code.example.org/acme/platform", {})).toThrow("cannot tell which forge code.example.org is");
    expect(() => parseRepository("https://user:hunter2@github.com/acme/platform", {})).toThrow("must not carry credentials");
    expect(() => parseRepository("https://user:hunter2@github.com/acme/platform", {})).not.toThrow("hunter2");
    expect(() => parseRepository("https://github.com/acme", {})).toThrow("/<owner>/<repo>");
    expect(() => parseRepository("ftp://github.com/acme/platform", {})).toThrow("only http and https");
  });
});

describe("openPullRequest", () => {
  it("opens a GitLab merge request and a Gitea pull request as their APIs document, with their own token headers", async () => {
    const seen: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }[] = [];
    // A fake forge: the merge request and pull request endpoints of GitLab (/api/v4) and Gitea (/api/v1), in memory.
    const server = createServer((request, response) => {
      let text = "";
      request.on("data", (chunk: Buffer) => (text += chunk.toString()));
      request.on("end", () => {
        seen.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: JSON.parse(text) as Record<string, unknown> });
        response.writeHead(201, { "content-type": "application/json" });
        response.end(
          JSON.stringify(
            request.url?.startsWith("/api/v4/") === true
              ? { iid: 3, web_url: "https://gitlab.example/infra/platform/-/merge_requests/3" }
              : { number: 4, html_url: "https://gitea.example/acme/platform/pulls/4" },
          ),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const gitlab = parseRepository(`http://127.0.0.1:${port}/infra/platform`, { PLUMB_FORGE: "gitlab" });
      expect(await openPullRequest(gitlab, "gl-token", "plumb/promote-x", "main", "Promote x", "- x-prod: abc")).toBe(
        "https://gitlab.example/infra/platform/-/merge_requests/3",
      );
      const gitea = parseRepository(`http://127.0.0.1:${port}/acme/platform`, { PLUMB_FORGE: "gitea" });
      expect(await openPullRequest(gitea, "gt-token", "plumb/promote-y", "main", "Promote y", "- y-prod: def")).toBe(
        "https://gitea.example/acme/platform/pulls/4",
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/api/v4/projects/infra%2Fplatform/merge_requests",
      body: { source_branch: "plumb/promote-x", target_branch: "main", title: "Promote x", description: "- x-prod: abc", remove_source_branch: true },
    });
    expect(seen[0]?.headers["private-token"]).toBe("gl-token");
    expect(seen[1]).toMatchObject({
      method: "POST",
      url: "/api/v1/repos/acme/platform/pulls",
      body: { head: "plumb/promote-y", base: "main", title: "Promote y", body: "- y-prod: def" },
    });
    expect(seen[1]?.headers.authorization).toBe("token gt-token");
  });
});
