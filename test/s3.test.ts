// The S3 provider against s3rver, a real S3-protocol server (buckets, CORS,
// signatures), with the bucket settings s3rver lacks (tags, versioning,
// lifecycle, encryption, public-access block, policy) answered by the
// stand-in in scripts/s3-endpoint.mjs, written from the S3 API reference: create,
// drift by hand, in-place update, replacement and prune under the deletion
// policy, names S3 refuses, bad credentials and an unreachable endpoint.

import { GetBucketCorsCommand, ListBucketsCommand, PutBucketCorsCommand, PutBucketTaggingCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { providerWorkspace, resourceWriter, runCliAsync, type CliResult, type Workspace } from "./helpers.js";
import { freePort } from "./postgres-server.js";
import { useS3 } from "./s3-server.js";

const endpoint = useS3();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const credentials = () => ({ PLUMB_SECRET_S3_KEYS_ID: endpoint.accessKeyId, PLUMB_SECRET_S3_KEYS_SECRET: endpoint.secretAccessKey });

function stack(name: string, resources: string, options: { url?: string } = {}): void {
  workspace = providerWorkspace(
    name,
    `store: { type: s3, config: { endpoint: "${options.url ?? endpoint.url}", accessKeyId: { secretRef: { name: s3-keys, key: id } }, secretAccessKey: { secretRef: { name: s3-keys, key: secret } } } }`,
    "buckets.yaml",
    resources,
  );
}

function plumb(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCliAsync([...args, "--data-dir", workspace.dataDir], { env: { ...credentials(), ...env } });
}

const resource = resourceWriter("s3.plumb.dev/v1", "store");
const bucket = resource("Bucket");
const bucketPolicy = resource("BucketPolicy");

const client = () =>
  new S3Client({
    endpoint: endpoint.url,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: endpoint.accessKeyId, secretAccessKey: endpoint.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
const bucketNames = async () => ((await client().send(new ListBucketsCommand({}))).Buckets ?? []).map((item) => item.Name);
const cors = async (name: string) => (await client().send(new GetBucketCorsCommand({ Bucket: name }))).CORSRules;

const fullBucket = (name: string, origin = "https://app.example.org") =>
  bucket(
    name,
    `{ versioning: Enabled, tags: { team: data }, cors: [{ allowedOrigins: ["${origin}"], allowedMethods: [GET, PUT], maxAgeSeconds: 300 }], lifecycle: [{ id: expire-tmp, prefix: tmp/, expirationDays: 7 }], encryption: { algorithm: AES256 }, publicAccessBlock: { blockPublicAcls: true, ignorePublicAcls: true, blockPublicPolicy: true, restrictPublicBuckets: true } }`,
  );

describe("s3 provider", () => {
  it("creates a bucket with its settings and a policy, then has nothing to do", async () => {
    const policy = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Deny", Principal: "*", Action: "s3:*", Resource: "arn:aws:s3:::create-bucket/*", Condition: { Bool: { "aws:SecureTransport": "false" } } },
      ],
    };
    stack("s3-create", fullBucket("create-bucket") + bucketPolicy("create-policy", `{ bucket: create-bucket, policy: ${JSON.stringify(policy)} }`));
    const applied = await plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("2 created");
    // Real s3rver: the bucket and its CORS rules.
    expect(await bucketNames()).toContain("create-bucket");
    expect(await cors("create-bucket")).toEqual([
      expect.objectContaining({ AllowedOrigins: ["https://app.example.org"], AllowedMethods: ["GET", "PUT"], MaxAgeSeconds: 300 }),
    ]);
    // The stand-in: what the provider put, in S3's XML.
    const standIn = endpoint.standIn("create-bucket");
    expect(standIn.get("tagging")).toContain("<Key>team</Key><Value>data</Value>");
    expect(standIn.get("versioning")).toContain("<Status>Enabled</Status>");
    expect(standIn.get("lifecycle")).toContain("<ID>expire-tmp</ID>");
    expect(standIn.get("encryption")).toContain("<SSEAlgorithm>AES256</SSEAlgorithm>");
    expect(standIn.get("publicAccessBlock")).toContain("<RestrictPublicBuckets>true</RestrictPublicBuckets>");
    expect(JSON.parse(standIn.get("policy") ?? "{}")).toEqual(policy);
    const again = await plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(again.stdout).toContain("Plan: no changes; 2 unchanged.");
    expect(again.status).toBe(0);
  });

  it("finds CORS rules (on s3rver) and tags (on the stand-in) changed by hand, and puts them back", async () => {
    stack("s3-drift", fullBucket("drift-bucket"));
    expect((await plumb(["apply", workspace.stackDir, "--yes"])).status).toBe(0);
    await client().send(
      new PutBucketCorsCommand({
        Bucket: "drift-bucket",
        CORSConfiguration: { CORSRules: [{ AllowedOrigins: ["*"], AllowedMethods: ["GET", "PUT", "DELETE"] }] },
      }),
    );
    await client().send(new PutBucketTaggingCommand({ Bucket: "drift-bucket", Tagging: { TagSet: [{ Key: "team", Value: "someone-else" }] } }));
    const planned = await plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(planned.status).toBe(2);
    expect(planned.stdout).toMatch(/Bucket\/drift-bucket {2}update: drift: .*changed outside Plumb/);
    expect(planned.stdout).toContain('tags.team: "someone-else" → "data"  # drift');
    expect(planned.stdout).toContain('cors: [{"allowedOrigins":["*"]');
    expect((await plumb(["apply", workspace.stackDir, "--yes"])).status).toBe(0);
    expect(await cors("drift-bucket")).toEqual([expect.objectContaining({ AllowedOrigins: ["https://app.example.org"] })]);
    expect(endpoint.standIn("drift-bucket").get("tagging")).toContain("<Value>data</Value>");
    expect((await plumb(["plan", workspace.stackDir, "--detailed-exitcode"])).status).toBe(0);
  });

  it("updates settings in place, and replaces a bucket only with deletion-policy Delete", async () => {
    stack("s3-update", fullBucket("update-bucket"));
    expect((await plumb(["apply", workspace.stackDir, "--yes"])).status).toBe(0);
    workspace.write("buckets.yaml", fullBucket("update-bucket", "https://other.example.org"));
    const updated = await plumb(["apply", workspace.stackDir, "--yes"]);
    expect(updated.stdout).toContain("1 updated");
    expect(await cors("update-bucket")).toEqual([expect.objectContaining({ AllowedOrigins: ["https://other.example.org"] })]);
    workspace.write("buckets.yaml", bucket("update-bucket", "{ name: renamed-bucket }"));
    const refused = await plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("would replace s3.plumb.dev/v1/Bucket/update-bucket, destroying the data it holds");
    workspace.write("buckets.yaml", bucket("update-bucket", "{ name: renamed-bucket }", ", plumb.dev/deletion-policy: Delete"));
    expect((await plumb(["apply", workspace.stackDir, "--yes"])).status).toBe(0);
    const names = await bucketNames();
    expect(names).toContain("renamed-bucket");
    expect(names).not.toContain("update-bucket");
  });

  it("keeps a bucket that left the stack, deletes one with deletion-policy Delete, and removes a policy that left", async () => {
    stack(
      "s3-prune",
      bucket("kept-bucket", "{}") +
        bucket("dropped-bucket", "{}", ", plumb.dev/deletion-policy: Delete") +
        bucketPolicy("kept-policy", '{ bucket: kept-bucket, policy: { Version: "2012-10-17", Statement: [] } }'),
    );
    expect((await plumb(["apply", workspace.stackDir, "--yes"])).status).toBe(0);
    workspace.write("buckets.yaml", bucket("other-bucket", "{}"));
    const applied = await plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("1 no longer managed");
    const names = await bucketNames();
    expect(names).toContain("kept-bucket");
    expect(names).not.toContain("dropped-bucket");
    expect(endpoint.standIn("kept-bucket").has("policy")).toBe(false);
  });

  it("refuses bucket names S3 refuses, at render time, with the rule each breaks", async () => {
    stack("s3-names", bucket("Upper_Case", "{}") + bucket("a..b", "{}") + bucket("10.0.0.1", "{}") + bucket("ok", "{}"));
    const planned = await plumb(["plan", workspace.stackDir]);
    expect(planned.status).toBe(1);
    expect(planned.stderr).toContain('bucket name "Upper_Case" must hold only lower-case letters, digits, dots and hyphens');
    expect(planned.stderr).toContain('bucket name "a..b" must not hold two dots in a row');
    expect(planned.stderr).toContain('bucket name "10.0.0.1" must not look like an IP address');
    expect(planned.stderr).toContain('bucket name "ok" must be 3 to 63 characters');
    workspace.write("buckets.yaml", bucketPolicy("escaping-policy", '{ bucket: "../other", policy: {} }'));
    expect((await plumb(["plan", workspace.stackDir])).stderr).toContain(
      'spec.bucket: bucket name "../other" must hold only lower-case letters, digits, dots and hyphens',
    );
  });

  // s3rver checks the access key id but not a V4 signature, so the refusal comes from an unknown key id; the secret key rides along as a canary.
  it("reports refused credentials without showing the secret key, an unreachable endpoint by address, and another stack still applies", async () => {
    stack("s3-badkey", bucket("badkey-bucket", "{}"));
    const wrongKey = "not-the-secret-key-canary-77";
    const wrong = await plumb(["plan", workspace.stackDir], { PLUMB_SECRET_S3_KEYS_ID: "UNKNOWNKEYID", PLUMB_SECRET_S3_KEYS_SECRET: wrongKey });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`S3 at ${new URL(endpoint.url).host} refused Plumb's credentials`);
    expect(wrong.stderr + wrong.stdout).not.toContain(wrongKey);
    const closedPort = await freePort();
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("s3-unreachable", bucket("unreachable-bucket", "{}"), { url: `http://127.0.0.1:${closedPort}` });
    const unreachable = await runCliAsync(["plan", workspace.stackDir, "--data-dir", sharedData], { env: credentials() });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach S3 at 127.0.0.1:${closedPort}`);
    workspace.cleanup();
    stack("s3-healthy", bucket("healthy-bucket", "{}"));
    expect((await runCliAsync(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: credentials() })).status).toBe(0);
    expect(await bucketNames()).toContain("healthy-bucket");
  });
});
