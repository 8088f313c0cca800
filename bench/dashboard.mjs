// Benchmark: the dashboard in Debian's Chromium (playwright-core) against an
// agent holding 5,000 stacks and about 101,000 resources (file resources:
// 4,999 stacks × 20 and one stack of 1,000 whose files depend on each other as
// a tree four wide), measured once the agent has applied them all. Measures,
// from navigation until the page can be used (its rows are on screen and its
// controls take input): the stacks page, a search typed into it, a sort by
// state, the 1,000-resource stack page, a scroll to its last resource (the
// resource table renders only the rows in view), the same stack drawn as a
// graph (it too draws only what is in and around view) and scrolled to its far
// corner, the Overview, the Environments matrix and the Compliance page.
// Sizes: PLUMB_BENCH_DASHBOARD_STACKS. Needs /usr/bin/chromium.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { performance } from "node:perf_hooks";
import path from "node:path";
import { chromium } from "playwright-core";
import { sleep, startBenchAgent } from "./agent-process.mjs";

const chromiumPath = process.env.PLUMB_CHROMIUM ?? "/usr/bin/chromium";
if (!existsSync(chromiumPath)) {
  console.log(`\nDashboard benchmark skipped: no Chromium at ${chromiumPath} (apt-get install chromium, or set PLUMB_CHROMIUM).`);
  process.exit(0);
}
const stacks = Number(process.env.PLUMB_BENCH_DASHBOARD_STACKS ?? 5000);
const perStack = 20;
const bigStack = 1000;
const repeats = 5;
const root = mkdtempSync(path.join(tmpdir(), "plumb-dashboardbench-"));
const file = (name, dependsOn) =>
  `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name}${dependsOn === undefined ? "" : `, annotations: { plumb.dev/depends-on: file.plumb.dev/v1/File/${dependsOn} }`} }\nspec: { path: ${name}.txt, content: ${name} }\n`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const platform = path.join(root, "platform");
mkdirSync(path.join(platform, "stacks"), { recursive: true });
for (const [name, count] of [
  ["small", perStack],
  ["big", bigStack],
]) {
  mkdirSync(path.join(platform, "apps", name), { recursive: true });
  const parent = (index) => (name === "big" && index > 0 ? `f${Math.floor((index - 1) / 4)}` : undefined);
  writeFileSync(path.join(platform, "apps", name, "files.yaml"), Array.from({ length: count }, (_, index) => file(`f${index}`, parent(index))).join(""));
}
let documents = "";
for (let index = 0; index < stacks; index++) {
  const name = index === 0 ? "big" : `stack-${String(index).padStart(4, "0")}`;
  documents += `---\napiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name}, labels: { team: team-${index % 50} } }\nspec:\n  source: { path: apps/${index === 0 ? "big" : "small"} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(root, "out", name))} } } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n`;
}
writeFileSync(path.join(platform, "stacks", "all.yaml"), documents);

const agent = await startBenchAgent(root, "unused", ["--platform", platform, "--path", "stacks", "--workers", "4"], "agent");
let browser;
try {
  // The whole fleet is applied first (about 4 minutes here), so the store holds every
  // stack's status, runs, renders, resources and audit events when the pages are measured.
  const started = Date.now();
  let lastReport = started;
  for (;;) {
    const ready = (await agent.api("GET", "/api/v1/stacks?state=Ready&limit=1")).total;
    if (ready === stacks) break;
    if (Date.now() - lastReport > 30_000) {
      console.log(`  ${ready.toLocaleString("en")} of ${stacks.toLocaleString("en")} stacks applied after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      lastReport = Date.now();
    }
    await sleep(1000);
  }
  const convergeSeconds = (Date.now() - started) / 1000;
  const bigItems = (await agent.api("GET", "/api/v1/stacks/big/resources")).items;
  const resources = bigItems.length;
  const lastAddress = bigItems[bigItems.length - 1].address;
  const storedResources = resources + (stacks - 1) * (await agent.api("GET", "/api/v1/stacks/stack-0001/resources")).items.length;
  const apiTimings = [];
  for (let round = 0; round < repeats; round++) {
    const begin = performance.now();
    await agent.api("GET", "/api/v1/stacks?sort=state&limit=50");
    apiTimings.push(performance.now() - begin);
  }

  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const token = readFileSync(path.join(root, "agent", "token"), "utf8").trim();
  await context.addInitScript((value) => globalThis.localStorage.setItem("plumb.token", value), token);
  const page = await context.newPage();
  const drawnNodes = [];

  const timings = {
    stacks: [],
    search: [],
    sort: [],
    stack: [],
    scroll: [],
    graph: [],
    graphScroll: [],
    graphLoad: [],
    overview: [],
    environments: [],
    environmentsAll: [],
    compliance: [],
  };
  for (let round = 0; round < repeats; round++) {
    let begin = Date.now();
    await page.goto(`${agent.url}/#/`);
    await page
      .locator("table.stacks tbody tr")
      .nth(Math.min(50, stacks) - 1)
      .waitFor();
    await page.getByRole("searchbox").waitFor({ state: "visible" });
    timings.stacks.push(Date.now() - begin);

    begin = Date.now();
    await page.getByRole("searchbox").fill(`stack-${String(1 + ((stacks / 5 + round * 7) % (stacks - 1))).padStart(4, "0")}`);
    await page.waitForFunction(() => globalThis.document.querySelectorAll("table.stacks tbody tr").length === 1);
    timings.search.push(Date.now() - begin);

    begin = Date.now();
    await page.getByRole("searchbox").fill("");
    await page.getByRole("button", { name: "State", exact: true }).click();
    await page.waitForFunction(
      () =>
        globalThis.document.querySelector("th[aria-sort='ascending']")?.textContent?.includes("State") === true &&
        globalThis.document.querySelectorAll("table.stacks tbody tr").length === 50,
    );
    timings.sort.push(Date.now() - begin);

    begin = Date.now();
    await page.goto("about:blank");
    await page.goto(`${agent.url}/#/stacks/big`);
    await page.locator("table.resources tbody tr[data-address]").first().waitFor();
    await page.getByRole("button", { name: "Sync now" }).waitFor({ state: "visible" });
    timings.stack.push(Date.now() - begin);

    begin = Date.now();
    await page.locator(".tree").evaluate((element) => element.scrollTo(0, element.scrollHeight));
    await page.locator(`tr[data-address="${lastAddress}"]`).waitFor();
    timings.scroll.push(Date.now() - begin);

    // The same stack as a graph: the nodes and arrows in view (and a screen around it) drawn, then the far end after a scroll.
    const firstAddress = bigItems[0].address;
    const graphDrawn = () =>
      page.waitForFunction(
        (address) =>
          globalThis.document.querySelector(`.graph [data-address="${address}"]`) !== null && globalThis.document.querySelectorAll(".graph .edge").length > 0,
        firstAddress,
      );
    begin = Date.now();
    await page.getByRole("button", { name: "Graph", exact: true }).click();
    await graphDrawn();
    timings.graph.push(Date.now() - begin);
    const firstDrawn = await page.locator(".graph [data-address]").evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-address")));
    drawnNodes.push(firstDrawn.length);
    begin = Date.now();
    await page.locator(".graph").evaluate((element) => element.scrollTo(element.scrollWidth, element.scrollHeight));
    await page.waitForFunction(
      (before) => [...globalThis.document.querySelectorAll(".graph [data-address]")].some((node) => !before.includes(node.getAttribute("data-address"))),
      firstDrawn,
    );
    timings.graphScroll.push(Date.now() - begin);
    // The choice is kept: the next visit opens on the graph.
    begin = Date.now();
    await page.goto("about:blank");
    await page.goto(`${agent.url}/#/stacks/big`);
    await graphDrawn();
    await page.getByRole("button", { name: "Sync now" }).waitFor({ state: "visible" });
    timings.graphLoad.push(Date.now() - begin);
    await page.getByRole("button", { name: "List", exact: true }).click();

    begin = Date.now();
    await page.goto("about:blank");
    await page.goto(`${agent.url}/#/overview`);
    await page.waitForFunction(
      (total) =>
        [...globalThis.document.querySelectorAll("[aria-label='Stacks by state'] .number")].reduce((sum, element) => sum + Number(element.textContent), 0) ===
        total,
      stacks,
    );
    await page.locator("section.card", { hasText: "Recent runs" }).locator("tbody tr").nth(9).waitFor();
    await page.getByRole("img", { name: /Drift per day/ }).waitFor();
    timings.overview.push(Date.now() - begin);

    begin = Date.now();
    await page.goto("about:blank");
    await page.goto(`${agent.url}/#/environments`);
    await page
      .locator("main table tbody tr")
      .nth(Math.min(100, stacks) - 1)
      .waitFor();
    await page.getByRole("searchbox").waitFor({ state: "visible" });
    timings.environments.push(Date.now() - begin);
    if (stacks > 100) {
      begin = Date.now();
      await page.getByRole("button", { name: /^Show all/ }).click();
      await page
        .locator("main table tbody tr")
        .nth(stacks - 1)
        .waitFor({ state: "attached" });
      timings.environmentsAll.push(Date.now() - begin);
    }

    begin = Date.now();
    await page.goto("about:blank");
    await page.goto(`${agent.url}/#/compliance`);
    await page.getByRole("meter", { name: "Metadata coverage" }).waitFor();
    await page.getByRole("button", { name: "Download CSV" }).waitFor({ state: "visible" });
    timings.compliance.push(Date.now() - begin);
  }
  console.log(
    `\nDashboard in Chromium: ${stacks.toLocaleString("en")} stacks, ${storedResources.toLocaleString("en")} resources in the store (all applied ${convergeSeconds.toFixed(0)} s after the agent started); median of ${repeats}\n`,
  );
  console.log("| page | median | min – max | goal |");
  console.log("| --- | ---: | ---: | --- |");
  for (const [label, values, goal] of [
    ["stacks page: 50 rows shown, search usable", timings.stacks, "≤ 1 s"],
    ["search typed → 1 row", timings.search, ""],
    ["sort by state → 50 rows", timings.sort, ""],
    [`stack page with ${resources.toLocaleString("en")} resources: rows shown, actions usable`, timings.stack, "≤ 1 s"],
    ["scroll to its last resource", timings.scroll, ""],
    [
      `… switched to the graph (${resources.toLocaleString("en")} nodes, ${(resources - 1).toLocaleString("en")} arrows; the ${median(drawnNodes)} in and around view drawn)`,
      timings.graph,
      "",
    ],
    ["… the graph scrolled to its far corner: the nodes there drawn", timings.graphScroll, ""],
    ["… opened on the graph: nodes in view drawn, actions usable", timings.graphLoad, ""],
    ["overview: state counts, 10 recent runs, drift chart", timings.overview, ""],
    [`environments matrix of ${stacks.toLocaleString("en")} stacks: first 100 rows, search usable`, timings.environments, ""],
    ['… "Show all" → every row drawn', timings.environmentsAll, ""],
    [`compliance report over ${storedResources.toLocaleString("en")} resources, charts shown`, timings.compliance, ""],
  ]) {
    if (values.length === 0) continue;
    console.log(`| ${label} | ${median(values)} ms | ${Math.min(...values)} – ${Math.max(...values)} ms | ${goal} |`);
  }
  console.log(`\nGET /api/v1/stacks?sort=state&limit=50 alone: median ${median(apiTimings).toFixed(0)} ms`);
  // Where a page's time goes: each request it makes, alone, median of 5.
  const routes = [
    "/api/v1/stacks/big",
    "/api/v1/stacks/big/resources",
    "/api/v1/stacks/big/runs?limit=50",
    "/api/v1/stacks/big/events?limit=30",
    "/api/v1/audit?stack=big&limit=25&order=newest",
    "/api/v1/stacks/big/sync-policy",
    "/api/v1/compliance/summary",
    "/api/v1/environments",
  ];
  const requestTimes = [];
  for (const route of routes) {
    const times = [];
    for (let round = 0; round < repeats; round++) {
      const begin = performance.now();
      await agent.api("GET", route);
      times.push(performance.now() - begin);
    }
    requestTimes.push(`${route} ${median(times).toFixed(0)} ms`);
  }
  console.log(`Requests alone (median of ${repeats}): ${requestTimes.join("; ")}`);
} finally {
  await browser?.close();
  await agent.stop();
  rmSync(root, { recursive: true, force: true });
}
