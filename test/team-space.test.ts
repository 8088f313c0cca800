// One composite over three new providers: a TeamSpace claim (the example
// platform's composite) expands into a bucket, a MariaDB database, login and
// grant, and a RabbitMQ vhost, user and permission, applied against s3rver (with
// its stand-in), mariadbd and rabbitmq-server, with the compliance policy's
// metadata on every object that can carry it.

import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, repositoryRoot, runCliAsync, type Workspace } from "./helpers.js";
import { useMariadb } from "./mariadb-server.js";
import { useRabbitmq } from "./rabbitmq-server.js";
import { useS3 } from "./s3-server.js";

const s3 = useS3();
const mariadb = useMariadb();
const rabbitmq = useRabbitmq();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const platform = path.join(repositoryRoot, "examples", "platform");
const secrets = () => ({
  PLUMB_SECRET_S3_ID: s3.accessKeyId,
  PLUMB_SECRET_S3_KEY: s3.secretAccessKey,
  PLUMB_SECRET_MARIADB_ADMIN: mariadb.password,
  PLUMB_SECRET_RABBIT_ADMIN: rabbitmq.password,
  PLUMB_SECRET_GENOMICS_DB_PASSWORD: "genomics-db-canary-1a",
  PLUMB_SECRET_GENOMICS_MQ_PASSWORD: "genomics-mq-canary-2b",
});

describe("a TeamSpace claim", () => {
  it("expands into a bucket, a database with its login and a vhost with its user, all carrying the compliance metadata", async () => {
    workspace = createWorkspace({ name: "genomics" });
    workspace.write(
      "stack.yaml",
      `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: genomics }
spec:
  providers:
    objects: { type: s3, config: { endpoint: "${s3.url}", accessKeyId: { secretRef: { name: s3, key: id } }, secretAccessKey: { secretRef: { name: s3, key: key } } } }
    sql: { type: mysql, config: { host: 127.0.0.1, port: ${mariadb.port}, user: root, password: { secretRef: { name: mariadb, key: admin } } } }
    broker: { type: rabbitmq, config: { url: "${rabbitmq.url}", user: admin, password: { secretRef: { name: rabbit, key: admin } } } }
  metadata: { owner: genomics@example.org, atoDate: 2030-01-01, complianceLevel: high }
`,
    );
    workspace.write(
      "space.yaml",
      `apiVersion: platform.example.org/v1
kind: TeamSpace
metadata: { name: genomics }
spec:
  team: genomics
  databasePassword: { secretRef: { name: genomics-db, key: password } }
  brokerPassword: { secretRef: { name: genomics-mq, key: password } }
`,
    );
    const options = ["--platform", platform, "--policy", path.join(platform, "compliance.yaml"), "--data-dir", workspace.dataDir];
    const applied = await runCliAsync(["apply", workspace.stackDir, "--yes", ...options], { env: secrets() });
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("7 created");

    expect(s3.standIn("genomics-data").get("tagging")).toContain("<Key>owner</Key><Value>genomics@example.org</Value>");
    expect(s3.standIn("genomics-data").get("lifecycle")).toContain("<Prefix>scratch/</Prefix>");
    const [schema] = await mariadb.query<{ comment: string }>(
      "SELECT SCHEMA_COMMENT AS comment FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'genomics'",
    );
    expect(JSON.parse((schema?.comment ?? "").replace(/^plumb: /, ""))).toMatchObject({
      owner: "genomics@example.org",
      complianceLevel: "high",
      "managed-by": "plumb",
      stack: "genomics",
    });
    expect(await mariadb.canLogin("genomics_app", "genomics-db-canary-1a")).toBe(true);
    expect(await mariadb.query("SELECT Select_priv, Delete_priv FROM mysql.db WHERE User = 'genomics_app' AND Db = 'genomics'")).toEqual([
      { Select_priv: "Y", Delete_priv: "Y" },
    ]);
    const vhost = (await rabbitmq.api("GET", "/vhosts/genomics")) as { tags: string[] };
    expect(vhost.tags).toEqual(expect.arrayContaining(["owner=genomics@example.org", "complianceLevel=high", "managed-by=plumb"]));
    expect(await rabbitmq.api("GET", "/permissions/genomics/genomics-app")).toMatchObject({ configure: ".*" });

    const again = await runCliAsync(["plan", workspace.stackDir, "--detailed-exitcode", ...options], { env: secrets() });
    expect(again.stdout).toContain("Plan: no changes; 7 unchanged.");
    expect(again.status).toBe(0);
  });
});
