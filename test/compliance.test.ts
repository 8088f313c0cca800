// Compliance metadata against a real PostgreSQL server: injected into every
// role, database and schema's catalog comment, required keys denied with the
// rule, resource and file:line, warnings let the sync through, and a tag
// removed by hand is drift that apply heals.

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, runCli, type CliResult, type Workspace } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const policy = `apiVersion: plumb.dev/v1
kind: CompliancePolicy
metadata: { name: platform }
spec:
  tagPrefix: compliance/
  keys:
    owner: { pattern: "^[^@\\\\s]+@[^@\\\\s]+$", overridable: true }
    atoDate: { format: date, notPast: true, level: warn }
    complianceLevel: { enum: [low, moderate, high], default: moderate }
`;

function stack(name: string, metadata: string, resources: string): string {
  workspace = createWorkspace({ name, prune: true });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name} }
spec:
  providers:
    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } }
  sync: { prune: true }
${metadata === "" ? "" : `  metadata: ${metadata}\n`}`,
  );
  workspace.write("db.yaml", resources);
  const policyFile = path.join(workspace.root, "policy.yaml");
  writeFileSync(policyFile, policy);
  return policyFile;
}

function plumb(args: string[], policyFile: string): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir, "--policy", policyFile], { env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password } });
}

const resource = (kind: string, name: string, spec: string, labels = "") =>
  `---\napiVersion: postgres.plumb.dev/v1\nkind: ${kind}\nmetadata: { name: ${name}${labels === "" ? "" : `, labels: ${labels}`} }\nspec: ${spec}\n`;

async function comments(): Promise<Record<string, Record<string, string>>> {
  const rows = await server.query<{ name: string; comment: string | null }>(
    `SELECT 'role/' || rolname AS name, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'cmp_%'
     UNION ALL SELECT 'database/' || datname, shobj_description(oid, 'pg_database') FROM pg_database WHERE datname LIKE 'cmp_%'`,
  );
  const schemaRows = await server.query<{ name: string; comment: string | null }>(
    "SELECT 'schema/' || nspname AS name, obj_description(oid, 'pg_namespace') AS comment FROM pg_namespace WHERE nspname LIKE 'cmp_%'",
    [],
    "cmp_db",
  );
  const result: Record<string, Record<string, string>> = {};
  for (const row of [...rows, ...schemaRows]) {
    const line = (row.comment ?? "").split("\n").find((text) => text.startsWith("plumb: "));
    result[row.name] = line === undefined ? {} : (JSON.parse(line.slice("plumb: ".length)) as Record<string, string>);
  }
  return result;
}

describe("compliance metadata", () => {
  it("writes the required and automatic metadata on every role, database and schema, and heals a tag removed by hand", async () => {
    const policyFile = stack(
      "cmp-stack",
      "{ owner: data@example.org, atoDate: '2030-01-01' }",
      resource("Role", "cmp_owner", "{ login: false }") +
        resource("Role", "cmp_app", "{ login: true, tags: { team: data } }", "{ owner: app-team@example.org }") +
        resource("Database", "cmp_db", "{ owner: cmp_owner }") +
        resource("Schema", "cmp-api", "{ name: cmp_api, database: cmp_db, owner: cmp_owner }"),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"], policyFile);
    expect(applied.status, applied.stderr).toBe(0);
    const tagged = await comments();
    expect(Object.keys(tagged).sort()).toEqual(["database/cmp_db", "role/cmp_app", "role/cmp_owner", "schema/cmp_api"]);
    for (const [name, tags] of Object.entries(tagged)) {
      expect(tags, name).toMatchObject({
        "compliance/atoDate": "2030-01-01",
        "compliance/complianceLevel": "moderate",
        "compliance/managed-by": "plumb",
        "compliance/stack": "cmp-stack",
      });
      expect(tags["compliance/owner"], name).toMatch(/@example\.org$/);
      expect(tags["compliance/source"], name).toBe(path.resolve(workspace.stackDir));
    }
    expect(tagged["role/cmp_owner"]?.["compliance/owner"]).toBe("data@example.org");
    expect(tagged["role/cmp_app"]).toMatchObject({ "compliance/owner": "app-team@example.org", team: "data" });
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], policyFile).status).toBe(0);

    await server.query("COMMENT ON ROLE cmp_app IS 'hand written note'");
    const drifted = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], policyFile);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toMatch(/Role\/cmp_app\s+update: drift/);
    expect(plumb(["apply", workspace.stackDir, "--yes"], policyFile).status).toBe(0);
    const healed = await comments();
    expect(healed["role/cmp_app"]).toMatchObject({ "compliance/owner": "app-team@example.org", "compliance/managed-by": "plumb" });
    const [comment] = await server.query<{ comment: string }>("SELECT shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'cmp_app'");
    expect(comment?.comment.startsWith("hand written note\n")).toBe(true);
  });

  it("denies a resource without an owner, naming the rule, the resource and its file:line, and applies nothing", async () => {
    const policyFile = stack("cmp-deny", "", resource("Role", "cmp_nobody", "{ login: false }"));
    const result = plumb(["apply", workspace.stackDir, "--yes"], policyFile);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("db.yaml:2 (postgres.plumb.dev/v1/Role/cmp_nobody): policy rule required/owner denies the sync");
    expect(result.stderr).toContain("[PLUMB_POLICY_DENIED]");
    expect(await server.query("SELECT 1 FROM pg_roles WHERE rolname = 'cmp_nobody'")).toEqual([]);
    const validated = runCli(["validate", workspace.stackDir, "--policy", policyFile]);
    expect(validated.status).toBe(1);
    expect(validated.stderr).toContain("required/owner");
  });

  it("denies before any live system is read: a stack whose server is down still gets the rule, not a connection error", async () => {
    const policyFile = stack("cmp-deny-offline", "", resource("Role", "cmp_offline", "{ login: false }"));
    const stackFile = path.join(workspace.stackDir, "stack.yaml");
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace(`port: ${server.port}`, "port: 1"));
    const result = plumb(["plan", workspace.stackDir], policyFile);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("db.yaml:2 (postgres.plumb.dev/v1/Role/cmp_offline): policy rule required/owner denies the sync");
    expect(result.stderr).not.toMatch(/ECONNREFUSED|cannot connect|PLUMB_PROVIDER_UNAVAILABLE/);
  });

  it("lets a warn rule through and says so in the plan", async () => {
    const policyFile = stack("cmp-warn", "{ owner: data@example.org, atoDate: '2020-01-01' }", resource("Role", "cmp_expired", "{ login: false }"));
    const planned = plumb(["plan", workspace.stackDir], policyFile);
    expect(planned.status).toBe(0);
    expect(planned.stdout).toContain("policy rule valid/atoDate (warn): postgres.plumb.dev/v1/Role/cmp_expired: atoDate 2020-01-01 is in the past");
    expect(plumb(["apply", workspace.stackDir, "--yes"], policyFile).status).toBe(0);
    expect((await comments())["role/cmp_expired"]).toMatchObject({ "compliance/atoDate": "2020-01-01" });
  });

  it("refuses a malformed policy with its file and line", () => {
    const policyFile = stack("cmp-bad", "{ owner: data@example.org }", resource("Role", "cmp_x", "{ login: false }"));
    writeFileSync(policyFile, policy.replace("level: warn", "level: maybe"));
    const result = plumb(["plan", workspace.stackDir], policyFile);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/policy\.yaml:\d+:\d+.*level/);
    expect(result.stderr).toContain("PLUMB_POLICY_INVALID");
  });

  it("runs CEL rules: deny stops the sync, remediate fixes the resource in the plan, a stack-wide warn is reported", async () => {
    const rules = `  rules:
    - name: limit-connections
      level: deny
      kinds: [Role]
      expression: "!has(resource.spec.connectionLimit) || resource.spec.connectionLimit <= 100.0"
      description: no role may hold more than 100 connections
    - name: login-needs-limit
      level: remediate
      kinds: [postgres.plumb.dev/v1/Role]
      expression: "!has(resource.spec.login) || !resource.spec.login || has(resource.spec.connectionLimit)"
      remediate: { /connectionLimit: 10 }
    - name: databases-owned-in-stack
      level: warn
      scope: stack
      expression: 'resources.filter(r, r.kind == "Database").all(d, resources.exists(r, r.kind == "Role" && r.name == d.spec.owner))'
      description: every Database has an owner Role in the same stack
`;
    const policyFile = stack("cmp-rules", "{ owner: data@example.org }", resource("Role", "cmp_greedy", "{ login: true, connectionLimit: 500 }"));
    writeFileSync(policyFile, policy + rules);
    const denied = plumb(["plan", workspace.stackDir], policyFile);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toContain(
      "db.yaml:2 (postgres.plumb.dev/v1/Role/cmp_greedy): policy rule rule/limit-connections denies the sync: postgres.plumb.dev/v1/Role/cmp_greedy does not meet rule limit-connections (no role may hold more than 100 connections)",
    );

    workspace.write("db.yaml", resource("Role", "cmp_unlimited", "{ login: true }") + resource("Database", "cmp_rules_db", "{ owner: postgres }"));
    const planned = plumb(["plan", workspace.stackDir], policyFile);
    expect(planned.status, planned.stderr).toBe(0);
    expect(planned.stdout).toContain(
      "policy rule rule/login-needs-limit (remediate): postgres.plumb.dev/v1/Role/cmp_unlimited does not meet rule login-needs-limit; fixed: /connectionLimit = 10",
    );
    expect(planned.stdout).toMatch(/connectionLimit: 10/);
    expect(planned.stdout).toContain(
      "policy rule rule/databases-owned-in-stack (warn): stack cmp-rules does not meet rule databases-owned-in-stack (every Database has an owner Role in the same stack)",
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"], policyFile).status).toBe(0);
    expect(await server.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'cmp_unlimited'")).toEqual([{ rolconnlimit: 10 }]);
    await server.query("DROP DATABASE cmp_rules_db");

    writeFileSync(policyFile, policy + rules.replace("resource.spec.connectionLimit <= 100.0", "resource.spec. <= 100"));
    const broken = plumb(["plan", workspace.stackDir], policyFile);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/policy\.yaml:\d+:\d+: spec\.rules\[0\]\.expression: not a CEL expression/);
  });
});
