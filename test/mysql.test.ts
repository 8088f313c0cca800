// The MariaDB provider against a real mariadbd: databases, users, roles and
// grants created in dependency order, drift made by hand and healed, in-place
// update, replacement, prune and the deletion policy, hostile names, an
// unreachable server, and passwords that never leave the agent.

import { afterEach, describe, expect, it } from "vitest";
import { expectNowhere, providerWorkspace, resourceWriter, runCli, type CliResult, type Workspace } from "./helpers.js";
import { useMariadb } from "./mariadb-server.js";
import { freePort } from "./postgres-server.js";

const server = useMariadb();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const adminSecret = () => ({ PLUMB_SECRET_MARIADB_ADMIN_PASSWORD: server.password });

function stack(name: string, resources: string, options: { port?: number } = {}): void {
  workspace = providerWorkspace(
    name,
    `sql: { type: mysql, config: { host: 127.0.0.1, port: ${options.port ?? server.port}, user: root, password: { secretRef: { name: mariadb-admin, key: password } }, connectTimeoutSeconds: 2 } }`,
    "db.yaml",
    resources,
  );
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env: { ...adminSecret(), ...env } });
}

const resource = resourceWriter("mysql.plumb.dev/v1", "sql");
const database = resource("Database");
const user = resource("User");
const role = resource("Role");
const grant = resource("Grant");

const appPassword = "app-Maria-canary-5d1e";
const secrets = { PLUMB_SECRET_APP_DB_PASSWORD: appPassword };
const passwordRef = "{ secretRef: { name: app-db, key: password } }";

describe("mysql provider (MariaDB)", () => {
  it("creates a database, a role, a user and grants in dependency order, with tags in the database comment, then has nothing to do", async () => {
    stack(
      "maria-create",
      grant("app-reads", "{ grantee: reader, database: shop, privileges: [SELECT] }") +
        grant("app-writes", "{ grantee: shop_app, host: '%', database: shop, privileges: [insert, UPDATE, DELETE] }") +
        user("shop_app", `{ password: ${passwordRef}, roles: [reader], defaultRole: reader, maxUserConnections: 10 }`) +
        role("reader", "{}") +
        database("shop", "{ characterSet: utf8mb4, collation: utf8mb4_unicode_ci, tags: { team: shop } }"),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"], secrets);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("5 created");
    const [schema] = await server.query<{ DEFAULT_COLLATION_NAME: string; SCHEMA_COMMENT: string }>(
      "SELECT DEFAULT_COLLATION_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'",
    );
    expect(schema?.DEFAULT_COLLATION_NAME).toBe("utf8mb4_unicode_ci");
    expect(JSON.parse(String(schema?.SCHEMA_COMMENT).replace(/^plumb: /, ""))).toEqual({ team: "shop" });
    expect(await server.canLogin("shop_app", appPassword)).toBe(true);
    expect(await server.query("SELECT default_role, max_user_connections FROM mysql.user WHERE User = 'shop_app'")).toEqual([
      { default_role: "reader", max_user_connections: 10 },
    ]);
    expect(await server.query("SELECT Select_priv, Insert_priv FROM mysql.db WHERE User = 'reader' AND Db = 'shop'")).toEqual([
      { Select_priv: "Y", Insert_priv: "N" },
    ]);
    expect(await server.query("SELECT Insert_priv, Update_priv, Delete_priv, Select_priv FROM mysql.db WHERE User = 'shop_app' AND Db = 'shop'")).toEqual([
      { Insert_priv: "Y", Update_priv: "Y", Delete_priv: "Y", Select_priv: "N" },
    ]);
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(again.stdout).toContain("Plan: no changes; 5 unchanged.");
    expect(again.status).toBe(0);
  });

  it("finds a password, limits, a lock, a role and a privilege changed by hand, and puts them back", async () => {
    stack(
      "maria-drift",
      database("driftdb", "{}") +
        role("drift_role", "{}") +
        user("drift_user", `{ password: ${passwordRef}, roles: [drift_role] }`) +
        grant("drift-grant", "{ grantee: drift_user, host: '%', database: driftdb, privileges: [SELECT] }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    for (const statement of [
      "ALTER USER drift_user@'%' IDENTIFIED BY 'set-by-hand-pw' WITH MAX_QUERIES_PER_HOUR 3 ACCOUNT LOCK",
      "REVOKE drift_role FROM drift_user@'%'",
      "GRANT DROP ON driftdb.* TO drift_user@'%'",
    ])
      await server.query(statement);
    const planned = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(planned.status).toBe(2);
    for (const field of ["password", "locked", "maxQueriesPerHour", "roles", "privileges"]) expect(planned.stdout).toContain(field);
    expect(planned.stdout).not.toContain("set-by-hand-pw");
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(await server.canLogin("drift_user", appPassword)).toBe(true);
    expect(await server.query("SELECT max_questions FROM mysql.user WHERE User = 'drift_user'")).toEqual([{ max_questions: 0 }]);
    expect(await server.query("SELECT Select_priv, Drop_priv FROM mysql.db WHERE User = 'drift_user'")).toEqual([{ Select_priv: "Y", Drop_priv: "N" }]);
    expect(await server.query("SELECT Role FROM mysql.roles_mapping WHERE User = 'drift_user'")).toEqual([{ Role: "drift_role" }]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets).status).toBe(0);
  });

  it("updates in place, replaces a user whose host changes, and refuses to replace a database without deletion-policy Delete", async () => {
    stack("maria-update", database("updb", "{ characterSet: latin1 }") + user("up_user", "{ host: 10.0.0.1, maxQueriesPerHour: 5 }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("db.yaml", database("updb", "{ characterSet: utf8mb4 }") + user("up_user", "{ host: 10.0.0.2, maxQueriesPerHour: 9 }"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stdout).toContain("1 updated");
    expect(applied.stdout).toContain("1 replaced");
    expect(await server.query("SELECT DEFAULT_CHARACTER_SET_NAME AS charset FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'updb'")).toEqual([
      { charset: "utf8mb4" },
    ]);
    expect(await server.query("SELECT Host, max_questions FROM mysql.user WHERE User = 'up_user'")).toEqual([{ Host: "10.0.0.2", max_questions: 9 }]);
    workspace.write("db.yaml", database("updb", "{ name: updb2 }") + user("up_user", "{ host: 10.0.0.2, maxQueriesPerHour: 9 }"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("would replace mysql.plumb.dev/v1/Database/updb, destroying the data it holds");
  });

  it("prunes users and grants, keeps a database by default, and drops one only with deletion-policy Delete", async () => {
    stack(
      "maria-prune",
      database("keptdb", "{}") +
        database("droppeddb", "{}", ", plumb.dev/deletion-policy: Delete") +
        user("pruned_user", "{}") +
        grant("pruned-grant", "{ grantee: pruned_user, host: '%', database: keptdb, privileges: [SELECT] }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await server.query("CREATE TABLE keptdb.rows_kept (id INT)");
    workspace.write("db.yaml", role("other_role", "{}"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("1 no longer managed");
    const names = (
      await server.query<{ name: string }>("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('keptdb', 'droppeddb')")
    ).map((row) => row.name);
    expect(names).toEqual(["keptdb"]);
    expect(await server.query("SELECT 1 FROM mysql.user WHERE User = 'pruned_user'")).toHaveLength(0);
    expect(await server.query("SELECT 1 FROM mysql.db WHERE User = 'pruned_user'")).toHaveLength(0);
  });

  it("creates objects with hostile names exactly, and a database name with _ is granted as itself, not as a pattern", async () => {
    const hostileUser = "x'; DROP USER root; --";
    const hostileDatabase = "a`b'c_d";
    stack(
      "maria-hostile",
      database("hostile-db", `{ name: ${JSON.stringify(hostileDatabase)} }`) +
        user("hostile-user", `{ name: ${JSON.stringify(hostileUser)}, host: "10.%" }`) +
        grant("hostile-grant", `{ grantee: ${JSON.stringify(hostileUser)}, host: "10.%", database: ${JSON.stringify(hostileDatabase)}, privileges: [SELECT] }`),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(await server.query("SELECT User FROM mysql.user WHERE User = ?", [hostileUser])).toHaveLength(1);
    expect(await server.query("SELECT 1 FROM mysql.user WHERE User = 'root'")).not.toHaveLength(0);
    expect(await server.query("SELECT Db FROM mysql.db WHERE User = ?", [hostileUser])).toEqual([{ Db: "a`b'c\\_d" }]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("rotates a password, keeps only digests, and never shows a password anywhere", async () => {
    const rotated = "rotated-Maria-canary-0c4f";
    stack("maria-secret", user("secret_user", `{ password: ${passwordRef} }`));
    const outputs: string[] = [];
    const run = (args: string[], env: Record<string, string>) => {
      const result = plumb(args, env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    expect(run(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(run(["plan", workspace.stackDir, "--detailed-exitcode"], { PLUMB_SECRET_APP_DB_PASSWORD: rotated }).status).toBe(2);
    expect(run(["apply", workspace.stackDir, "--yes"], { PLUMB_SECRET_APP_DB_PASSWORD: rotated }).status).toBe(0);
    expect(await server.canLogin("secret_user", rotated)).toBe(true);
    expect(await server.canLogin("secret_user", appPassword)).toBe(false);
    expect(run(["state", "show", "mysql.plumb.dev/v1/User/secret_user"], {}).stdout).toContain("digest: hmac-sha256:");
    run(["history"], {});
    expectNowhere([appPassword, rotated, server.password], outputs, workspace.dataDir);
  });

  it("reports a wrong admin password and an unreachable server by address, and another stack still applies", async () => {
    stack("maria-wrongpw", user("wrongpw_user", "{}"));
    const wrong = plumb(["plan", workspace.stackDir], { PLUMB_SECRET_MARIADB_ADMIN_PASSWORD: "not-the-admin-pw-8e" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`MariaDB at 127.0.0.1:${server.port}`);
    expect(wrong.stderr).toContain("refused the login");
    expect(wrong.stderr).not.toContain("not-the-admin-pw-8e");
    const closedPort = await freePort();
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("maria-unreachable", user("unreachable_user", "{}"), { port: closedPort });
    const unreachable = runCli(["plan", workspace.stackDir, "--data-dir", sharedData], { env: adminSecret() });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach MariaDB at 127.0.0.1:${closedPort}`);
    workspace.cleanup();
    stack("maria-healthy", user("healthy_user", "{}"));
    expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: adminSecret() }).status).toBe(0);
    expect(await server.query("SELECT 1 FROM mysql.user WHERE User = 'healthy_user'")).toHaveLength(1);
  });

  it("refuses a privilege that does not apply at that level, at render time", () => {
    stack("maria-badpriv", grant("bad", "{ grantee: someone, host: '%', database: x, table: t, privileges: [EXECUTE, ALL] }"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.status).toBe(1);
    expect(planned.stderr).toContain('"EXECUTE" is not a table privilege');
    expect(planned.stderr).toContain('"ALL" is not a table privilege');
  });
});
