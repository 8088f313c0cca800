// Kind `BucketPolicy`: the policy document of one bucket, compared as JSON
// (key order and spacing aside).

import { Type, type Static } from "@sinclair/typebox";
import { sameJson } from "../../sdk/bulk-read.js";
import { mapWithConcurrency } from "../../sdk/concurrency.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";
import { checkBucketName } from "./bucket.js";
import { notConfigured, type S3Connection } from "./connection.js";

export const bucketPolicySpec = Type.Object(
  {
    bucket: Type.String({ minLength: 3, maxLength: 63 }),
    policy: Type.Record(Type.String(), Type.Unknown(), { description: "The policy document: { Version: 2012-10-17, Statement: [...] }." }),
  },
  { additionalProperties: false },
);
export type BucketPolicySpec = Static<typeof bucketPolicySpec>;

async function readPolicies(connection: S3Connection, targets: readonly Target<BucketPolicySpec>[]): Promise<Map<string, LiveObject>> {
  const live = new Map<string, LiveObject>();
  await mapWithConcurrency(targets, connection.settings.maxConcurrency, async (target) => {
    const bucket = target.spec.bucket;
    const answer = await connection.send(
      `GetBucketPolicy ${bucket}`,
      () => connection.client.send(new connection.sdk.GetBucketPolicyCommand({ Bucket: bucket })),
      new Set([...notConfigured, "NoSuchBucket"]),
    );
    if (answer?.Policy === undefined) return;
    let policy: JsonObject;
    try {
      policy = JSON.parse(answer.Policy) as JsonObject;
    } catch {
      policy = { unreadable: answer.Policy };
    }
    const desired = (target.desired ?? target.spec).policy as JsonObject;
    live.set(target.address, { spec: { bucket, policy: sameJson(desired, policy) ? desired : policy } });
  });
  return live;
}

async function putPolicy(connection: S3Connection, target: Target<BucketPolicySpec>): Promise<LiveObject> {
  const bucket = target.spec.bucket;
  await connection.send(`PutBucketPolicy ${bucket}`, () =>
    connection.client.send(new connection.sdk.PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(target.spec.policy) })),
  );
  const live = (await readPolicies(connection, [target])).get(target.address);
  if (live === undefined) throw new Error(`the policy of bucket "${bucket}" is missing right after it was written`);
  return live;
}

export const bucketPolicyKind = defineKind<BucketPolicySpec, S3Connection>({
  kind: "BucketPolicy",
  schema: bucketPolicySpec,
  ownsObjects: false,
  replaceOn: ["bucket"],
  validate: (spec) => checkBucketName(spec.bucket).map((problem) => ({ ...problem, path: "/bucket" })),
  places: (spec) => ({ bucket: [spec.bucket] }),
  requires: (spec) => [`bucket:${spec.bucket}`],
  list: readPolicies,
  async read(connection, target) {
    return (await readPolicies(connection, [target])).get(target.address) ?? null;
  },
  create: putPolicy,
  update: (connection, target) => putPolicy(connection, target),
  async delete(connection, target) {
    const bucket = target.spec.bucket;
    await connection.send(
      `DeleteBucketPolicy ${bucket}`,
      () => connection.client.send(new connection.sdk.DeleteBucketPolicyCommand({ Bucket: bucket })),
      new Set([...notConfigured, "NoSuchBucket"]),
    );
  },
});
