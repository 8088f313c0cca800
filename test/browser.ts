// Debian's Chromium for the dashboard tests, started as this machine needs it
// (no sandbox as root, no background network that a closed network refuses).

import { createRequire } from "node:module";
import { chromium, type Browser, type Page } from "playwright-core";

const axeScript = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.PLUMB_CHROMIUM ?? "/usr/bin/chromium",
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
}

/** Opens the dashboard at `url` and logs in with an API token, as a person would; returns once the stacks page shows. */
export async function logIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Stacks" }).waitFor();
}

export interface AxeProblem {
  id: string;
  impact: string;
  help: string;
  targets: string[];
}

/** Runs axe-core (Deque's accessibility engine) in the page and returns its serious and critical findings. */
export async function seriousAccessibilityProblems(page: Page): Promise<AxeProblem[]> {
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.addScriptTag({ path: axeScript });
  const found = await page.evaluate<{ id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[]>(
    "window.axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations.map((item) => ({ id: item.id, impact: item.impact, help: item.help, nodes: item.nodes.map((node) => ({ target: node.target.map(String) })) })))",
  );
  return found
    .filter((item) => item.impact === "serious" || item.impact === "critical")
    .map((item) => ({ id: item.id, impact: item.impact as string, help: item.help, targets: item.nodes.flatMap((node) => node.target).slice(0, 5) }));
}
