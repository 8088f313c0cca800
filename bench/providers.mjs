// Benchmark: the Redis and MariaDB providers at about 1,000 objects each, beside
// the raw protocol. Redis: 1,000 ACL users (Plumb vs redis-cli fed the same
// ACL SETUSER lines). MariaDB: 250 teams, each a database, a role, a user and
// a grant (Plumb vs the same SQL through the mariadb client). For each: cold
// apply, no-op check (floor: a new connection and the bulk reads alone) and
// repair of 30 changes made by hand (floor: the reads plus the 30 fixes raw).
// RabbitMQ: 200 vhosts, each with a user, a permission, a queue and a policy
// (Plumb vs the same PUTs to the management API). S3: 1,000 buckets with tags
// and CORS on s3rver and its stand-in (scripts/s3-endpoint.mjs). Azure Blob:
// 1,000 containers with metadata on Azurite.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { BlobServiceClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketCorsCommand,
  GetBucketTaggingCommand,
  ListBucketsCommand,
  PutBucketCorsCommand,
  PutBucketTaggingCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { createRequire } from "node:module";
import mysql from "mysql2/promise";
import { createClient } from "redis";
import { startS3Endpoint } from "../scripts/s3-endpoint.mjs";
import { applyStackPlan, defaultRegistry, openSqliteStore, planStack, ProviderConnections, renderStack } from "../dist/index.js";

const count = Number(process.env.PLUMB_BENCH_OBJECTS ?? 1000);
const repairs = 30;
const root = mkdtempSync(path.join(tmpdir(), "plumb-provbench-"));
const adminPassword = "bench-admin-pw";
const appPassword = "bench-app-pw";
process.env.PLUMB_SECRET_ADMIN_PASSWORD = adminPassword;
process.env.PLUMB_SECRET_APP_PASSWORD = appPassword;

const freePort = () =>
  new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
const seconds = (started) => Number(process.hrtime.bigint() - started) / 1e9;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Stops a server and waits for it to exit, so its files can be removed. */
async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

async function timed(work) {
  const started = process.hrtime.bigint();
  await work();
  return seconds(started);
}

async function medianOf(times, work) {
  const values = [];
  for (let index = 0; index < times; index += 1) values.push(await timed(work));
  return median(values);
}

function writeStack(directory, provider, resources) {
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: bench }\nspec:\n  providers:\n    default: ${provider}\n  sync: { prune: true }\n`,
  );
  writeFileSync(path.join(directory, "resources.yaml"), resources);
}

/** One plan (and an apply when it has changes), in process, as the agent runs them. */
async function plumbRun(stackDir, store, registry) {
  const rendered = await renderStack(stackDir, { registry });
  const connections = new ProviderConnections(registry, rendered.definition);
  try {
    const planned = await planStack(rendered, store, connections);
    const { create, update, replace, delete: remove } = planned.plan.summary;
    if (create + update + replace + remove === 0) return planned.plan.summary;
    const applied = await applyStackPlan(rendered, planned, store, connections, { trigger: "bench", revision: null });
    if (applied.result.failed > 0) throw new Error(`apply failed: ${applied.result.outcomes.find((outcome) => outcome.status === "failed")?.error?.message}`);
    return planned.plan.summary;
  } finally {
    await connections.closeAll();
  }
}

const rows = [];
const report = (system, measure, plumb, floor, floorText) =>
  rows.push({ system, measure, plumb: `${plumb.toFixed(2)} s`, floor: `${floor.toFixed(2)} s`, ratio: `${(plumb / floor).toFixed(2)}×`, floorText });

async function redisBench() {
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", adminPassword, "--dir", root],
    {
      stdio: "ignore",
    },
  );
  const connect = async () => {
    const client = createClient({ password: adminPassword, socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
    client.on("error", () => undefined);
    await client.connect();
    return client;
  };
  let admin;
  for (let attempt = 0; attempt < 100 && admin === undefined; attempt += 1) admin = await connect().catch(() => wait(100).then(() => undefined));
  try {
    // Half the users carry rules the server rewrites (+get is in @read), so the check has to ask for its spelling.
    const rules = (index) => (index % 2 === 0 ? ["-@all", "+@read", "+@write"] : ["-@all", "+@read", "+get", "-keys"]);
    const users = Array.from({ length: count }, (_, index) => ({ name: `team${index}-app`, keys: [`team${index}:*`], rules: rules(index) }));
    const stackDir = path.join(root, "redis-stack");
    writeStack(
      stackDir,
      `{ type: redis, config: { host: 127.0.0.1, port: ${port}, password: { secretRef: { name: admin, key: password } } } }`,
      users
        .map(
          (user) =>
            `---\napiVersion: redis.plumb.dev/v1\nkind: User\nmetadata: { name: ${user.name} }\nspec: { passwords: [{ secretRef: { name: app, key: password } }], keys: ${JSON.stringify(user.keys)}, commands: ${JSON.stringify(user.rules)} }\n`,
        )
        .join(""),
    );
    const setuser = (user) => ["ACL", "SETUSER", user.name, "reset", "on", `>${appPassword}`, ...user.keys.map((key) => `~${key}`), ...user.rules];
    const cliLines = users
      .map((user) =>
        setuser(user)
          .map((word) => `"${word.replace(/["\\]/g, "\\$&")}"`)
          .join(" "),
      )
      .join("\n");
    const deleteAll = async () => {
      for (const user of users) await admin.sendCommand(["ACL", "DELUSER", user.name]);
    };
    const redisCli = (input) =>
      execFileSync("redis-cli", ["-p", String(port), "--no-auth-warning", "-a", adminPassword], { input, stdio: ["pipe", "ignore", "inherit"] });

    const rawCold = await timed(async () => redisCli(cliLines));
    await deleteAll();
    const store = await openSqliteStore(path.join(root, "redis-data"));
    const registry = defaultRegistry();
    const cold = await timed(() => plumbRun(stackDir, store, registry));
    report("Redis", `cold apply, ${count} ACL users`, cold, rawCold, "redis-cli with the same ACL SETUSER lines");
    const floorNoop = await medianOf(5, async () => {
      const client = await connect();
      await client.sendCommand(["ACL", "LIST"]);
      client.destroy();
    });
    const noop = await medianOf(5, async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update + summary.create !== 0) throw new Error("the no-op check found changes");
    });
    report("Redis", "no-op check", noop, floorNoop, "a new connection and one ACL LIST");
    const byHand = users.slice(0, repairs);
    for (const user of byHand) await admin.sendCommand(["ACL", "SETUSER", user.name, "+flushall", "~*"]);
    const repair = await timed(async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update !== repairs) throw new Error(`repair found ${summary.update} changes, not ${repairs}`);
    });
    for (const user of byHand) await admin.sendCommand(["ACL", "SETUSER", user.name, "+flushall", "~*"]);
    const floorRepair = await timed(async () => {
      const client = await connect();
      await client.sendCommand(["ACL", "LIST"]);
      for (const user of byHand) await client.sendCommand(setuser(user));
      client.destroy();
    });
    report("Redis", `repair of ${repairs} users changed by hand`, repair, floorRepair, `ACL LIST and ${repairs} ACL SETUSER`);
    await store.close();
  } finally {
    admin?.destroy();
    await stop(child);
  }
}

async function mariadbBench() {
  const port = await freePort();
  const dataDir = path.join(root, "mariadb");
  const socket = path.join(root, "mariadb.sock");
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  execFileSync("mariadb-install-db", ["--no-defaults", `--datadir=${dataDir}`, "--auth-root-authentication-method=normal", "--skip-test-db", ...asRoot], {
    stdio: "ignore",
  });
  const child = spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${dataDir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      "--skip-log-bin",
      "--skip-name-resolve",
      ...asRoot,
    ],
    { stdio: "ignore" },
  );
  let ready = false;
  for (let attempt = 0; attempt < 200 && !ready; attempt += 1) {
    try {
      const first = await mysql.createConnection({ socketPath: socket, user: "root" });
      await first.query(`CREATE OR REPLACE USER root@'127.0.0.1' IDENTIFIED BY ${mysql.escape(adminPassword)}`);
      await first.query("GRANT ALL PRIVILEGES ON *.* TO root@'127.0.0.1' WITH GRANT OPTION");
      await first.end();
      ready = true;
    } catch {
      await wait(100);
    }
  }
  const connect = () => mysql.createConnection({ host: "127.0.0.1", port, user: "root", password: adminPassword });
  const admin = await connect();
  try {
    const teams = Math.round(count / 4);
    const team = (index) => ({ database: `team${index}`, role: `team${index}_reader`, user: `team${index}_app` });
    const resource = (kind, name, spec) => `---\napiVersion: mysql.plumb.dev/v1\nkind: ${kind}\nmetadata: { name: ${name} }\nspec: ${spec}\n`;
    let text = "";
    const statements = [];
    for (let index = 0; index < teams; index += 1) {
      const { database, role, user } = team(index);
      text += resource("Database", database, "{ characterSet: utf8mb4 }");
      text += resource("Role", role, "{}");
      text += resource("User", user, `{ password: { secretRef: { name: app, key: password } }, roles: [${role}], maxUserConnections: 10 }`);
      text += resource("Grant", `${database}-read`, `{ grantee: ${role}, database: ${database}, privileges: [SELECT, EXECUTE] }`);
      statements.push(
        `CREATE DATABASE ${database} CHARACTER SET utf8mb4;`,
        `CREATE ROLE ${role};`,
        `CREATE USER ${user}@'%' IDENTIFIED BY '${appPassword}' WITH MAX_USER_CONNECTIONS 10;`,
        `GRANT ${role} TO ${user}@'%';`,
        `GRANT SELECT, EXECUTE ON ${database}.* TO ${role};`,
      );
    }
    const stackDir = path.join(root, "mariadb-stack");
    writeStack(
      stackDir,
      `{ type: mysql, config: { host: 127.0.0.1, port: ${port}, user: root, password: { secretRef: { name: admin, key: password } } } }`,
      text,
    );
    const client = (input) =>
      execFileSync("mariadb", ["--no-defaults", "-h127.0.0.1", `-P${port}`, "-uroot", `-p${adminPassword}`], { input, stdio: ["pipe", "ignore", "inherit"] });
    const dropAll = () => {
      const drops = [];
      for (let index = 0; index < teams; index += 1) {
        const { database, role, user } = team(index);
        drops.push(`DROP DATABASE IF EXISTS ${database};`, `DROP USER IF EXISTS ${user}@'%';`, `DROP ROLE IF EXISTS ${role};`);
      }
      client(drops.join("\n"));
    };
    const rawCold = await timed(async () => client(statements.join("\n")));
    dropAll();
    const store = await openSqliteStore(path.join(root, "mariadb-data"));
    const registry = defaultRegistry();
    const cold = await timed(() => plumbRun(stackDir, store, registry));
    report("MariaDB", `cold apply, ${teams * 4} objects (${teams} teams)`, cold, rawCold, "the same statements through the mariadb client, one connection");
    const names = (field) => Array.from({ length: teams }, (_, index) => team(index)[field]);
    const reads = async (connection) => {
      await connection.query(
        "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?)",
        [names("database")],
      );
      await connection.query("SELECT * FROM mysql.user u JOIN mysql.global_priv g ON g.User = u.User AND g.Host = u.Host WHERE u.User IN (?)", [
        [...names("user"), ...names("role")],
      ]);
      await connection.query("SELECT * FROM mysql.roles_mapping WHERE User IN (?)", [names("user")]);
      await connection.query("SELECT * FROM mysql.db WHERE User IN (?)", [names("role")]);
    };
    const floorNoop = await medianOf(5, async () => {
      const connection = await connect();
      await reads(connection);
      await connection.end();
    });
    const noop = await medianOf(5, async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update + summary.create !== 0) throw new Error("the no-op check found changes");
    });
    report("MariaDB", "no-op check", noop, floorNoop, "a new connection and one catalog query per kind");
    const byHand = Array.from({ length: repairs }, (_, index) => team(index));
    const changeByHand = async () => {
      for (const { user } of byHand) await admin.query(`ALTER USER ${user}@'%' WITH MAX_USER_CONNECTIONS 99`);
    };
    await changeByHand();
    const repair = await timed(async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update !== repairs) throw new Error(`repair found ${summary.update} changes, not ${repairs}`);
    });
    await changeByHand();
    const floorRepair = await timed(async () => {
      const connection = await connect();
      await reads(connection);
      for (const { user } of byHand) await connection.query(`ALTER USER ${user}@'%' WITH MAX_USER_CONNECTIONS 10`);
      await connection.end();
    });
    report("MariaDB", `repair of ${repairs} users changed by hand`, repair, floorRepair, `the reads and ${repairs} ALTER USER`);
    await store.close();
  } finally {
    await admin.end();
    await stop(child);
  }
}

async function rabbitmqBench() {
  const [amqpPort, managementPort, distributionPort] = [await freePort(), await freePort(), await freePort()];
  const directory = path.join(root, "rabbitmq");
  mkdirSync(directory);
  writeFileSync(path.join(directory, "enabled_plugins"), "[rabbitmq_management].\n");
  writeFileSync(
    path.join(directory, "rabbitmq.conf"),
    `listeners.tcp.default = ${amqpPort}\nmanagement.tcp.port = ${managementPort}\nmanagement.tcp.ip = 127.0.0.1\ndefault_user = admin\ndefault_pass = ${adminPassword}\n`,
  );
  const child = spawn("/usr/lib/rabbitmq/bin/rabbitmq-server", [], {
    detached: true,
    stdio: "ignore",
    env: {
      ...process.env,
      HOME: directory,
      RABBITMQ_NODENAME: `plumbbench${managementPort}@localhost`,
      RABBITMQ_MNESIA_BASE: path.join(directory, "mnesia"),
      RABBITMQ_LOG_BASE: path.join(directory, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(directory, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: path.join(directory, "rabbitmq"),
      RABBITMQ_DIST_PORT: String(distributionPort),
      RABBITMQ_PID_FILE: path.join(directory, "pid"),
    },
  });
  const url = `http://127.0.0.1:${managementPort}`;
  const authorization = `Basic ${Buffer.from(`admin:${adminPassword}`).toString("base64")}`;
  const api = async (method, apiPath, body) => {
    const response = await fetch(`${url}/api${apiPath}`, {
      method,
      headers: { authorization, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${apiPath}: ${response.status} ${await response.text()}`);
    return response.status === 204 ? undefined : response.json().catch(() => undefined);
  };
  let ready = false;
  for (let attempt = 0; attempt < 240 && !ready; attempt += 1) {
    ready = await api("GET", "/overview").then(
      () => true,
      () => false,
    );
    if (!ready) await wait(250);
  }
  try {
    const teams = Math.round(count / 5);
    const team = (index) => ({ vhost: `team${index}`, user: `team${index}-app`, queue: "orders", policy: "limits" });
    const resource = (kind, name, spec) =>
      `---\napiVersion: rabbitmq.plumb.dev/v1\nkind: ${kind}\nmetadata: { name: ${JSON.stringify(name)} }\nspec: ${spec}\n`;
    let text = "";
    for (let index = 0; index < teams; index += 1) {
      const { vhost, user, queue, policy } = team(index);
      text += resource("VHost", vhost, "{ description: bench }");
      text += resource("User", user, "{ password: { secretRef: { name: app, key: password } }, tags: [management] }");
      text += resource("Permission", `${vhost}-perm`, `{ user: ${user}, vhost: ${vhost}, configure: "^$", write: ".*", read: ".*" }`);
      text += resource("Queue", `${vhost}-q`, `{ vhost: ${vhost}, name: ${queue}, arguments: { x-max-length: 1000 } }`);
      text += resource("Policy", `${vhost}-pol`, `{ vhost: ${vhost}, name: ${policy}, pattern: ".*", applyTo: queues, definition: { message-ttl: 60000 } }`);
    }
    const stackDir = path.join(root, "rabbitmq-stack");
    writeStack(stackDir, `{ type: rabbitmq, config: { url: "${url}", user: admin, password: { secretRef: { name: admin, key: password } } } }`, text);
    const raw = async () => {
      for (let index = 0; index < teams; index += 1) {
        const { vhost, user, queue, policy } = team(index);
        await api("PUT", `/vhosts/${vhost}`, { description: "bench", tags: "" });
        await api("PUT", `/users/${user}`, { password: appPassword, tags: "management" });
        await api("PUT", `/permissions/${vhost}/${user}`, { configure: "^$", write: ".*", read: ".*" });
        await api("PUT", `/queues/${vhost}/${queue}`, { durable: true, auto_delete: false, arguments: { "x-max-length": 1000, "x-queue-type": "classic" } });
        await api("PUT", `/policies/${vhost}/${policy}`, { pattern: ".*", "apply-to": "queues", priority: 0, definition: { "message-ttl": 60000 } });
      }
    };
    const rawCold = await timed(raw);
    for (let index = 0; index < teams; index += 1) {
      await api("DELETE", `/vhosts/${team(index).vhost}`);
      await api("DELETE", `/users/${team(index).user}`);
    }
    const store = await openSqliteStore(path.join(root, "rabbitmq-data"));
    const registry = defaultRegistry();
    const cold = await timed(() => plumbRun(stackDir, store, registry));
    report("RabbitMQ", `cold apply, ${teams * 5} objects (${teams} vhosts)`, cold, rawCold, "the same PUTs to the management API, one after another");
    const reads = async () => {
      for (const apiPath of [
        "/vhosts?columns=name,description,tags,default_queue_type",
        "/users",
        "/permissions",
        "/queues?columns=name,vhost,type,durable,auto_delete,arguments&disable_stats=true&enable_queue_totals=true",
        "/policies",
      ])
        await api("GET", apiPath);
    };
    const floorNoop = await medianOf(5, reads);
    const noop = await medianOf(5, async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update + summary.create !== 0) throw new Error("the no-op check found changes");
    });
    report("RabbitMQ", "no-op check", noop, floorNoop, "one GET per kind");
    const byHand = Array.from({ length: repairs }, (_, index) => team(index));
    const changeByHand = async () => {
      for (const { vhost, user } of byHand) await api("PUT", `/permissions/${vhost}/${user}`, { configure: ".*", write: ".*", read: ".*" });
    };
    await changeByHand();
    const repair = await timed(async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update !== repairs) throw new Error(`repair found ${summary.update} changes, not ${repairs}`);
    });
    await changeByHand();
    const floorRepair = await timed(async () => {
      await reads();
      for (const { vhost, user } of byHand) await api("PUT", `/permissions/${vhost}/${user}`, { configure: "^$", write: ".*", read: ".*" });
    });
    report("RabbitMQ", `repair of ${repairs} permissions changed by hand`, repair, floorRepair, `the reads and ${repairs} PUTs`);
    await store.close();
  } finally {
    const exited = new Promise((resolve) => (child.exitCode === null ? child.once("exit", resolve) : resolve(undefined)));
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
    await exited;
  }
}

async function s3Bench() {
  const endpoint = await startS3Endpoint();
  process.env.PLUMB_SECRET_S3_ID = endpoint.accessKeyId;
  process.env.PLUMB_SECRET_S3_KEY = endpoint.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const client = new S3Client({
    endpoint: endpoint.url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
  try {
    const buckets = Array.from({ length: count }, (_, index) => `team${index}-data`);
    const origin = (index) => `https://team${index}.example.org`;
    const stackDir = path.join(root, "s3-stack");
    writeStack(
      stackDir,
      `{ type: s3, config: { endpoint: "${endpoint.url}", accessKeyId: { secretRef: { name: s3, key: id } }, secretAccessKey: { secretRef: { name: s3, key: key } }, maxConcurrency: 8 } }`,
      buckets
        .map(
          (bucket, index) =>
            `---\napiVersion: s3.plumb.dev/v1\nkind: Bucket\nmetadata: { name: ${bucket} }\nspec: { tags: { team: team${index} }, cors: [{ allowedOrigins: ["${origin(index)}"], allowedMethods: [GET] }] }\n`,
        )
        .join(""),
    );
    const rawCold = await timed(async () => {
      for (const [index, Bucket] of buckets.entries()) {
        await client.send(new CreateBucketCommand({ Bucket }));
        await client.send(new PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: [{ Key: "team", Value: `team${index}` }] } }));
        await client.send(
          new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin(index)], AllowedMethods: ["GET"] }] } }),
        );
      }
    });
    for (const Bucket of buckets) await client.send(new DeleteBucketCommand({ Bucket }));
    const store = await openSqliteStore(path.join(root, "s3-data"));
    const registry = defaultRegistry();
    const cold = await timed(() => plumbRun(stackDir, store, registry));
    report(
      "S3 (s3rver)",
      `cold apply, ${count} buckets with tags and CORS`,
      cold,
      rawCold,
      "the same three calls per bucket through the SDK, one after another",
    );
    // S3 has no bulk read of bucket settings: the floor is what any checker must do, the listing and two GETs per bucket at Plumb's concurrency.
    const sweep = async () => {
      await client.send(new ListBucketsCommand({}));
      const queue = [...buckets];
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let Bucket = queue.shift(); Bucket !== undefined; Bucket = queue.shift()) {
            await client.send(new GetBucketTaggingCommand({ Bucket }));
            await client.send(new GetBucketCorsCommand({ Bucket }));
          }
        }),
      );
    };
    const floorNoop = await medianOf(3, sweep);
    const noop = await medianOf(3, async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update + summary.create !== 0) throw new Error("the no-op check found changes");
    });
    report("S3 (s3rver)", "no-op check", noop, floorNoop, "ListBuckets, then GetBucketTagging and GetBucketCors per bucket, 8 at a time");
    const byHand = buckets.slice(0, repairs);
    const changeByHand = async () => {
      for (const Bucket of byHand)
        await client.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: ["*"], AllowedMethods: ["GET", "PUT"] }] } }));
    };
    await changeByHand();
    const repair = await timed(async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update !== repairs) throw new Error(`repair found ${summary.update} changes, not ${repairs}`);
    });
    await changeByHand();
    const floorRepair = await timed(async () => {
      await sweep();
      for (const [index, Bucket] of byHand.entries())
        await client.send(
          new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [origin(index)], AllowedMethods: ["GET"] }] } }),
        );
    });
    report("S3 (s3rver)", `repair of ${repairs} buckets' CORS changed by hand`, repair, floorRepair, `the sweep and ${repairs} PutBucketCors`);
    await store.close();
  } finally {
    client.destroy();
    await endpoint.stop();
  }
}

async function azureBench() {
  const port = await freePort();
  const account = "devstoreaccount1";
  const accountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
  process.env.PLUMB_SECRET_AZURE_KEY = accountKey;
  const main = path.join(path.dirname(createRequire(import.meta.url).resolve("azurite/package.json")), "dist/src/blob/main.js");
  const child = spawn(
    process.execPath,
    [main, "--blobHost", "127.0.0.1", "--blobPort", String(port), "--location", path.join(root, "azurite"), "--silent", "--skipApiVersionCheck"],
    {
      stdio: "ignore",
    },
  );
  const endpoint = `http://127.0.0.1:${port}/${account}`;
  const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, accountKey), {
    retryOptions: { maxTries: 1 },
    keepAliveOptions: { enable: false },
  });
  let ready = false;
  for (let attempt = 0; attempt < 100 && !ready; attempt += 1) {
    ready = await service.getProperties().then(
      () => true,
      () => false,
    );
    if (!ready) await wait(100);
  }
  try {
    const containers = Array.from({ length: count }, (_, index) => `team${index}-box`);
    const stackDir = path.join(root, "azure-stack");
    writeStack(
      stackDir,
      `{ type: azure-blob, config: { account: ${account}, accountKey: { secretRef: { name: azure, key: key } }, endpoint: "${endpoint}" } }`,
      containers
        .map(
          (name, index) =>
            `---\napiVersion: azure-blob.plumb.dev/v1\nkind: Container\nmetadata: { name: ${name} }\nspec: { metadata: { team: team${index} } }\n`,
        )
        .join(""),
    );
    const rawCold = await timed(async () => {
      for (const [index, name] of containers.entries()) await service.getContainerClient(name).create({ metadata: { team: `team${index}` } });
    });
    for (const name of containers) await service.getContainerClient(name).delete();
    const store = await openSqliteStore(path.join(root, "azure-data"));
    const registry = defaultRegistry();
    const cold = await timed(() => plumbRun(stackDir, store, registry));
    report(
      "Azure Blob (Azurite)",
      `cold apply, ${count} containers with metadata`,
      cold,
      rawCold,
      "the same createContainer calls through the SDK, one after another",
    );
    const list = async () => {
      for await (const item of service.listContainers({ includeMetadata: true })) void item;
    };
    const floorNoop = await medianOf(5, list);
    const noop = await medianOf(5, async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update + summary.create !== 0) throw new Error("the no-op check found changes");
    });
    report("Azure Blob (Azurite)", "no-op check", noop, floorNoop, "one paged container listing with metadata");
    const byHand = containers.slice(0, repairs);
    const changeByHand = async () => {
      for (const name of byHand) await service.getContainerClient(name).setMetadata({ team: "someone-else" });
    };
    await changeByHand();
    const repair = await timed(async () => {
      const summary = await plumbRun(stackDir, store, registry);
      if (summary.update !== repairs) throw new Error(`repair found ${summary.update} changes, not ${repairs}`);
    });
    await changeByHand();
    const floorRepair = await timed(async () => {
      await list();
      for (const [index, name] of byHand.entries()) await service.getContainerClient(name).setMetadata({ team: `team${index}` });
    });
    report("Azure Blob (Azurite)", `repair of ${repairs} containers' metadata changed by hand`, repair, floorRepair, `the listing and ${repairs} setMetadata`);
    await store.close();
  } finally {
    await stop(child);
  }
}

const missing = ["redis-server", "redis-cli", "mariadbd", "mariadb", "/usr/lib/rabbitmq/bin/rabbitmq-server"].filter(
  (command) => spawnSync("sh", ["-c", `command -v ${command}`]).status !== 0,
);
if (missing.length > 0) {
  console.error(`missing: ${missing.join(", ")} (apt-get install redis-server mariadb-server rabbitmq-server)`);
  process.exit(1);
}
const loadBefore = loadavg()[0];
try {
  const benches = { redis: redisBench, mariadb: mariadbBench, rabbitmq: rabbitmqBench, s3: s3Bench, azure: azureBench };
  // PLUMB_BENCH_PROVIDERS=s3,azure runs some of them.
  const chosen = (process.env.PLUMB_BENCH_PROVIDERS ?? Object.keys(benches).join(",")).split(",");
  for (const [name, bench] of Object.entries(benches)) if (chosen.includes(name)) await bench();
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(`\nProviders at ~${count} objects (load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after)\n`);
console.log("| system | measure | Plumb | floor | ratio | floor is |");
console.log("| --- | --- | ---: | ---: | ---: | --- |");
for (const row of rows) console.log(`| ${row.system} | ${row.measure} | ${row.plumb} | ${row.floor} | ${row.ratio} | ${row.floorText} |`);
