// The agent with programs and composites against a real PostgreSQL: the
// examples' TeamDatabase claims and TypeScript stack are applied, the API
// shows the claim tree, and programs that try to escape the sandbox fail on
// their own stack while the others reconcile.

import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { repositoryRoot } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
let work: string;
let agent: RunningAgent;

function platformStack(name: string, sourcePath: string, providers: string): string {
  return `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name} }
spec:
  source: { path: ${sourcePath} }
  ${providers}
  sync: { auto: true, prune: true, selfHeal: true, interval: 1h, driftInterval: 1h, retry: { backoff: { duration: 30s, max: 1m } } }
`;
}

const fileProviders = (name: string) => `providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } } }`;

const escapes: Record<string, string> = {
  "reads-env": "const token = process.env.PLUMB_SECRET_PG_ADMIN_PASSWORD; void token;",
  "reads-etc": 'readFileSync("/etc/hostname", "utf8");',
  "reads-data": 'readFileSync(DATA, "utf8");',
  loops: "for (;;) {}",
};

async function stack(name: string): Promise<StackSummary> {
  const response = await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`);
  if (response.status !== 200) throw new Error(`GET ${name}: ${response.status}`);
  return response.body;
}
const condition = (summary: StackSummary, type: string) => summary.conditions.find((item) => item.type === type);

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-programs-"));
  const platform = path.join(work, "repo");
  cpSync(path.join(repositoryRoot, "examples", "platform", "composites"), path.join(platform, "platform", "composites"), { recursive: true });
  for (const source of ["teams", "inventory"]) cpSync(path.join(repositoryRoot, "examples", source), path.join(platform, source), { recursive: true });
  writeFileSync(path.join(platform, "inventory", "values.yaml"), "warehouses: [north, south, east]\n");
  // The team stacks use the platform's PostgreSQL by name, as in examples/platform/providers.yaml.
  writeFileSync(
    path.join(platform, "platform", "providers.yaml"),
    `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: shared-postgres }\nspec:\n  type: postgres\n  config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } }\n`,
  );
  writeFileSync(path.join(platform, "platform", "payments.yaml"), platformStack("payments-db", "teams/payments", ""));
  writeFileSync(path.join(platform, "platform", "search.yaml"), platformStack("search-db", "teams/search", ""));
  writeFileSync(path.join(platform, "platform", "inventory.yaml"), platformStack("inventory-db", "inventory", ""));
  writeFileSync(path.join(platform, "platform", "good.yaml"), platformStack("good", "apps/good", fileProviders("good")));
  mkdirSync(path.join(platform, "apps", "good"), { recursive: true });
  writeFileSync(
    path.join(platform, "apps", "good", "main.ts"),
    'import { file } from "plumb/sdk";\nexport default function () {\n  new file.File("ok", { path: "ok.txt", content: "fine" });\n}\n',
  );
  for (const [name, body] of Object.entries(escapes)) {
    writeFileSync(path.join(platform, "platform", `${name}.yaml`), platformStack(name, `apps/${name}`, fileProviders(name)));
    mkdirSync(path.join(platform, "apps", name), { recursive: true });
    writeFileSync(
      path.join(platform, "apps", name, "main.ts"),
      `import { readFileSync } from "node:fs";\nimport { file } from "plumb/sdk";\nexport default function () {\n  ${body.replace("DATA", JSON.stringify(path.join(work, "data", "plumb.db")))}\n  void readFileSync;\n  new file.File("x", { path: "x.txt", content: "x" });\n}\n`,
    );
  }
  agent = await startAgent(["--platform", platform, "--path", "platform", "--data-dir", path.join(work, "data"), "--workers", "4", "--program-timeout", "3s"], {
    tokenFile: path.join(work, "token"),
    env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password },
  });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("the agent with programs and composites", () => {
  it("applies two teams' TeamDatabase claims (with a nested ReadOnlyAccess) and a program stack to PostgreSQL", async () => {
    for (const name of ["payments-db", "search-db", "inventory-db", "good"]) {
      await eventually(async () => (condition(await stack(name), "Ready")?.status === "True" ? true : undefined), 60_000, `${name} Ready`);
    }
    const databases = await server.query<{ datname: string; owner: string }>(
      "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname IN ('ledger', 'catalog', 'inventory') ORDER BY 1",
    );
    expect(databases).toEqual([
      { datname: "catalog", owner: "catalog_owner" },
      { datname: "inventory", owner: "inventory_owner" },
      { datname: "ledger", owner: "ledger_owner" },
    ]);
    const ledgerSchemas = await server.query<{ nspname: string; owner: string }>(
      "SELECT nspname, pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname IN ('api', 'audit') ORDER BY 1",
      [],
      "ledger",
    );
    expect(ledgerSchemas).toEqual([
      { nspname: "api", owner: "ledger_owner" },
      { nspname: "audit", owner: "ledger_owner" },
    ]);
    const warehouses = await server.query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname IN ('north', 'south', 'east') ORDER BY 1",
      [],
      "inventory",
    );
    expect(warehouses.map((row) => row.nspname)).toEqual(["east", "north", "south"]);
    // The nested composite's login can read the ledger's tables.
    const reader = await server.query<{ allowed: boolean }>("SELECT has_schema_privilege('ledger_reporting', 'api', 'USAGE') AS allowed", [], "ledger");
    expect(reader).toEqual([{ allowed: true }]);
  }, 90_000);

  it("shows each claim with its children and readiness, and serves the composites' docs", async () => {
    const resources = await agent.api<{
      items: { address: string; composite: string | null }[];
      claims: { address: string; composite: string | null; children: string[]; ready: boolean; origin: { file: string } }[];
    }>("GET", "/api/v1/stacks/payments-db/resources");
    expect(resources.status).toBe(200);
    const claims = new Map(resources.body.claims.map((claim) => [claim.address, claim]));
    const team = claims.get("platform.example.org/v1/TeamDatabase/ledger");
    const nested = claims.get("platform.example.org/v1/ReadOnlyAccess/ledger-reporting");
    expect(team?.ready).toBe(true);
    expect(team?.origin.file).toBe("database.yaml");
    expect(team?.children).toContain("platform.example.org/v1/ReadOnlyAccess/ledger-reporting");
    expect(team?.children).toContain("postgres.plumb.dev/v1/Database/ledger");
    expect(nested).toMatchObject({ composite: "platform.example.org/v1/TeamDatabase/ledger", ready: true });
    const role = resources.body.items.find((item) => item.address === "postgres.plumb.dev/v1/Role/ledger_reporting");
    expect(role?.composite).toBe("platform.example.org/v1/ReadOnlyAccess/ledger-reporting");

    const composites = await agent.api<{ items: { kind: string; fields: { path: string }[] }[] }>("GET", "/api/v1/composites");
    expect(composites.body.items.map((item) => item.kind)).toEqual(["ReadOnlyAccess", "TeamDatabase", "TeamSpace"]);
    expect(composites.body.items[1]?.fields.map((field) => field.path)).toContain("connectionLimit");
    const markdown = await agent.api<string>("GET", "/api/v1/composites.md");
    expect(markdown.body).toContain("## TeamDatabase");
    expect((await agent.api("GET", "/api/v1/composites", { token: null })).status).toBe(401);
  });

  it("stalls each stack whose program tries to escape the sandbox, with a clear message, and nothing else", async () => {
    const expected: Record<string, string> = {
      "reads-env": "process.env is not available to programs",
      "reads-etc": "reading /etc/hostname is not allowed",
      "reads-data": `reading ${path.join(work, "data", "plumb.db")} is not allowed`,
      loops: "did not finish within 3 s and was stopped",
    };
    for (const [name, message] of Object.entries(expected)) {
      const summary = await eventually(
        async () => {
          const current = await stack(name);
          return condition(current, "Stalled")?.status === "True" ? current : undefined;
        },
        60_000,
        `${name} Stalled`,
      );
      expect(condition(summary, "Stalled")?.message).toContain(message);
      expect(condition(summary, "Stalled")?.message).not.toContain(server.password);
    }
    expect(condition(await stack("good"), "Ready")?.status).toBe("True");
    expect(agent.output()).not.toContain(server.password);
  }, 90_000);
});
