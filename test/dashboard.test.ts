// The dashboard end to end: Debian's Chromium driven by playwright-core against
// a real agent, a real git repository and a real PostgreSQL. Screenshots of
// every page at 1280 px and at phone width go to test-output/screenshots.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, logIn, seriousAccessibilityProblems } from "./browser.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { repositoryRoot } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
const screenshots = path.join(repositoryRoot, "test-output", "screenshots");
const hostile = "<img src=x onerror=\"window.__xss='label'\">";
let repository: TestRepository;
let work: string;
let agent: RunningAgent;
let browser: Browser;
let firstCommit: string;

function role(limit: number): string {
  return `apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: web_app }\nspec: { login: true, connectionLimit: ${limit} }\n`;
}

async function shoot(page: Page, name: string): Promise<void> {
  for (const [label, width, height] of [
    ["desktop", 1280, 900],
    ["phone", 390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    // Nothing may widen the page past the screen: at phone width that means sideways scrolling of everything.
    expect(await page.evaluate<number>("document.documentElement.scrollWidth"), `${name} at ${width} px`).toBeLessThanOrEqual(width);
    await page.screenshot({ path: path.join(screenshots, `${name}-${label}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/**
 * The README's pictures (docs/screenshots), taken only when PLUMB_DOCS_SCREENSHOTS
 * is set: the screen a person sees at each width, with `focus` scrolled into view.
 */
async function documentationShot(page: Page, name: string, focus: Locator): Promise<void> {
  if (process.env.PLUMB_DOCS_SCREENSHOTS === undefined) return;
  const directory = path.join(repositoryRoot, "docs", "screenshots");
  mkdirSync(directory, { recursive: true });
  for (const [label, width, height] of [
    ["desktop", 1280, 900],
    ["phone", 390, 844],
  ] as const) {
    await page.setViewportSize({ width, height });
    await page.evaluate("window.scrollTo(0, 0)");
    await focus.evaluate((element, block) => element.scrollIntoView({ block }), label === "desktop" ? "nearest" : "start");
    await page.screenshot({ path: path.join(directory, `${name}-${label}.png`) });
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** Serious or critical axe-core findings on the page as it stands, at phone and desktop width. */
async function accessibilityAtBothWidths(page: Page): Promise<unknown[]> {
  const found: unknown[] = [];
  for (const width of [390, 1280]) {
    await page.setViewportSize({ width, height: 900 });
    found.push(...(await seriousAccessibilityProblems(page)).map((problem) => ({ width, problem })));
  }
  return found;
}

beforeAll(async () => {
  mkdirSync(screenshots, { recursive: true });
  work = mkdtempSync(path.join(tmpdir(), "plumb-dashboard-"));
  repository = createTestRepository();
  repository.write(
    "platform/web.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web-app, labels: { team: web, note: ${JSON.stringify(hostile)} } }\nspec:\n  source: { path: apps/web }\n  environment: prod\n  sync: { auto: true, selfHeal: false, interval: 1s, driftInterval: 1s }\n`,
  );
  repository.write(
    "platform/other.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: billing-files, labels: { team: billing } }\nspec:\n  source: { path: apps/files }\n  sync: { auto: true, interval: 1h }\n`,
  );
  repository.write(
    "apps/web/stack.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: web-app }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } }\n`,
  );
  repository.write("apps/web/role.yaml", role(5));
  repository.write(
    "apps/files/stack.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: billing-files }\nspec:\n  providers:\n    default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out"))} } }\n`,
  );
  repository.write("apps/files/file.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: readme }\nspec: { path: README.txt, content: hi }\n");
  for (const name of readdirSync(path.join(repositoryRoot, "examples", "platform", "composites"))) {
    repository.write(`platform/composites/${name}`, readFileSync(path.join(repositoryRoot, "examples", "platform", "composites", name), "utf8"));
  }
  firstCommit = repository.commit("first version");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data"), "--platform-interval", "1s"], {
    tokenFile: path.join(work, "token"),
    env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password },
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await agent?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const connectionLimit = async () =>
  (await server.query<{ rolconnlimit: number }>("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'web_app'"))[0]?.rolconnlimit;

describe("the dashboard", () => {
  it("logs in, finds a stack, follows a commit, a drift, a sync and a rollback live, and renders hostile text as text", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(error.message));
    // The whole walk runs under the agent's Content-Security-Policy; a blocked script, style or request is a failure.
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
    });

    const first = await page.goto(agent.url);
    expect(first?.headers()["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(first?.headers()["x-content-type-options"]).toBe("nosniff");
    await shoot(page, "login");
    await page.getByLabel("API token").fill("plumb_wrong");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toBe("That token is not valid.");
    await logIn(page, agent.url, agent.adminToken);

    // Both stacks listed; sorting and the team and environment filters run on the server; the search finds one.
    await page.getByRole("link", { name: "billing-files" }).waitFor();
    const stackNames = () => page.locator("table.stacks tbody th").allTextContents();
    await expect.poll(stackNames).toEqual(["billing-files", "web-app"]);
    await page.getByRole("button", { name: "Stack", exact: true }).click();
    await expect.poll(stackNames).toEqual(["web-app", "billing-files"]);
    expect(await page.locator("th[aria-sort='descending']").textContent()).toContain("Stack");
    expect(page.url()).toContain("sort=name&order=desc");
    await page.getByLabel("Team").selectOption("billing");
    await expect.poll(stackNames).toEqual(["billing-files"]);
    await page.getByLabel("Team").selectOption("");
    await page.getByLabel("Environment").selectOption("prod");
    await expect.poll(stackNames).toEqual(["web-app"]);
    await page.getByLabel("Environment").selectOption("");
    await page.getByRole("searchbox").fill("web");
    await expect.poll(() => page.locator("table.stacks tbody tr").count()).toBe(1);
    await expect.poll(() => page.locator("table.stacks tbody").textContent(), { timeout: 30_000 }).toContain("Ready");
    await shoot(page, "stacks");

    await page.getByRole("link", { name: "web-app" }).click();
    await page.getByRole("heading", { name: /web-app/ }).waitFor();
    // Sync status and health, as two words; and the sync policy as the stack runs with it.
    await expect.poll(() => page.locator(".facts").textContent(), { timeout: 30_000 }).toMatch(/SyncSynced.*HealthHealthy/);
    await expect
      .poll(() => page.locator("dd.sync-policy").textContent())
      .toBe("automatic · no prune · drift reported only · commits every 1s · drift every 1s · retries until it succeeds");
    await expect.poll(() => page.locator("main").textContent(), { timeout: 30_000 }).toContain(firstCommit.slice(0, 12));

    // A commit is applied while the page is open: no reload.
    repository.write("apps/web/role.yaml", role(7));
    const second = repository.commit('<script>window.__xss="commit"</script> a bigger limit');
    await expect.poll(() => page.locator(".facts").textContent(), { timeout: 30_000 }).toContain(second.slice(0, 12));
    expect(await connectionLimit()).toBe(7);
    await expect.poll(() => page.locator("main").textContent()).toContain('<script>window.__xss="commit"</script> a bigger limit');

    // Drift made by hand shows up, with its diff; a sync clears it.
    await server.query("ALTER ROLE web_app CONNECTION LIMIT 1");
    const drift = page.locator("tr[data-address='postgres.plumb.dev/v1/Role/web_app'] .badge.warn");
    await drift.waitFor({ timeout: 30_000 });
    expect(await drift.textContent()).toBe("drift: /connectionLimit");
    await page.getByRole("button", { name: "Diff of postgres.plumb.dev/v1/Role/web_app" }).click();
    const diff = page.getByRole("region", { name: "Diff of postgres.plumb.dev/v1/Role/web_app" });
    await expect.poll(() => diff.textContent(), { timeout: 15_000 }).toMatch(/\/connectionLimit.*drift.*1.*7/);
    await shoot(page, "stack-drift");
    await page.getByRole("button", { name: "Sync now" }).click();
    await page.getByRole("button", { name: "Yes, sync now" }).click();
    await drift.waitFor({ state: "detached", timeout: 30_000 });
    expect(await connectionLimit()).toBe(7);
    await expect.poll(() => diff.textContent(), { timeout: 15_000 }).toContain("In sync");

    // Rollback to the first commit, chosen from the runs by its date, author and message.
    expect(await page.getByLabel("Roll back to").locator(`option[value="${firstCommit}"]`).textContent()).toMatch(
      new RegExp(`^${firstCommit.slice(0, 12)} · .+ · first version$`),
    );
    await page.getByLabel("Roll back to").selectOption(firstCommit);
    await page.getByRole("button", { name: "Roll back", exact: true }).click();
    await page.getByRole("button", { name: "Yes, roll back" }).click();
    await eventually(async () => ((await connectionLimit()) === 5 ? true : undefined), 30_000, "rolled back");
    await expect.poll(() => page.locator("h1").textContent(), { timeout: 15_000 }).toContain("Suspended");
    await expect.poll(() => page.locator(".facts").textContent(), { timeout: 15_000 }).toContain(`Applied${firstCommit.slice(0, 12)}`);
    // The newest run (the rollback) opens to the journal of what it changed.
    await page
      .getByRole("button", { name: /^Details/ })
      .first()
      .click();
    await expect
      .poll(() => page.locator("tr.run-detail").textContent(), { timeout: 15_000 })
      .toMatch(/update\s*postgres\.plumb\.dev\/v1\/Role\/web_app\s*applied/);
    await shoot(page, "stack");

    // Hostile label and commit message were shown as text, never run.
    await expect.poll(() => page.locator(".facts").textContent()).toContain(hostile);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: string }).__xss)).toBeUndefined();

    await page.getByRole("link", { name: "Overview" }).click();
    // Every stack is counted in exactly one state tile (web-app's state may still change just after its rollback).
    const stateCounts = page.getByRole("region", { name: "Stacks by state" }).locator(".number");
    await expect.poll(async () => (await stateCounts.allTextContents()).reduce((sum, text) => sum + Number(text), 0), { timeout: 15_000 }).toBe(2);
    await expect.poll(() => page.getByRole("img", { name: /Drift per day over 30 days/ }).getAttribute("aria-label")).toMatch(/[1-9]\d* left in place/);
    const recentRuns = page.locator("section.card", { has: page.getByRole("heading", { name: "Recent runs" }) });
    await expect.poll(() => recentRuns.locator("tbody").textContent()).toContain("web-app");
    await expect.poll(() => recentRuns.locator("tbody").textContent()).toContain("billing-files");
    await shoot(page, "overview");
    await page.getByRole("link", { name: "Environments" }).click();
    const matrix = page.locator("main table");
    await expect.poll(() => matrix.textContent(), { timeout: 15_000 }).toContain("prod");
    await expect.poll(() => page.locator("main table tbody tr", { hasText: "web-app" }).textContent()).toContain(firstCommit.slice(0, 12));
    await shoot(page, "environments");

    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    await expect.poll(() => page.locator("main table").textContent(), { timeout: 15_000 }).toContain("change.rollback");
    await page.getByLabel("Kind").selectOption("drift.detected");
    await expect.poll(async () => [...new Set(await page.locator("main table tbody tr td:nth-child(3)").allTextContents())]).toEqual(["drift.detected"]);
    // The filter is kept in the address: a reload (or a shared link) shows the same view.
    expect(page.url()).toContain("#/audit?kind=drift.detected");
    await page.reload();
    await expect.poll(() => page.getByLabel("Kind").inputValue()).toBe("drift.detected");
    await expect.poll(async () => [...new Set(await page.locator("main table tbody tr td:nth-child(3)").allTextContents())]).toEqual(["drift.detected"]);
    const download = page.waitForEvent("download");
    await page.getByRole("button", { name: "Export CSV" }).click();
    const csv = readFileSync(await (await download).path(), "utf8")
      .trim()
      .split("\n");
    expect(csv[0]).toMatch(/^sequence,at,kind,/);
    expect(csv.length).toBeGreaterThan(1);
    expect(csv.slice(1).every((line) => line.split(",")[2] === "drift.detected")).toBe(true);
    await shoot(page, "audit");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    await page.getByLabel("From").fill(tomorrow);
    await expect.poll(() => page.locator("main table tbody").textContent()).toBe("None.");
    await page.getByLabel("From").fill("");
    await page.getByRole("link", { name: "Compliance" }).click();
    await page.getByRole("heading", { name: "Inventory" }).waitFor();
    await expect.poll(() => page.locator("main").textContent()).toContain("Drift in the last 30 days");
    const byTeam = page.locator("figure.bars", { hasText: "Resources by team" });
    await expect.poll(() => byTeam.locator("dt").allTextContents()).toEqual(expect.arrayContaining(["web", "billing"]));
    expect(await page.getByRole("meter", { name: "Metadata coverage" }).getAttribute("aria-valuenow")).toMatch(/^\d+(\.\d)?$/);
    await shoot(page, "compliance");

    await page.getByRole("link", { name: "Docs" }).click();
    await page.getByRole("heading", { name: "Composite kinds" }).waitFor();
    await page.getByRole("heading", { name: /TeamDatabase/ }).waitFor();
    await shoot(page, "docs");
    expect(problems).toEqual([]);
    await page.close();
  }, 180_000);

  it("works from the keyboard alone: log in, search, open a stack, back out of a confirmation, open a diff", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    /** Presses Tab until the focused element's accessible text matches, as a keyboard user would. */
    const tabTo = async (pattern: RegExp) => {
      for (let presses = 0; presses < 40; presses++) {
        await page.keyboard.press("Tab");
        const focused = await page.evaluate<string>(
          "`${document.activeElement.tagName}:${document.activeElement.getAttribute('type') ?? ''}:${document.activeElement.textContent}`",
        );
        if (pattern.test(focused)) return;
      }
      throw new Error(`Tab never reached ${pattern}`);
    };
    await page.goto(agent.url);
    // The page renders after load; a person starts typing once the field has the cursor.
    await expect.poll(() => page.evaluate<string>("document.activeElement.id")).toBe("token");
    await page.keyboard.type(agent.adminToken);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Stacks" }).waitFor();
    await tabTo(/^INPUT:search:/);
    await page.keyboard.type("billing");
    await expect.poll(() => page.locator("table.stacks tbody tr").count()).toBe(1);
    await tabTo(/^A::billing-files$/);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /billing-files/ }).waitFor();

    await tabTo(/^BUTTON:button:Sync now$/);
    await page.keyboard.press("Enter");
    expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Yes, sync now");
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Sync now" }).waitFor();
    expect(await page.evaluate<string>("document.activeElement.textContent")).toBe("Sync now");

    await tabTo(/^BUTTON:button:Diff/);
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.getByRole("region", { name: "Diff of file.plumb.dev/v1/File/readme" }).textContent(), { timeout: 15_000 })
      .toContain("In sync");
    // The diff also holds the whole desired and live objects and the resource's own events.
    const readme = page.getByRole("region", { name: "Diff of file.plumb.dev/v1/File/readme" });
    await expect.poll(() => readme.getByRole("region", { name: "Desired manifest" }).textContent()).toContain('"path": "README.txt"');
    expect(await readme.getByRole("region", { name: "Live manifest" }).textContent()).toContain('"content": "hi"');
    expect(await readme.locator("ul.events").textContent()).toContain("resource.created");
    // The diff has the focus and is on screen; Escape closes it and gives the focus back to its button.
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('aria-label')")).toBe("Diff of file.plumb.dev/v1/File/readme");
    expect(await page.getByRole("region", { name: "Diff of file.plumb.dev/v1/File/readme" }).isVisible()).toBe(true);
    const box = await page.getByRole("region", { name: "Diff of file.plumb.dev/v1/File/readme" }).boundingBox();
    expect((box?.y ?? 10_000) + 40).toBeLessThan(900);
    await page.keyboard.press("Escape");
    expect(await page.evaluate<string | null>("document.activeElement.getAttribute('aria-label')")).toBe("Diff of file.plumb.dev/v1/File/readme");
    expect(await page.evaluate<string>("document.activeElement.tagName")).toBe("BUTTON");
    await page.close();
  }, 60_000);

  it("asks once typing pauses, drops a late answer, keeps one event stream, clears filters, and keeps the login in a new tab", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await logIn(page, agent.url, agent.adminToken);
    const stackNames = () => page.locator("table.stacks tbody th").allTextContents();
    await expect.poll(stackNames).toEqual(["billing-files", "web-app"]);
    const asked: string[] = [];
    let streams = 0;
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.pathname === "/api/v1/stacks") asked.push(url.searchParams.get("q") ?? "");
      if (url.pathname === "/api/v1/events") streams += 1;
    });
    await page.getByRole("searchbox").pressSequentially("billing", { delay: 30 });
    await expect.poll(stackNames).toEqual(["billing-files"]);
    // No half-typed word went to the server (a live reload may repeat the view before or after the typing), and the event stream stayed open.
    expect(asked).toContain("billing");
    expect(asked.filter((q) => q !== "" && q !== "billing")).toEqual([]);
    expect(streams).toBe(0);

    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(stackNames).toEqual(["billing-files", "web-app"]);
    expect(page.url()).not.toContain("q=");
    await page.getByRole("searchbox").fill("web");
    await expect.poll(stackNames).toEqual(["web-app"]);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Stacks" }).click();
    await expect.poll(stackNames).toEqual(["billing-files", "web-app"]);
    expect(await page.getByRole("searchbox").inputValue()).toBe("");

    // An answer that comes back after a newer one is dropped: the team filter's slow answer never replaces "any team".
    let delayed = false;
    await page.route("**/api/v1/stacks?*team=billing*", async (route) => {
      delayed = true;
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await route.continue();
    });
    const lateAnswer = page.waitForResponse((response) => response.url().includes("team=billing"));
    await page.getByLabel("Team").selectOption("billing");
    await page.getByLabel("Team").selectOption("");
    await expect.poll(stackNames).toEqual(["billing-files", "web-app"]);
    await lateAnswer;
    // Read right after the late answer lands, before a live reload could mend the view.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(delayed).toBe(true);
    expect(await stackNames()).toEqual(["billing-files", "web-app"]);
    await page.unroute("**/api/v1/stacks?*team=billing*");

    // A stack opened in a new tab does not ask for the token again.
    const second = await context.newPage();
    await second.goto(`${agent.url}/#/stacks/web-app`);
    await second.getByRole("heading", { name: /web-app/ }).waitFor();
    expect(await second.getByLabel("API token").count()).toBe(0);
    await context.close();
  }, 90_000);

  it("serves its files compressed ahead of time, caches the hashed ones for good, has a favicon, and keeps its source maps to itself", async () => {
    const index = await fetch(`${agent.url}/`, { headers: { "accept-encoding": "br, gzip" } });
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const html = await index.text();
    expect(html).toContain('rel="icon"');
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1] as string;
    expect(script).toBeDefined();
    const plain = await (await fetch(`${agent.url}${script}`, { headers: { "accept-encoding": "identity" } })).text();
    for (const encoding of ["br", "gzip"]) {
      // fetch decodes what it is sent; the header says whether it came compressed.
      const response = await fetch(`${agent.url}${script}`, { headers: { "accept-encoding": encoding } });
      expect(response.headers.get("content-encoding")).toBe(encoding);
      expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(await response.text()).toBe(plain);
    }
    const icon = await fetch(`${agent.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toContain("image/svg+xml");
    await icon.body?.cancel();
    const sourceMap = await fetch(`${agent.url}${script}.map`);
    expect(sourceMap.status).toBe(404);
    await sourceMap.body?.cancel();
    // Asked for by the flag, the same map is served and leads back to the dashboard's sources.
    const platform = mkdtempSync(path.join(work, "maps-platform-"));
    const withMaps = await startAgent(["--platform", platform, "--data-dir", path.join(work, "maps-data"), "--dashboard-source-maps"], {
      tokenFile: path.join(work, "maps-token"),
    });
    try {
      const served = await fetch(`${withMaps.url}${script}.map`);
      expect(served.status).toBe(200);
      expect(((await served.json()) as { sources: string[] }).sources.some((source) => source.endsWith("stack-page.tsx"))).toBe(true);
    } finally {
      await withMaps.stop();
    }
  });

  it("skips to the content, moves focus to each page it opens, lets the keyboard scroll wide tables, names each event's resource, says which action a person took, and goes dark with the system", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(page, agent.url, agent.adminToken);
    const focused = () => page.evaluate<string>("`${document.activeElement.tagName}:${document.activeElement.textContent.trim().slice(0, 40)}`");
    // The page's content has the focus after login; the skip link is the first thing Tab reaches from the top, shown when focused.
    await expect.poll(focused).toMatch(/^MAIN:/);
    expect(await page.evaluate<string>("document.querySelector('a[href], button, input, select, textarea, [tabindex]').textContent")).toBe("Skip to content");
    await page.locator("a.skip-link").focus();
    const skip = await page.locator("a.skip-link").boundingBox();
    expect(skip?.x ?? -1).toBeGreaterThanOrEqual(0);
    await page.keyboard.press("Enter");
    expect(await focused()).toMatch(/^MAIN:Stacks/);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Compliance" }).click();
    await page.getByRole("heading", { name: "Inventory" }).waitFor();
    await expect.poll(focused).toMatch(/^MAIN:/);
    // Every scrolling table is a named region the keyboard can focus.
    const regions = page.locator("div.scroll");
    expect(await regions.count()).toBeGreaterThan(0);
    for (const region of await regions.all()) {
      expect(await region.getAttribute("tabindex")).toBe("0");
      expect(await region.getAttribute("aria-label")).toBeTruthy();
    }

    // Someone asks for a refresh: the audit trail says which action it was.
    await page.goto(`${agent.url}/#/stacks/billing-files`);
    await page.getByRole("button", { name: "Refresh" }).click();
    await page.getByRole("button", { name: "Yes, refresh" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
    await page.getByLabel("Kind").selectOption("action");
    await expect.poll(() => page.locator("main table tbody tr").first().locator("td").nth(2).textContent(), { timeout: 15_000 }).toMatch(/^action\s+refresh/);

    // A stack's events name the resource each is about.
    await page.goto(`${agent.url}/#/stacks/billing-files`);
    const events = page.locator("ul.events li", { hasText: "resource." });
    await expect.poll(() => events.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await events.first().locator("code.address").textContent()).toBe("file.plumb.dev/v1/File/readme");

    // The dark theme follows the system's setting.
    const background = () => page.evaluate<string>("getComputedStyle(document.querySelector('main .card') ?? document.body).backgroundColor");
    const light = await background();
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await background();
    const luminance = (color: string) => {
      const [red, green, blue] = (color.match(/\d+/g) ?? []).map(Number) as [number, number, number];
      return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255;
    };
    expect(luminance(light)).toBeGreaterThan(0.8);
    expect(luminance(dark)).toBeLessThan(0.2);
    await shoot(page, "stack-dark");
    await page.close();
  }, 90_000);

  it("says when the agent stops answering, and stops saying it once it answers again", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(page, agent.url, agent.adminToken);
    await page.getByRole("link", { name: "billing-files" }).waitFor();
    const banner = page.locator("p.offline[role=alert]");
    expect(await banner.count()).toBe(0);
    await page.route("**/api/v1/stacks?*", (route) => route.abort("connectionrefused"));
    await page.getByRole("button", { name: "Stack", exact: true }).click();
    await banner.waitFor();
    await page.unroute("**/api/v1/stacks?*");
    await page.getByRole("button", { name: "Stack", exact: true }).click();
    await banner.waitFor({ state: "detached" });
    await page.close();
  }, 60_000);

  it("has no serious or critical accessibility problems on any page, at desktop or phone width (axe-core)", async () => {
    // axe-core is injected as an inline script, which the dashboard's Content-Security-Policy (tested above) rightly refuses.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    const problems: Record<string, unknown> = {};
    const scan = async (name: string, ready: () => Promise<unknown>) => {
      for (const [label, width, height] of [
        ["desktop", 1280, 900],
        ["phone", 390, 844],
      ] as const) {
        await page.setViewportSize({ width, height });
        await ready();
        const found = await seriousAccessibilityProblems(page);
        if (found.length > 0) problems[`${name} at ${label}`] = found;
      }
    };
    await page.goto(agent.url);
    await scan("login", () => page.getByLabel("API token").waitFor());
    await logIn(page, agent.url, agent.adminToken);
    await scan("stacks", () => page.getByRole("link", { name: "web-app" }).waitFor());
    for (const [route, heading] of [
      ["#/stacks/web-app", "Resources"],
      ["#/overview", "Overview"],
      ["#/environments", "Environments"],
      ["#/compliance", "Inventory"],
      ["#/audit", "Audit trail"],
      ["#/notifications", "Notifications"],
      ["#/docs", "Composite kinds"],
    ] as const) {
      await page.goto(`${agent.url}/${route}`);
      await scan(route, () => page.getByRole("heading", { name: heading }).first().waitFor());
    }
    expect(problems).toEqual({});
    await page.close();
  }, 120_000);

  it("shows no actions to a read-only token", async () => {
    const created = await agent.api<{ token: string }>("POST", "/api/v1/tokens", { body: { name: "viewer", role: "viewer" } });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await logIn(page, agent.url, created.body.token);
    await page.getByRole("link", { name: "web-app" }).click();
    await page.getByRole("heading", { name: "Resources" }).waitFor();
    expect(await page.getByRole("region", { name: "Actions" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /Sync now|Roll back|Suspend|Resume|Refresh/ }).count()).toBe(0);
    expect(await page.locator(".who").textContent()).toContain("viewer");
    await page.close();
  }, 60_000);

  it("keeps favourite stacks and named views in this browser, and shows the stacks as tiles", async () => {
    // bypassCSP: axe-core is injected as an inline script.
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await logIn(page, agent.url, agent.adminToken);
    const stackNames = () => page.locator("table.stacks tbody th").allTextContents();
    await page.getByRole("link", { name: "web-app" }).waitFor();
    const star = page.getByRole("button", { name: "Favourite web-app" });
    expect(await star.getAttribute("aria-pressed")).toBe("false");
    await star.click();
    expect(await star.getAttribute("aria-pressed")).toBe("true");
    await page.getByLabel("Favourites only").check();
    await expect.poll(stackNames).toEqual(["web-app"]);
    expect(page.url()).toContain("favourites=1");

    // The view on screen is saved under a name, survives a reload, and brings its filters back after they were cleared.
    await page.getByRole("button", { name: "Save this view" }).click();
    await page.getByLabel("View name").fill("My stacks");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(async () => (await stackNames()).length).toBeGreaterThan(1);
    await page.reload();
    await page.getByLabel("Saved views").selectOption("My stacks");
    await expect.poll(stackNames).toEqual(["web-app"]);
    expect(await page.getByRole("button", { name: "Favourite web-app" }).getAttribute("aria-pressed")).toBe("true");

    // Tiles show the same page of stacks, with the state, sync and health words.
    await page.getByRole("button", { name: "Tiles", exact: true }).click();
    const tiles = page.getByRole("list", { name: "Stacks as tiles" }).getByRole("listitem");
    await expect.poll(() => tiles.count()).toBe(1);
    expect(await tiles.first().textContent()).toMatch(/web-app.*(Synced|OutOfSync|Syncing).*(Healthy|Progressing|Unknown)/);
    expect(await page.locator("table.stacks").isVisible()).toBe(false);
    await shoot(page, "stacks-tiles");
    await documentationShot(page, "stacks-tiles", page.getByRole("list", { name: "Stacks as tiles" }));
    expect(await accessibilityAtBothWidths(page)).toEqual([]);
    // A star taken off a tile leaves the favourites-only view empty; the view itself can be deleted.
    await tiles.first().getByRole("button", { name: "Favourite web-app" }).click();
    await expect.poll(() => tiles.count()).toBe(0);
    await page.getByText("No stacks match.").waitFor();
    await page.getByRole("button", { name: "Delete view “My stacks”" }).click();
    expect(await page.getByLabel("Saved views").locator("option").allTextContents()).toEqual(["none saved yet"]);
    // The choice of tiles is kept for the next visit; the table comes back on request.
    await page.reload();
    await expect.poll(() => page.getByRole("list", { name: "Stacks as tiles" }).count()).toBe(1);
    await page.getByRole("button", { name: "Table", exact: true }).click();
    expect(await page.locator("table.stacks").isVisible()).toBe(true);
    await page.close();
  }, 60_000);

  it("draws the resources as a graph with health icons and foldable claims, opens a node's whole desired and live manifests, and dry-runs and syncs chosen resources", async () => {
    repository.write(
      "platform/reports.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: reports }\nspec:\n  source: { path: apps/reports }\n  sync: { auto: false, interval: 1s, driftInterval: 1h }\n`,
    );
    repository.write(
      "apps/reports/stack.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: reports }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } }\n`,
    );
    repository.write(
      "apps/reports/resources.yaml",
      [
        "apiVersion: postgres.plumb.dev/v1\nkind: Database\nmetadata: { name: reports }\nspec: {}\n",
        "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: reports_owner, annotations: { plumb.dev/depends-on: postgres.plumb.dev/v1/Database/reports, plumb.dev/sync-wave: '1' } }\nspec: { login: false, connectionLimit: 3 }\n",
        "apiVersion: platform.example.org/v1\nkind: ReadOnlyAccess\nmetadata: { name: readers, annotations: { plumb.dev/depends-on: postgres.plumb.dev/v1/Database/reports } }\nspec: { login: reports_reader, database: reports, schemas: [public] }\n",
      ].join("---\n"),
    );
    repository.commit("a reports database with a read-only claim");
    // The stack syncs by hand only (so a person may sync chosen resources of it): it is synced once here.
    await eventually(async () => ((await agent.api("POST", "/api/v1/stacks/reports/sync")).status === 202 ? true : undefined), 30_000, "reports known");
    await eventually(
      async () => {
        const answer = await agent.api<{ items: { health: string }[] }>("GET", "/api/v1/stacks/reports/resources");
        return answer.status === 200 && answer.body.items.length === 6 && answer.body.items.every((item) => item.health === "Healthy") ? true : undefined;
      },
      60_000,
      "the reports stack applied",
    );

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
    await logIn(page, agent.url, agent.adminToken);
    await page.goto(`${agent.url}/#/stacks/reports`);
    await page.getByRole("heading", { name: /Resources/ }).waitFor();
    await page.getByRole("button", { name: "Graph", exact: true }).click();
    const graph = page.getByRole("region", { name: "Resource graph" });
    const nodes = graph.locator("[data-address]");
    // Six resources and the claim; every resource has its health icon, healthy.
    await expect.poll(() => nodes.count()).toBe(7);
    expect(await graph.locator(".node.resource .health-icon.healthy").count()).toBe(6);
    // The database comes before what depends on it, the claim before what it composed.
    const left = async (address: string) => (await graph.locator(`[data-address="${address}"]`).boundingBox())?.x ?? Number.NaN;
    expect(await left("postgres.plumb.dev/v1/Role/reports_owner")).toBeGreaterThan(await left("postgres.plumb.dev/v1/Database/reports"));
    expect(await left("postgres.plumb.dev/v1/Role/reports_reader")).toBeGreaterThan(await left("platform.example.org/v1/ReadOnlyAccess/readers"));
    expect(await graph.locator(".edge.composed").count()).toBe(4);
    await shoot(page, "stack-graph");
    await documentationShot(page, "stack-graph", graph);
    expect(await accessibilityAtBothWidths(page)).toEqual([]);

    // Folding the claim hides its four composed resources; the keyboard unfolds it.
    const claim = graph.getByRole("button", { name: /ReadOnlyAccess readers/ });
    await claim.click();
    await expect.poll(() => nodes.count()).toBe(3);
    expect(await claim.getAttribute("aria-expanded")).toBe("false");
    expect(await claim.textContent()).toContain("+4");
    await claim.focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => nodes.count()).toBe(7);

    // The choice of view is kept: a reload shows the graph again.
    await page.reload();
    await expect.poll(() => nodes.count(), { timeout: 15_000 }).toBe(7);

    // A node opens its diff with the whole desired object and the whole live one, not only the fields that differ.
    await graph.getByRole("button", { name: /^Role reports_owner Synced, Healthy/ }).click();
    const diff = page.getByRole("region", { name: "Diff of postgres.plumb.dev/v1/Role/reports_owner" });
    await expect.poll(() => diff.textContent(), { timeout: 15_000 }).toContain("In sync");
    const live = diff.getByRole("region", { name: "Live manifest" });
    await expect.poll(() => live.textContent(), { timeout: 15_000 }).toContain('"connectionLimit": 3');
    expect(await diff.getByRole("region", { name: "Desired manifest" }).textContent()).toMatch(/"login": false,\s*"connectionLimit": 3/);
    expect(await live.textContent()).toContain('"login": false');
    await server.query("ALTER ROLE reports_owner CONNECTION LIMIT 9");
    await page.keyboard.press("Escape");
    await graph.getByRole("button", { name: /^Role reports_owner/ }).click();
    await expect.poll(() => live.textContent(), { timeout: 15_000 }).toContain('"connectionLimit": 9');
    await shoot(page, "stack-graph-diff");
    await documentationShot(page, "stack-graph-diff", diff);
    expect(await accessibilityAtBothWidths(page)).toEqual([]);

    // A dry run says what a sync would change, and changes nothing.
    const limitOf = async () =>
      (await server.query<{ rolconnlimit: number }>("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'reports_owner'"))[0]?.rolconnlimit;
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "List", exact: true }).click();
    await page.getByRole("button", { name: "Dry run", exact: true }).click();
    const dry = page.getByRole("region", { name: "Dry run" });
    await expect
      .poll(() => dry.textContent(), { timeout: 30_000 })
      .toMatch(/1 update\. Nothing has been applied\.update\s*postgres\.plumb\.dev\/v1\/Role\/reports_owner.*\/connectionLimit: 9 → 3/);
    expect(await limitOf()).toBe(9);
    // Chosen resources: their own dry run, then a sync of only them.
    // The list says the role's sync wave.
    expect(await page.locator("tr[data-address='postgres.plumb.dev/v1/Role/reports_owner']").textContent()).toContain("wave 1");
    await page.getByLabel("Choose postgres.plumb.dev/v1/Role/reports_owner").check();
    await page.getByRole("button", { name: "Dry run of 1 chosen" }).click();
    // A dry run renders the newest commit, composite and all: seconds on a busy machine.
    await expect.poll(() => dry.textContent(), { timeout: 30_000 }).toContain("Dry run of 1 chosen resource(s)");
    await shoot(page, "stack-dry-run");
    await documentationShot(page, "stack-dry-run", dry);
    await page.getByRole("button", { name: "Sync 1 chosen" }).click();
    await page.getByRole("button", { name: "Yes, sync 1 chosen" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("selective sync (1 resource(s)) of reports queued");
    await eventually(async () => ((await limitOf()) === 3 ? true : undefined), 15_000, "the chosen role synced");
    await page.close();
  }, 120_000);
});
