// The fleet half of the agent benchmark, shared by bench/agent.mjs (SQLite) and
// bench/agents.mjs (the same fleet on PostgreSQL next to it).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cpuSeconds, rssMiB, sleep, startBenchAgent } from "./agent-process.mjs";

const file = (name, filePath, content) =>
  `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name} }\nspec: { path: ${filePath}, content: ${JSON.stringify(content)} }\n`;

/**
 * One agent holding `stacks` stacks × `resourcesPerStack` files from a local
 * platform directory: first converge, a full drift sweep (every stack's
 * refresh), RSS and idle CPU. `storeArgs` picks the store (SQLite by default).
 */
export async function fleetBenchmark({ root, name, stacks, resourcesPerStack, webhookSecret, storeArgs = [], idleWindow = 30 }) {
  const platform = path.join(root, name, "platform");
  const output = path.join(root, name, "out");
  mkdirSync(path.join(platform, "stacks"), { recursive: true });
  for (let stack = 0; stack < stacks; stack++) {
    const directory = path.join(platform, "apps", `s${stack}`);
    mkdirSync(directory, { recursive: true });
    let text = "";
    for (let index = 0; index < resourcesPerStack; index++) text += file(`f${index}`, `f${index}.txt`, `stack ${stack} file ${index}`);
    writeFileSync(path.join(directory, "files.yaml"), text);
    writeFileSync(
      path.join(platform, "stacks", `s${stack}.yaml`),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: s${stack} }\nspec:\n  source: { path: apps/s${stack} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(output, `s${stack}`))} } } }\n  sync: { auto: true, selfHeal: true, interval: 1h, driftInterval: 1h }\n`,
    );
  }
  const agent = await startBenchAgent(root, webhookSecret, ["--platform", platform, "--path", "stacks", "--workers", "4", ...storeArgs], name);
  try {
    const metric = async (name) => {
      const text = await agent.api("GET", "/metrics");
      return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    };
    const readyCount = async () => {
      const list = await agent.api("GET", "/api/v1/stacks?condition=Ready&limit=1");
      return list.total;
    };
    const convergeStarted = Date.now();
    while ((await readyCount()) < stacks) await sleep(500);
    const convergeSeconds = (Date.now() - convergeStarted) / 1000;

    const driftRuns = () => metric('plumb_run_duration_seconds_count\\{kind="drift"\\}');
    const before = await driftRuns();
    const sweepStarted = Date.now();
    for (let stack = 0; stack < stacks; stack++) await agent.api("POST", `/api/v1/stacks/s${stack}/refresh`);
    while ((await driftRuns()) < before + stacks) await sleep(100);
    const sweepSeconds = (Date.now() - sweepStarted) / 1000;
    const rss = rssMiB(agent.child.pid);

    await sleep(2000);
    const cpuBefore = cpuSeconds(agent.child.pid);
    await sleep(idleWindow * 1000);
    const idleCpu = ((cpuSeconds(agent.child.pid) - cpuBefore) / idleWindow) * 100;
    return { convergeSeconds, sweepSeconds, rss, rssAfterIdle: rssMiB(agent.child.pid), idleCpu };
  } finally {
    await agent.stop();
  }
}
