// Benchmark: plan and apply of 10,000 file resources on the embedded SQLite
// store. Prints one table; run with `npm run bench` (builds first).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { applyStackPlan, defaultRegistry, openSqliteStore, planStack, ProviderConnections, renderStack } from "../dist/index.js";

const count = Number(process.env.PLUMB_BENCH_RESOURCES ?? 10_000);
const repeats = 5;
const root = mkdtempSync(path.join(tmpdir(), "plumb-bench-"));
const stackDir = path.join(root, "stack");
const dataDir = path.join(root, "data");
const outputDir = path.join(root, "out");
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "main.js");

function writeStack(version) {
  mkdirSync(stackDir, { recursive: true });
  writeFileSync(
    path.join(stackDir, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: bench }\nspec:\n  providers:\n    default: { type: file, config: { root: ${JSON.stringify(outputDir)} } }\n  sync: { prune: true, concurrency: 16 }\n`,
  );
  const perFile = 1000;
  for (let file = 0; file < count / perFile; file++) {
    let text = "";
    for (let index = file * perFile; index < (file + 1) * perFile; index++) {
      const directory = `d${Math.floor(index / 500)}`;
      text += `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata:\n  name: f${index}\n  labels: { team: bench }\nspec:\n  path: ${directory}/f${index}.txt\n  content: "resource ${index} version ${index % 10 === 0 ? version : 1}\\n"\n  mode: "0644"\n`;
    }
    writeFileSync(path.join(stackDir, `files-${String(file).padStart(3, "0")}.yaml`), text);
  }
}

const registry = defaultRegistry();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
async function time(work) {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

async function plannedRun(store) {
  const rendered = await time(() => renderStack(stackDir, { registry }));
  const connections = new ProviderConnections(registry, rendered.result.definition);
  const planned = await time(() => planStack(rendered.result, store, connections));
  return { rendered: rendered.result, connections, planned: planned.result, renderMs: rendered.ms, planMs: planned.ms };
}

const rows = [];
try {
  writeStack(1);
  const store = await openSqliteStore(dataDir);

  const initial = await plannedRun(store);
  rows.push(["render (YAML → desired graph)", initial.renderMs, `${initial.rendered.resources.length} resources`]);
  rows.push(["plan, empty store (observe + diff)", initial.planMs, `${initial.planned.plan.summary.create} to create`]);
  const applied = await time(() => applyStackPlan(initial.rendered, initial.planned, store, initial.connections, { trigger: "bench", revision: null }));
  rows.push([
    "apply: create",
    applied.ms,
    `${applied.result.result.succeeded} created, ${Math.round(applied.result.result.succeeded / (applied.ms / 1000))}/s`,
  ]);

  const noopTimes = [];
  let noop;
  for (let attempt = 0; attempt < repeats; attempt++) {
    noop = await plannedRun(store);
    noopTimes.push(noop.renderMs + noop.planMs);
  }
  rows.push([`no-op plan in process (render + observe + plan), median of ${repeats}`, median(noopTimes), `${noop.planned.plan.summary.noop} unchanged`]);

  const cliTimes = [];
  for (let attempt = 0; attempt < repeats; attempt++) {
    const started = process.hrtime.bigint();
    const result = spawnSync(process.execPath, [cli, "plan", stackDir, "--data-dir", dataDir, "--detailed-exitcode"], { encoding: "utf8" });
    cliTimes.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (result.status !== 0) throw new Error(`no-op plan exited ${result.status}: ${result.stderr}`);
  }
  rows.push([`no-op \`plumb plan\` as a process, median of ${repeats}`, median(cliTimes), "exit 0"]);

  writeStack(2);
  const changed = await plannedRun(store);
  const updated = await time(() => applyStackPlan(changed.rendered, changed.planned, store, changed.connections, { trigger: "bench", revision: null }));
  rows.push(["plan with 10% changed", changed.renderMs + changed.planMs, `${changed.planned.plan.summary.update} to update`]);
  rows.push(["apply: update 10%", updated.ms, `${updated.result.result.succeeded} updated`]);
  await store.close();
} finally {
  rmSync(root, { recursive: true, force: true });
}

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`\nPlumb benchmark: ${count} file resources, Node ${process.version}, ${(await import("node:os")).cpus().length} CPUs\n`);
console.log(`${"step".padEnd(width)}  ${"time (ms)".padStart(10)}  result`);
console.log(`${"-".repeat(width)}  ${"-".repeat(10)}  ${"-".repeat(24)}`);
for (const [name, ms, note] of rows) console.log(`${name.padEnd(width)}  ${ms.toFixed(0).padStart(10)}  ${note}`);
