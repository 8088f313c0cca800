// Warm connections to PostgreSQL across runs, in process as the agent's loops
// use them: a second run opens no new session, reads each database in one
// round trip, the server's budget holds however many databases a stack spans,
// a dropped database's sessions are let go first, and a stopping agent ends
// them all.

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProviderConnections } from "../src/engine/connections.js";
import { applyStackPlan, planStack } from "../src/engine/pipeline.js";
import { defaultRegistry } from "../src/providers/registry.js";
import { withLiterals } from "../src/providers/postgres/connection.js";
import { closeIdlePools } from "../src/providers/postgres/server-pools.js";
import { renderStack } from "../src/render/load-stack.js";
import { openSqliteStore } from "../src/state/sqlite.js";
import type { Store } from "../src/state/store.js";
import { createWorkspace, type Workspace } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
const registry = defaultRegistry();
let workspace: Workspace;
let store: Store;

beforeAll(async () => {
  process.env.PLUMB_SECRET_PG_ADMIN_PASSWORD = server.password;
  workspace = createWorkspace({ name: "pools" });
  store = await openSqliteStore(workspace.dataDir);
});

afterAll(async () => {
  await store.close();
  await closeIdlePools();
  workspace.cleanup();
});

/** Per team: a database, a schema, and a reader's grants on the schema and its tables. */
const perTeam = 4;

/** A stack of `count` team databases and one reader role; what leaves it is dropped (deletion-policy Delete). */
function writeStack(budget: number, count: number): void {
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: pools }
spec:
  providers:
    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } }, maxConnections: 2, connectionBudget: ${budget} } }
  sync: { prune: true }
`,
  );
  const resource = (kind: string, name: string, spec: string) =>
    `---\napiVersion: postgres.plumb.dev/v1\nkind: ${kind}\nmetadata: { name: ${name}, annotations: { plumb.dev/deletion-policy: Delete } }\nspec: ${spec}\n`;
  let text = resource("Role", "pool_reader", "{ login: false }");
  for (let team = 0; team < count; team++) {
    text += resource("Database", `pool${team}`, "{}");
    text += resource("Schema", `pool${team}-api`, `{ name: api, database: pool${team} }`);
    text += resource("Grant", `pool${team}-usage`, `{ role: pool_reader, database: pool${team}, objectType: schema, schema: api, privileges: [USAGE] }`);
    text += resource("Grant", `pool${team}-tables`, `{ role: pool_reader, database: pool${team}, objectType: table, schema: api, privileges: [SELECT] }`);
  }
  workspace.write("fleet.yaml", text);
}

/** One run as the drift loop makes it: its own connections, closed at the end. */
async function run(apply: boolean) {
  const rendered = await renderStack(workspace.stackDir, { registry });
  const connections = new ProviderConnections(registry, rendered.definition);
  try {
    const planned = await planStack(rendered, store, connections);
    if (apply) {
      const applied = await applyStackPlan(rendered, planned, store, connections, { trigger: "test", revision: null });
      expect(applied.result.failed).toBe(0);
    }
    return planned.plan.summary;
  } finally {
    await connections.closeAll();
  }
}

/** Queries sent to the server by database while `work` runs: the driver's own count, as the server sees messages. */
async function queriesDuring(work: () => Promise<unknown>): Promise<Map<string, number>> {
  const sent = new Map<string, number>();
  const original = pg.Pool.prototype.query;
  pg.Pool.prototype.query = function (this: pg.Pool & { options: { database: string } }, ...args: unknown[]) {
    sent.set(this.options.database, (sent.get(this.options.database) ?? 0) + 1);
    return (original as (...parameters: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await work();
  } finally {
    pg.Pool.prototype.query = original;
  }
  return sent;
}

/** Plumb's sessions on the server, by database. */
async function sessions(): Promise<{ pid: number; datname: string }[]> {
  return server.query<{ pid: number; datname: string }>("SELECT pid, datname FROM pg_stat_activity WHERE application_name = 'plumb' ORDER BY pid");
}

describe("postgres connections kept warm", () => {
  it("runs a second check on the sessions the first opened, within the budget", async () => {
    writeStack(8, 3);
    expect((await run(true)).create).toBe(1 + 3 * perTeam);
    const first = await sessions();
    // The cluster database and the three team databases, each with a session left open.
    expect(new Set(first.map((session) => session.datname))).toEqual(new Set(["postgres", "pool0", "pool1", "pool2"]));
    const summary = await run(false);
    expect(summary.noop).toBe(1 + 3 * perTeam);
    expect(await sessions()).toEqual(first);
  });

  it("reads each database's kinds in one query", async () => {
    let summary: Awaited<ReturnType<typeof run>> | undefined;
    const sent = await queriesDuring(async () => (summary = await run(false)));
    expect(summary?.noop).toBe(1 + 3 * perTeam);
    // Schemas, schema grants and table grants in each team database; in the cluster database the login check, then roles and databases.
    expect(Object.fromEntries(sent)).toEqual({ postgres: 2, pool0: 1, pool1: 1, pool2: 1 });
  });

  it("keeps no more sessions than the budget when a stack spans more databases", async () => {
    writeStack(3, 7);
    expect((await run(true)).create).toBe(4 * perTeam);
    expect((await sessions()).length).toBeLessThanOrEqual(3);
    expect((await run(false)).noop).toBe(1 + 7 * perTeam);
    expect((await sessions()).length).toBeLessThanOrEqual(3);
  });

  it("lets go of its own sessions into a database before dropping it", async () => {
    writeStack(20, 7);
    expect((await run(false)).noop).toBe(1 + 7 * perTeam);
    expect((await sessions()).some((session) => session.datname === "pool6")).toBe(true);
    writeStack(20, 5);
    const summary = await run(true);
    expect(summary.delete).toBe(2 * perTeam);
    const left = await server.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'pool%' ORDER BY datname");
    expect(left.map((row) => row.datname)).toEqual(["pool0", "pool1", "pool2", "pool3", "pool4"]);
  });

  it("writes parameters into a batched read as literals, and leaves anything else to a query of its own", () => {
    expect(withLiterals("SELECT 1 WHERE a = ANY($1::text[]) AND b = $2", [["x", "it's"], "y\\z"])).toBe(
      "SELECT 1 WHERE a = ANY(ARRAY['x', 'it''s']::text[]::text[]) AND b =  E'y\\\\z'",
    );
    expect(withLiterals("SELECT $1::text[]", [[]])).toBe("SELECT '{}'::text[]::text[]");
    expect(withLiterals("SELECT $1", [5])).toBeUndefined();
    expect(withLiterals("SELECT $2", ["only one"])).toBeUndefined();
  });

  it("ends every idle session when the agent stops", async () => {
    expect((await sessions()).length).toBeGreaterThan(0);
    await registry.shutdown();
    expect(await sessions()).toEqual([]);
  });
});
