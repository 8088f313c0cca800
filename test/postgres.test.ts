// The PostgreSQL provider against a real server: create, in-place update, drift
// made by hand and reverted, prune, deletion policy, hostile names, bad
// credentials, and objects Plumb does not manage left alone.

import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, runCli, type CliResult, type Workspace } from "./helpers.js";
import { freePort, usePostgres } from "./postgres-server.js";

const server = usePostgres();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const adminSecret = () => ({ PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password });

function stack(name: string, resources: string, options: { port?: number; prune?: boolean } = {}): void {
  workspace = createWorkspace({ name, prune: options.prune ?? true });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name} }
spec:
  providers:
    main-db:
      type: postgres
      config: { host: 127.0.0.1, port: ${options.port ?? server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } }, connectTimeoutSeconds: 3 }
  sync: { prune: ${options.prune ?? true} }
`,
  );
  workspace.write("db.yaml", resources);
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env: { ...adminSecret(), ...env } });
}

const provider = "plumb.dev/provider: main-db";
const role = (name: string, spec: string, extra = "") =>
  `---\napiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata:\n  name: ${JSON.stringify(name)}\n  annotations: { ${provider}${extra} }\nspec: ${spec}\n`;
const database = (name: string, spec: string, extra = "") =>
  `---\napiVersion: postgres.plumb.dev/v1\nkind: Database\nmetadata:\n  name: ${name}\n  annotations: { ${provider}${extra} }\nspec: ${spec}\n`;
const kindOf = (kind: string) => (name: string, spec: string) =>
  `---\napiVersion: postgres.plumb.dev/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  annotations: { ${provider} }\nspec: ${spec}\n`;
const grant = kindOf("Grant");
const defaultPrivileges = kindOf("DefaultPrivileges");
const extension = kindOf("Extension");
const schema = (name: string, spec: string) =>
  `---\napiVersion: postgres.plumb.dev/v1\nkind: Schema\nmetadata:\n  name: ${name}\n  annotations: { ${provider} }\nspec: ${spec}\n`;

describe("postgres provider", () => {
  it("creates roles, a database and a schema in dependency order, then has nothing to do", async () => {
    stack(
      "pg-create",
      role("orders_owner", "{ login: false, tags: { team: orders } }") +
        role("orders_app", "{ login: true, connectionLimit: 20, memberOf: [orders_owner] }") +
        database("orders", "{ owner: orders_owner, encoding: UTF8, connectionLimit: 50, tags: { team: orders } }") +
        schema("orders-api", "{ name: api, database: orders, owner: orders_owner }"),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("4 created");
    const [app] = await server.query("SELECT rolcanlogin, rolconnlimit FROM pg_roles WHERE rolname = 'orders_app'");
    expect(app).toEqual({ rolcanlogin: true, rolconnlimit: 20 });
    expect(
      await server.query(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = 'orders_app'",
      ),
    ).toEqual([{ rolname: "orders_owner" }]);
    const [orders] = await server.query(
      "SELECT pg_get_userbyid(datdba) AS owner, datconnlimit, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = 'orders'",
    );
    expect(orders).toEqual({ owner: "orders_owner", datconnlimit: 50, comment: 'plumb: {"team":"orders"}' });
    expect(await server.query("SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'api'", [], "orders")).toEqual([
      { owner: "orders_owner" },
    ]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("applies a changed connection limit in place, keeping the role's identity", async () => {
    stack("pg-inplace", role("inplace_app", "{ login: true, connectionLimit: 5 }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const [before] = await server.query<{ oid: number }>("SELECT oid FROM pg_roles WHERE rolname = 'inplace_app'");
    workspace.write("db.yaml", role("inplace_app", "{ login: true, connectionLimit: 9 }"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.stdout).toContain("~   postgres.plumb.dev/v1/Role/inplace_app  update: connectionLimit changed in the source");
    expect(planned.stdout).toContain("connectionLimit: 5 → 9");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const [after] = await server.query<{ oid: number; rolconnlimit: number }>("SELECT oid, rolconnlimit FROM pg_roles WHERE rolname = 'inplace_app'");
    expect(after).toEqual({ oid: before?.oid, rolconnlimit: 9 });
  });

  it("sets a role's expiry, sees it changed by hand as drift, and takes another spelling of the same instant as no change", async () => {
    stack("pg-valid", role("valid_app", '{ login: true, validUntil: "2030-01-01T00:00:00Z" }'));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const expiry = async () =>
      (await server.query<{ until: string | null }>("SELECT rolvaliduntil::text AS until FROM pg_roles WHERE rolname = 'valid_app'"))[0]?.until;
    expect(await expiry()).toMatch(/^2030-01-01 00:00:00/);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);

    await server.query("ALTER ROLE valid_app VALID UNTIL '2031-06-01 00:00:00+00'");
    const drifted = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toContain("validUntil");
    expect(drifted.stdout).toContain("# drift");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(await expiry()).toMatch(/^2030-01-01 00:00:00/);

    workspace.write("db.yaml", role("valid_app", '{ login: true, validUntil: "2030-01-01T01:00:00+01:00" }'));
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
    workspace.write("db.yaml", role("valid_app", '{ login: true, validUntil: "infinity" }'));
    const toInfinity = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(toInfinity.stderr).toBe("");
    expect(toInfinity.status).toBe(0);
    expect(await expiry()).toBe("infinity");
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("finds changes made by hand field by field and reverts them", async () => {
    stack(
      "pg-drift",
      role("drift_group", "{ login: false }") +
        role("drift_app", "{ login: true, connectionLimit: 3, memberOf: [drift_group], tags: { owner: team-a } }") +
        database("drift_db", "{ owner: drift_app }") +
        schema("drift-schema", "{ name: reports, database: drift_db, owner: drift_app }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await server.query("ALTER ROLE drift_app CONNECTION LIMIT 100 NOLOGIN");
    await server.query("REVOKE drift_group FROM drift_app");
    await server.query("COMMENT ON ROLE drift_app IS 'a note from the DBA'");
    await server.query("DROP SCHEMA reports", [], "drift_db");

    const planned = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(planned.status).toBe(2);
    expect(planned.stdout).toContain("login: false → true  # drift");
    expect(planned.stdout).toContain("connectionLimit: 100 → 3  # drift");
    expect(planned.stdout).toContain('memberOf: [] → ["drift_group"]  # drift');
    expect(planned.stdout).toContain('tags.owner: (unset) → "team-a"  # drift');
    expect(planned.stdout).toContain("+   postgres.plumb.dev/v1/Schema/drift-schema  recreate: missing from the live system (deleted outside Plumb)");

    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const [app] = await server.query(
      "SELECT rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = 'drift_app'",
    );
    // The DBA's note stays; Plumb's tags are added after it.
    expect(app).toEqual({ rolcanlogin: true, rolconnlimit: 3, comment: 'a note from the DBA\nplumb: {"owner":"team-a"}' });
    expect(await server.query("SELECT nspname FROM pg_namespace WHERE nspname = 'reports'", [], "drift_db")).toHaveLength(1);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("prunes a role, leaves a database in place by default, and drops one only with deletion-policy Delete", async () => {
    stack("pg-prune", role("prune_role", "{ login: false }") + database("kept_db", "{}") + database("dropped_db", "{}", ", plumb.dev/deletion-policy: Delete"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("db.yaml", role("other_role", "{ login: false }"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.stdout).toContain("-   postgres.plumb.dev/v1/Role/prune_role  delete");
    expect(planned.stdout).toContain(
      "o   postgres.plumb.dev/v1/Database/kept_db  orphan: removed from the stack; its deletion policy is Retain, so it is left in place and no longer managed",
    );
    expect(planned.stdout).toContain("-   postgres.plumb.dev/v1/Database/dropped_db  delete");
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("1 no longer managed");
    const names = (await server.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname IN ('kept_db', 'dropped_db')")).map(
      (row) => row.datname,
    );
    expect(names).toEqual(["kept_db"]);
    expect(await server.query("SELECT 1 FROM pg_roles WHERE rolname = 'prune_role'")).toHaveLength(0);
    expect(plumb(["state", "list"]).stdout).not.toContain("kept_db");
  });

  it("refuses to replace a database without deletion-policy Delete", () => {
    stack("pg-replace", database("fixed_db", "{ encoding: UTF8 }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("db.yaml", database("fixed_db", "{ encoding: SQL_ASCII, template: template0 }"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.status).toBe(1);
    expect(planned.stderr).toContain("changing encoding, template would replace postgres.plumb.dev/v1/Database/fixed_db, destroying the data it holds");
  });

  it("creates a role with a hostile name exactly, and nothing else", async () => {
    await server.query("CREATE ROLE admin");
    const hostile = 'x"; DROP ROLE admin; --';
    stack("pg-hostile", role(hostile, '{ login: false, tags: { note: "it\'s; DROP ROLE admin" } }'));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(await server.query("SELECT rolname FROM pg_roles WHERE rolname = $1", [hostile])).toHaveLength(1);
    expect(await server.query("SELECT rolname FROM pg_roles WHERE rolname = 'admin'")).toHaveLength(1);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("never touches or reports objects it does not manage", async () => {
    await server.query("CREATE ROLE hand_made LOGIN CONNECTION LIMIT 7");
    stack("pg-unmanaged", role("managed_one", "{ login: false }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const planned = plumb(["plan", workspace.stackDir, "--show-unchanged"]);
    expect(planned.stdout).not.toContain("hand_made");
    expect(await server.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'hand_made'")).toEqual([{ rolconnlimit: 7 }]);
  });

  it("sets a role's password from a secret, keeps only a digest, and rotates it", async () => {
    stack("pg-password", role("pw_user", "{ login: true, password: { secretRef: { name: pw-user, key: password } } }"));
    const first = "first-Secret-value-1";
    const second = "second-Secret-value-2";
    expect(plumb(["apply", workspace.stackDir, "--yes"], { PLUMB_SECRET_PW_USER_PASSWORD: first }).status).toBe(0);
    expect(await server.canLogin("pw_user", first)).toBe(true);
    const shown = plumb(["state", "show", "postgres.plumb.dev/v1/Role/pw_user"]);
    expect(shown.stdout).toContain("digest: hmac-sha256:");
    expect(shown.stdout).not.toContain(first);

    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], { PLUMB_SECRET_PW_USER_PASSWORD: first }).status).toBe(0);
    const rotated = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], { PLUMB_SECRET_PW_USER_PASSWORD: second });
    expect(rotated.status).toBe(2);
    expect(rotated.stdout).toContain("password.digest:");
    expect(rotated.stdout).not.toContain(second);
    expect(plumb(["apply", workspace.stackDir, "--yes"], { PLUMB_SECRET_PW_USER_PASSWORD: second }).status).toBe(0);
    expect(await server.canLogin("pw_user", second)).toBe(true);
    expect(await server.canLogin("pw_user", first)).toBe(false);
  });

  it("says which secret is missing without guessing its value", () => {
    stack("pg-nosecret", role("needs_secret", "{ login: true, password: { secretRef: { name: absent, key: password } } }"));
    const result = plumb(["plan", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("secret absent/password is not set");
    expect(result.stderr).toContain("PLUMB_SECRET_ABSENT_PASSWORD");
  });

  it("reports a wrong password once for the instance, with the server's address and without the secret", () => {
    // Forty-five roles: one failed login, one error naming how many resources it held back.
    const resources = Array.from({ length: 45 }, (_, index) => role(`wrong_pw_role_${index}`, "{ login: false }")).join("");
    stack("pg-wrongpw", resources);
    const wrong = "not-the-right-password-42";
    const result = plumb(["plan", workspace.stackDir], { PLUMB_SECRET_PG_ADMIN_PASSWORD: wrong });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`PostgreSQL at 127.0.0.1:${server.port}`);
    expect(result.stderr.match(/refused the login/g)).toHaveLength(1);
    expect(result.stderr).toContain('provider instance "main-db": 45 resources not observed');
    expect(result.stderr).not.toContain(wrong);
  });

  it("reports an unreachable server by host and port, and another stack still applies", async () => {
    const closedPort = await freePort();
    stack("pg-unreachable", role("unreachable_role", "{ login: false }"), { port: closedPort });
    const result = plumb(["plan", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`cannot reach PostgreSQL at 127.0.0.1:${closedPort}`);
    expect(result.stderr).not.toContain(server.password);
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("pg-healthy", role("healthy_role", "{ login: false }"));
    const healthy = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: adminSecret() });
    expect(healthy.status).toBe(0);
  });

  it("grants on a database, a schema and all its tables, and restores a privilege revoked by hand", async () => {
    stack(
      "pg-grants",
      role("shop_owner", "{ login: false }") +
        role("shop_reader", "{ login: true }") +
        database("shop", "{ owner: shop_owner }") +
        schema("shop-sales", "{ name: sales, database: shop, owner: shop_owner }") +
        grant("reader-connect", "{ role: shop_reader, database: shop, objectType: database, privileges: [CONNECT] }") +
        grant("reader-usage", "{ role: shop_reader, database: shop, objectType: schema, schema: sales, privileges: [USAGE] }") +
        grant("reader-tables", "{ role: shop_reader, database: shop, objectType: table, schema: sales, privileges: [SELECT] }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await server.query("CREATE TABLE sales.orders (id int); CREATE TABLE sales.refunds (id int); ALTER TABLE sales.orders OWNER TO shop_owner", [], "shop");
    const afterTables = plumb(["plan", workspace.stackDir]);
    // New tables appeared: ALL TABLES IN SCHEMA no longer holds for every table.
    expect(afterTables.stdout).toContain("postgres.plumb.dev/v1/Grant/reader-tables  recreate: missing from the live system (deleted outside Plumb)");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const privileges = async () =>
      server.query(
        "SELECT has_database_privilege('shop_reader', 'shop', 'CONNECT') AS connect, has_schema_privilege('shop_reader', 'sales', 'USAGE') AS usage, has_table_privilege('shop_reader', 'sales.orders', 'SELECT') AS orders, has_table_privilege('shop_reader', 'sales.refunds', 'SELECT') AS refunds, has_table_privilege('shop_reader', 'sales.orders', 'INSERT') AS insert",
        [],
        "shop",
      );
    expect(await privileges()).toEqual([{ connect: true, usage: true, orders: true, refunds: true, insert: false }]);

    await server.query("REVOKE SELECT ON sales.refunds FROM shop_reader", [], "shop");
    const drift = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(drift.status).toBe(2);
    expect(drift.stdout).toContain("postgres.plumb.dev/v1/Grant/reader-tables");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(await privileges()).toEqual([{ connect: true, usage: true, orders: true, refunds: true, insert: false }]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("rejects a privilege that does not apply to the object type, at render time", () => {
    stack("pg-badgrant", grant("bad", "{ role: r, database: d, objectType: database, privileges: [SELECT] }"));
    const result = runCli(["validate", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("spec.privileges: SELECT does not apply to a database");
  });

  it("gives future tables to a role through default privileges", async () => {
    stack(
      "pg-defaults",
      role("wh_owner", "{ login: false }") +
        role("wh_reader", "{ login: false }") +
        database("warehouse", "{ owner: wh_owner }") +
        defaultPrivileges("reader-future", "{ role: wh_reader, owner: wh_owner, database: warehouse, objectType: table, privileges: [SELECT, INSERT] }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await server.query("SET ROLE wh_owner; CREATE TABLE public.later (id int); RESET ROLE", [], "warehouse");
    expect(await server.query("SELECT has_table_privilege('wh_reader', 'public.later', 'INSERT') AS insert", [], "warehouse")).toEqual([{ insert: true }]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
    await server.query("ALTER DEFAULT PRIVILEGES FOR ROLE wh_owner REVOKE INSERT ON TABLES FROM wh_reader", [], "warehouse");
    const drift = plumb(["plan", workspace.stackDir]);
    expect(drift.stdout).toContain('privileges: ["SELECT"] → ["SELECT","INSERT"]  # drift');
  });

  it("installs an extension and installs it again after it was dropped by hand", async () => {
    stack(
      "pg-extension",
      database("ext_db", "{}") + schema("ext-schema", "{ name: ext, database: ext_db }") + extension("citext", "{ database: ext_db, schema: ext }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const installed = () =>
      server.query("SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE extname = 'citext'", [], "ext_db");
    expect(await installed()).toEqual([{ schema: "ext" }]);
    await server.query("DROP EXTENSION citext", [], "ext_db");
    expect(plumb(["plan", workspace.stackDir]).stdout).toContain("+   postgres.plumb.dev/v1/Extension/citext  recreate: missing from the live system");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(await installed()).toEqual([{ schema: "ext" }]);
  });
});
