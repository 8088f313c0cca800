// Benchmark: the agent as a child process.
//  1. webhook → applied latency for a one-resource change in a 1,000-resource
//     stack read from a git repository (p50/p95 over repeated commits);
//  2. one agent holding 1,000 stacks × 100 file resources (a local platform
//     directory): RSS, the time of a full drift sweep, and idle CPU.
// Sizes can be lowered with PLUMB_BENCH_STACKS / PLUMB_BENCH_LATENCY_ROUNDS.
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sleep, startBenchAgent } from "./agent-process.mjs";
import { fleetBenchmark } from "./fleet.mjs";

const stacks = Number(process.env.PLUMB_BENCH_STACKS ?? 1000);
const resourcesPerStack = 100;
const latencyRounds = Number(process.env.PLUMB_BENCH_LATENCY_ROUNDS ?? 20);
const root = mkdtempSync(path.join(tmpdir(), "plumb-agentbench-"));
const webhookSecret = "bench-secret";

const file = (name, filePath, content) =>
  `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name} }\nspec: { path: ${filePath}, content: ${JSON.stringify(content)} }\n`;

const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

async function latencyBenchmark() {
  const repository = path.join(root, "latency", "repo");
  const output = path.join(root, "latency", "out");
  mkdirSync(path.join(repository, "platform"), { recursive: true });
  mkdirSync(path.join(repository, "app"), { recursive: true });
  const git = (...args) =>
    execFileSync("git", args, {
      cwd: repository,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "b",
        GIT_AUTHOR_EMAIL: "b@example.org",
        GIT_COMMITTER_NAME: "b",
        GIT_COMMITTER_EMAIL: "b@example.org",
        GIT_CONFIG_GLOBAL: "/dev/null",
      },
      encoding: "utf8",
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  writeFileSync(
    path.join(repository, "platform", "app.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: app }\nspec:\n  source: { path: app }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(output)} } } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n`,
  );
  let fixed = "";
  for (let index = 1; index < 1000; index++) fixed += file(`f${index}`, `f${index}.txt`, `content ${index}`);
  writeFileSync(path.join(repository, "app", "fixed.yaml"), fixed);
  const writeChanging = (round) => writeFileSync(path.join(repository, "app", "changing.yaml"), file("f0", "f0.txt", `round ${round}`));
  writeChanging(0);
  git("add", "--all");
  git("commit", "--quiet", "-m", "1000 files");
  const url = `file://${repository}`;
  const agent = await startBenchAgent(root, webhookSecret, ["--platform", url, "--path", "platform"], "latency");
  try {
    const target = path.join(output, "f0.txt");
    const ready = async () =>
      (await agent.api("GET", "/api/v1/stacks/app")).conditions?.some((condition) => condition.type === "Ready" && condition.status === "True");
    while (!(await ready())) await sleep(50);
    const latencies = [];
    for (let round = 1; round <= latencyRounds; round++) {
      writeChanging(round);
      git("commit", "--quiet", "-am", `round ${round}`);
      const body = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: url } });
      const started = process.hrtime.bigint();
      await fetch(`${agent.url}/hooks/git`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${createHmac("sha256", webhookSecret).update(body).digest("hex")}` },
      });
      while (readFileSync(target, "utf8") !== `round ${round}`) await sleep(2);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      await sleep(100);
    }
    return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), rounds: latencies.length };
  } finally {
    await agent.stop();
  }
}

try {
  const latency = await latencyBenchmark();
  const fleet = await fleetBenchmark({ root, name: "fleet", stacks, resourcesPerStack, webhookSecret });
  const rows = [
    [`webhook → applied, 1 of 1,000 resources changed (p50 of ${latency.rounds})`, `${latency.p50.toFixed(0)} ms`, "goal p50 ≤ 1 s"],
    [`webhook → applied (p95)`, `${latency.p95.toFixed(0)} ms`, ""],
    [`first converge: ${stacks} stacks × ${resourcesPerStack} files`, `${fleet.convergeSeconds.toFixed(1)} s`, ""],
    [`full drift sweep of ${stacks} stacks (${stacks * resourcesPerStack} resources)`, `${fleet.sweepSeconds.toFixed(1)} s`, "goal ≤ 30 s"],
    ["RSS after the sweep", `${fleet.rss.toFixed(0)} MiB`, "goal ≤ 1 GiB"],
    ["RSS after 30 s idle", `${fleet.rssAfterIdle.toFixed(0)} MiB`, ""],
    ["idle CPU over 30 s", `${fleet.idleCpu.toFixed(1)} % of a core`, "goal ≤ 5 %"],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\nPlumb agent benchmark, Node ${process.version}\n`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(16)}  ${note}`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
