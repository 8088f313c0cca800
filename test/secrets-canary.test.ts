// The canary: every secret of two stacks holds one unique string. The agent
// applies them from the Vault stand-in, heals drift, rotates a password and
// fails an apply whose PostgreSQL error echoes a secret user name; then every
// API route, the event stream, every CLI command, the agent's logs, the audit
// export and every file of the state store are searched for the canary.

import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { runCliAsync } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";
import { startVaultStandIn, type VaultStandIn } from "./vault-standin.js";

const server = usePostgres();
const canary = `CANARY${randomUUID().replaceAll("-", "")}`;
/**
 * After the canary, each value carries what JSON, shells, regular expressions
 * and URLs treat specially: a leak escaped for any of them still holds the canary.
 */
const awkward = `"q\\b'$1.*+?(ü✓)%20&`;
let vault: VaultStandIn;
let work: string;
let agent: RunningAgent;
let events = "";
const stream = new AbortController();

function stackDocument(name: string, user: string): string {
  return `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name}, labels: { team: canaries } }
spec:
  providers:
    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: ${user}, password: { secretRef: { store: local, name: pg-admin, key: password } }, connectTimeoutSeconds: 3 } }
  metadata: { owner: canaries@example.org }
`;
}

function walk(directory: string): string[] {
  return readdirSync(directory).flatMap((entry) => {
    const full = path.join(directory, entry);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

async function summary(name: string): Promise<StackSummary> {
  return (await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`)).body;
}
const condition = (stack: StackSummary, type: string) => stack.conditions.find((item) => item.type === type);
const connectionLimit = async () =>
  (await server.query<{ rolconnlimit: number }>("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'canary_app'"))[0]?.rolconnlimit;

beforeAll(async () => {
  vault = await startVaultStandIn();
  vault.put("plumb/app", { password: `${canary}-password-1${awkward}` });
  vault.put("plumb/admin", { username: `${canary}-user${awkward}`, password: `${canary}-admin${awkward}` });
  work = mkdtempSync(path.join(tmpdir(), "plumb-canary-"));
  const platform = path.join(work, "repo");
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(platform, file)), { recursive: true });
    writeFileSync(path.join(platform, file), text);
  };
  write(
    "platform/stores.yaml",
    `apiVersion: plumb.dev/v1\nkind: SecretStore\nmetadata: { name: vault }\nspec:\n  type: vault\n  default: true\n  address: ${vault.address}\n  pathPrefix: plumb/\n  auth: { appRole: { roleId: ${vault.roleId}, secretId: { secretRef: { store: local, name: vault, key: secret-id } } } }\n`,
  );
  for (const name of ["good", "broken"]) {
    write(
      `platform/${name}.yaml`,
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  sync: { auto: true, selfHeal: true, interval: 1h, driftInterval: 2s, retry: { backoff: { duration: 2s, max: 5s } } }\n`,
    );
  }
  write("apps/good/stack.yaml", stackDocument("good", "postgres"));
  write(
    "apps/good/role.yaml",
    "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: canary_app }\nspec: { login: true, connectionLimit: 5, password: { secretRef: { name: app, key: password } } }\n",
  );
  write("apps/broken/stack.yaml", stackDocument("broken", "{ secretRef: { name: admin, key: username } }"));
  write(
    "apps/broken/role.yaml",
    "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: broken_app }\nspec: { login: true, password: { secretRef: { name: admin, key: password } } }\n",
  );
  agent = await startAgent(["--platform", platform, "--path", "platform", "--data-dir", path.join(work, "data"), "--workers", "2"], {
    tokenFile: path.join(work, "token"),
    env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password, PLUMB_SECRET_VAULT_SECRET_ID: vault.secretId, PLUMB_LOG_LEVEL: "debug" },
  });
  void fetch(`${agent.url}/api/v1/events`, { headers: { authorization: `Bearer ${agent.adminToken}` }, signal: stream.signal })
    .then(async (response) => {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) events += Buffer.from(chunk).toString("utf8");
    })
    .catch(() => undefined);
}, 120_000);

afterAll(async () => {
  stream.abort();
  await agent?.stop();
  await vault?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("a canary in every secret", () => {
  it("goes through apply, drift, rotation and a failing apply, and appears in no output, no response and no stored byte", async () => {
    // Apply: the role's password comes from Vault.
    await eventually(async () => (condition(await summary("good"), "Ready")?.status === "True" ? true : undefined), 60_000, "good Ready");
    expect(await server.canLogin("canary_app", `${canary}-password-1${awkward}`)).toBe(true);

    // Drift, healed.
    await server.query("ALTER ROLE canary_app CONNECTION LIMIT 1");
    await eventually(async () => ((await connectionLimit()) === 5 ? true : undefined), 30_000, "drift healed");

    // Rotation in the store, picked up by a sync.
    vault.put("plumb/app", { password: `${canary}-password-2${awkward}` });
    expect((await agent.api("POST", "/api/v1/stacks/good/sync")).status).toBe(202);
    await eventually(async () => ((await server.canLogin("canary_app", `${canary}-password-2${awkward}`)) ? true : undefined), 30_000, "rotated password");
    expect(await server.canLogin("canary_app", `${canary}-password-1${awkward}`)).toBe(false);

    // A failing apply: PostgreSQL's error names the user, which is a secret.
    const broken = await eventually(
      async () => {
        const current = await summary("broken");
        const failed = current.conditions.find((item) => item.status === "True" && (item.type === "Stalled" || item.type === "Degraded"));
        return failed?.message.includes("password authentication failed") === true ? failed : undefined;
      },
      60_000,
      "broken fails",
    );
    expect(broken.message).toContain('user "[redacted]"');

    // Every route, as an admin would call it.
    const responses: string[] = [];
    const call = async (method: string, route: string, body?: unknown) => {
      const response = await fetch(`${agent.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${agent.adminToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      responses.push(`${method} ${route} ${response.status}\n${await response.text()}`);
    };
    for (const route of [
      "/healthz",
      "/readyz",
      "/metrics",
      "/api/v1/openapi.json",
      "/api/v1/stacks",
      "/api/v1/audit?limit=1000",
      "/api/v1/compliance",
      "/api/v1/compliance?format=csv",
      "/api/v1/compliance?format=md",
      "/api/v1/composites",
      "/api/v1/composites.md",
    ])
      await call("GET", route);
    for (const stack of ["good", "broken"]) {
      for (const suffix of ["", "/resources", "/plan", "/runs", "/events"]) await call("GET", `/api/v1/stacks/${stack}${suffix}`);
      const runs = (await agent.api<{ items: { id: string }[] }>("GET", `/api/v1/stacks/${stack}/runs`)).body.items;
      for (const run of runs) await call("GET", `/api/v1/stacks/${stack}/runs/${run.id}`);
      for (const action of ["refresh", "suspend", "resume", "sync"]) await call("POST", `/api/v1/stacks/${stack}/${action}`);
      await call("POST", `/api/v1/stacks/${stack}/rollback`, { revision: "0".repeat(40) });
    }
    await call("POST", "/api/v1/tokens", { name: "reader", role: "viewer" });
    expect(responses.join("\n")).toContain("canary_app");

    // Every CLI command that reads what the agent or the store knows.
    const remote = { PLUMB_URL: agent.url, PLUMB_TOKEN: agent.adminToken };
    const dataDir = path.join(work, "data");
    const outputs: string[] = [];
    const cli = async (args: string[], env: Record<string, string> = remote) => {
      const result = await runCliAsync(args, { env });
      outputs.push(`$ plumb ${args.join(" ")}\n${result.stdout}${result.stderr}`);
      return result;
    };
    for (const args of [
      ["status"],
      ["status", "good"],
      ["status", "broken"],
      ["history", "good"],
      ["history", "broken"],
      ["history", "good", "--resource", "postgres.plumb.dev/v1/Role/canary_app"],
      ["diff", "good"],
      ["report", "compliance"],
      ["report", "compliance", "--format", "csv"],
      ["report", "compliance", "--format", "json"],
    ])
      await cli(args);
    for (const args of [
      ["audit", "export", "--format", "jsonl"],
      ["audit", "export", "--format", "csv"],
      ["audit", "verify"],
      ["state", "list"],
      ["state", "show", "postgres.plumb.dev/v1/Role/canary_app", "--stack", "good"],
    ])
      await cli([...args, "--data-dir", dataDir], {});
    const local = { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password, PLUMB_SECRET_VAULT_SECRET_ID: vault.secretId };
    const platform = path.join(work, "repo", "platform");
    for (const format of ["text", "json", "markdown"])
      await cli(
        ["plan", path.join(work, "repo", "apps", "good"), "--platform", platform, "--data-dir", path.join(work, "cli-data"), "--format", format],
        local,
      );
    await cli(["plan", path.join(work, "repo", "apps", "broken"), "--platform", platform, "--data-dir", path.join(work, "cli-data")], local);
    const cliText = outputs.join("\n");
    expect(cliText).toContain("secret.rotated");
    expect(cliText).toContain('user "[redacted]"');

    await eventually(async () => (events.includes("event: status") ? true : undefined), 5_000, "the event stream");
    stream.abort();
    await agent.stop();

    expect(responses.join("\n")).not.toContain(canary);
    // Base64 hides the canary's letters; look for each value's own encoding too.
    for (const value of [`${canary}-password-1${awkward}`, `${canary}-password-2${awkward}`, `${canary}-user${awkward}`, `${canary}-admin${awkward}`]) {
      const encoded = Buffer.from(value).toString("base64").slice(0, 40);
      for (const text of [responses.join("\n"), events, outputs.join("\n"), agent.output()]) expect(text).not.toContain(encoded);
    }
    expect(events).not.toContain(canary);
    expect(cliText).not.toContain(canary);
    expect(agent.output()).toContain("password authentication failed");
    expect(agent.output()).not.toContain(canary);
    const stored = [...walk(dataDir), ...walk(path.join(work, "cli-data"))];
    expect(stored.some((file) => file.endsWith("plumb.db"))).toBe(true);
    for (const file of stored) expect(readFileSync(file).includes(canary), file).toBe(false);
  }, 240_000);
});
