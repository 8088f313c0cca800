// Kind `Bucket`: an S3 bucket with versioning, lifecycle rules, CORS, default
// encryption, its public-access block and tags (Plumb's compliance metadata).
// One ListBuckets finds every bucket of a stack; S3 has no bulk read of the
// settings, so only the settings a spec declares are read, a bucket at a time
// with bounded concurrency. A bucket holds data: retained by default.

import type { BucketLocationConstraint, LifecycleRule } from "@aws-sdk/client-s3";
import { Type, type Static } from "@sinclair/typebox";
import { sameJson } from "../../sdk/bulk-read.js";
import { mapWithConcurrency } from "../../sdk/concurrency.js";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { notConfigured, type S3Connection } from "./connection.js";

const strings = (description: string) => Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description });

export const corsRuleSchema = Type.Object(
  {
    allowedOrigins: strings("e.g. https://app.example.org"),
    allowedMethods: Type.Array(Type.Union(["GET", "PUT", "POST", "DELETE", "HEAD"].map((method) => Type.Literal(method))), { minItems: 1 }),
    allowedHeaders: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    exposeHeaders: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    maxAgeSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const lifecycleRuleSchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 255 }),
    prefix: Type.Optional(Type.String({ description: "Objects whose key starts with this; default all." })),
    enabled: Type.Optional(Type.Boolean({ description: "Default true." })),
    expirationDays: Type.Optional(Type.Integer({ minimum: 1 })),
    noncurrentVersionExpirationDays: Type.Optional(Type.Integer({ minimum: 1 })),
    abortIncompleteMultipartUploadDays: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

export const bucketSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 3, maxLength: 63, description: "Default metadata.name." })),
    region: Type.Optional(Type.String({ pattern: "^[a-z0-9-]{1,32}$", description: "Where to create it; default the provider's region." })),
    versioning: Type.Optional(
      Type.Union([Type.Literal("Enabled"), Type.Literal("Suspended")], { description: "Once enabled, versioning can only be suspended." }),
    ),
    cors: Type.Optional(Type.Array(corsRuleSchema, { maxItems: 100 })),
    lifecycle: Type.Optional(Type.Array(lifecycleRuleSchema, { maxItems: 1000 })),
    encryption: Type.Optional(
      Type.Object(
        { algorithm: Type.Union([Type.Literal("AES256"), Type.Literal("aws:kms")]), kmsKeyId: Type.Optional(Type.String({ minLength: 1 })) },
        { additionalProperties: false },
      ),
    ),
    publicAccessBlock: Type.Optional(
      Type.Object(
        { blockPublicAcls: Type.Boolean(), ignorePublicAcls: Type.Boolean(), blockPublicPolicy: Type.Boolean(), restrictPublicBuckets: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }), { description: "At most 50, compliance tags included." }),
    ),
  },
  { additionalProperties: false },
);
export type BucketSpec = Static<typeof bucketSpec>;
type CorsRule = Static<typeof corsRuleSchema>;
type LifecycleRuleSpec = Static<typeof lifecycleRuleSchema>;

export const bucketName = (target: Target<BucketSpec>): string => target.spec.name ?? target.name;

function compact<Value extends Record<string, unknown>>(value: Value): JsonObject {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined && !(Array.isArray(item) && item.length === 0))) as JsonObject;
}

/** Reads the settings of one bucket that `spec` declares (tags always: compliance metadata lives there). */
async function readSettings(connection: S3Connection, bucket: string, spec: BucketSpec): Promise<JsonObject> {
  const client = connection.client;
  const live: Record<string, JsonValue | undefined> = {};
  const tagging = await connection.send(
    `GetBucketTagging ${bucket}`,
    () => client.send(new connection.sdk.GetBucketTaggingCommand({ Bucket: bucket })),
    notConfigured,
  );
  live.tags = Object.fromEntries((tagging?.TagSet ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
  if (spec.versioning !== undefined) {
    const versioning = await connection.send(`GetBucketVersioning ${bucket}`, () =>
      client.send(new connection.sdk.GetBucketVersioningCommand({ Bucket: bucket })),
    );
    live.versioning = versioning?.Status ?? "Off";
  }
  if (spec.cors !== undefined) {
    const cors = await connection.send(
      `GetBucketCors ${bucket}`,
      () => client.send(new connection.sdk.GetBucketCorsCommand({ Bucket: bucket })),
      notConfigured,
    );
    live.cors = (cors?.CORSRules ?? []).map((rule) =>
      compact({
        allowedOrigins: rule.AllowedOrigins ?? [],
        allowedMethods: rule.AllowedMethods ?? [],
        allowedHeaders: rule.AllowedHeaders,
        exposeHeaders: rule.ExposeHeaders,
        maxAgeSeconds: rule.MaxAgeSeconds,
      }),
    );
  }
  if (spec.lifecycle !== undefined) {
    const lifecycle = await connection.send(
      `GetBucketLifecycleConfiguration ${bucket}`,
      () => client.send(new connection.sdk.GetBucketLifecycleConfigurationCommand({ Bucket: bucket })),
      notConfigured,
    );
    live.lifecycle = (lifecycle?.Rules ?? []).map((rule) =>
      compact({
        id: rule.ID ?? "",
        prefix: rule.Filter?.Prefix ?? rule.Prefix ?? undefined,
        enabled: rule.Status === "Enabled",
        expirationDays: rule.Expiration?.Days,
        noncurrentVersionExpirationDays: rule.NoncurrentVersionExpiration?.NoncurrentDays,
        abortIncompleteMultipartUploadDays: rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
      }),
    );
  }
  if (spec.encryption !== undefined) {
    const encryption = await connection.send(
      `GetBucketEncryption ${bucket}`,
      () => client.send(new connection.sdk.GetBucketEncryptionCommand({ Bucket: bucket })),
      notConfigured,
    );
    const rule = encryption?.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
    live.encryption = rule === undefined ? undefined : compact({ algorithm: rule.SSEAlgorithm, kmsKeyId: rule.KMSMasterKeyID });
  }
  if (spec.publicAccessBlock !== undefined) {
    const block = await connection.send(
      `GetPublicAccessBlock ${bucket}`,
      () => client.send(new connection.sdk.GetPublicAccessBlockCommand({ Bucket: bucket })),
      notConfigured,
    );
    const settings = block?.PublicAccessBlockConfiguration;
    live.publicAccessBlock = {
      blockPublicAcls: settings?.BlockPublicAcls === true,
      ignorePublicAcls: settings?.IgnorePublicAcls === true,
      blockPublicPolicy: settings?.BlockPublicPolicy === true,
      restrictPublicBuckets: settings?.RestrictPublicBuckets === true,
    };
  }
  return compact(live);
}

/** A live value in the spec's spelling when both say the same (defaults filled in, key order). */
function asDesired(desired: JsonObject, live: JsonObject): JsonObject {
  const result: JsonObject = { ...live };
  for (const field of ["cors", "lifecycle", "encryption", "publicAccessBlock"] as const) {
    const wanted = desired[field];
    if (wanted === undefined) continue;
    const normalised = field === "lifecycle" ? (wanted as LifecycleRuleSpec[]).map((rule) => ({ enabled: true, ...rule })) : wanted;
    if (sameJson(normalised, live[field] ?? (field === "cors" || field === "lifecycle" ? [] : undefined))) result[field] = wanted;
  }
  return result;
}

async function readBuckets(connection: S3Connection, targets: readonly Target<BucketSpec>[]): Promise<Map<string, LiveObject>> {
  const listed = await connection.send("ListBuckets", () => connection.client.send(new connection.sdk.ListBucketsCommand({})));
  const existing = new Set((listed?.Buckets ?? []).map((bucket) => bucket.Name));
  const live = new Map<string, LiveObject>();
  await mapWithConcurrency(
    targets.filter((target) => existing.has(bucketName(target))),
    connection.settings.maxConcurrency,
    async (target) => {
      const desired = target.desired ?? target.spec;
      const settings = await readSettings(connection, bucketName(target), desired);
      live.set(target.address, {
        spec: {
          ...(target.spec.name === undefined ? {} : { name: bucketName(target) }),
          ...(target.spec.region === undefined ? {} : { region: target.spec.region }),
          ...asDesired(desired as JsonObject, settings),
        },
        outputs: { name: bucketName(target) },
      });
    },
  );
  return live;
}

function lifecycleRules(rules: readonly LifecycleRuleSpec[]): LifecycleRule[] {
  return rules.map((rule) => ({
    ID: rule.id,
    Status: rule.enabled === false ? "Disabled" : "Enabled",
    Filter: { Prefix: rule.prefix ?? "" },
    ...(rule.expirationDays === undefined ? {} : { Expiration: { Days: rule.expirationDays } }),
    ...(rule.noncurrentVersionExpirationDays === undefined ? {} : { NoncurrentVersionExpiration: { NoncurrentDays: rule.noncurrentVersionExpirationDays } }),
    ...(rule.abortIncompleteMultipartUploadDays === undefined
      ? {}
      : { AbortIncompleteMultipartUpload: { DaysAfterInitiation: rule.abortIncompleteMultipartUploadDays } }),
  }));
}

/** Writes the settings named in `fields`: a declared value is put, an empty one removed. */
async function writeSettings(connection: S3Connection, bucket: string, spec: BucketSpec, fields: ReadonlySet<string>): Promise<void> {
  const client = connection.client;
  const Bucket = bucket;
  if (fields.has("tags")) {
    const tags = Object.entries(spec.tags ?? {});
    if (tags.length === 0) await connection.send(`DeleteBucketTagging ${bucket}`, () => client.send(new connection.sdk.DeleteBucketTaggingCommand({ Bucket })));
    else
      await connection.send(`PutBucketTagging ${bucket}`, () =>
        client.send(new connection.sdk.PutBucketTaggingCommand({ Bucket, Tagging: { TagSet: tags.map(([Key, Value]) => ({ Key, Value })) } })),
      );
  }
  if (fields.has("versioning") && spec.versioning !== undefined)
    await connection.send(`PutBucketVersioning ${bucket}`, () =>
      client.send(new connection.sdk.PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: spec.versioning } })),
    );
  if (fields.has("cors")) {
    const rules = spec.cors ?? [];
    if (rules.length === 0) await connection.send(`DeleteBucketCors ${bucket}`, () => client.send(new connection.sdk.DeleteBucketCorsCommand({ Bucket })));
    else
      await connection.send(`PutBucketCors ${bucket}`, () =>
        client.send(
          new connection.sdk.PutBucketCorsCommand({
            Bucket,
            CORSConfiguration: {
              CORSRules: rules.map((rule: CorsRule) => ({
                AllowedOrigins: rule.allowedOrigins,
                AllowedMethods: rule.allowedMethods,
                ...(rule.allowedHeaders === undefined ? {} : { AllowedHeaders: rule.allowedHeaders }),
                ...(rule.exposeHeaders === undefined ? {} : { ExposeHeaders: rule.exposeHeaders }),
                ...(rule.maxAgeSeconds === undefined ? {} : { MaxAgeSeconds: rule.maxAgeSeconds }),
              })),
            },
          }),
        ),
      );
  }
  if (fields.has("lifecycle")) {
    const rules = spec.lifecycle ?? [];
    if (rules.length === 0)
      await connection.send(`DeleteBucketLifecycle ${bucket}`, () => client.send(new connection.sdk.DeleteBucketLifecycleCommand({ Bucket })));
    else
      await connection.send(`PutBucketLifecycleConfiguration ${bucket}`, () =>
        client.send(new connection.sdk.PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules: lifecycleRules(rules) } })),
      );
  }
  if (fields.has("encryption")) {
    if (spec.encryption === undefined)
      await connection.send(`DeleteBucketEncryption ${bucket}`, () => client.send(new connection.sdk.DeleteBucketEncryptionCommand({ Bucket })));
    else {
      const encryption = spec.encryption;
      await connection.send(`PutBucketEncryption ${bucket}`, () =>
        client.send(
          new connection.sdk.PutBucketEncryptionCommand({
            Bucket,
            ServerSideEncryptionConfiguration: {
              Rules: [
                {
                  ApplyServerSideEncryptionByDefault: {
                    SSEAlgorithm: encryption.algorithm,
                    ...(encryption.kmsKeyId === undefined ? {} : { KMSMasterKeyID: encryption.kmsKeyId }),
                  },
                },
              ],
            },
          }),
        ),
      );
    }
  }
  if (fields.has("publicAccessBlock")) {
    const block = spec.publicAccessBlock;
    if (block === undefined)
      await connection.send(`DeletePublicAccessBlock ${bucket}`, () => client.send(new connection.sdk.DeletePublicAccessBlockCommand({ Bucket })));
    else
      await connection.send(`PutPublicAccessBlock ${bucket}`, () =>
        client.send(
          new connection.sdk.PutPublicAccessBlockCommand({
            Bucket,
            PublicAccessBlockConfiguration: {
              BlockPublicAcls: block.blockPublicAcls,
              IgnorePublicAcls: block.ignorePublicAcls,
              BlockPublicPolicy: block.blockPublicPolicy,
              RestrictPublicBuckets: block.restrictPublicBuckets,
            },
          }),
        ),
      );
  }
}

async function readBack(connection: S3Connection, target: Target<BucketSpec>): Promise<LiveObject> {
  const desired = target.spec;
  const settings = await readSettings(connection, bucketName(target), desired);
  return {
    spec: {
      ...(desired.name === undefined ? {} : { name: bucketName(target) }),
      ...(desired.region === undefined ? {} : { region: desired.region }),
      ...asDesired(desired as JsonObject, settings),
    },
    outputs: { name: bucketName(target) },
  };
}

/** S3's bucket naming rules, so a bad name fails at render time with the rule it breaks. */
export function checkBucketName(name: string): SpecProblem[] {
  const rules: [boolean, string][] = [
    [name.length >= 3 && name.length <= 63, "be 3 to 63 characters"],
    [/^[a-z0-9.-]+$/.test(name), "hold only lower-case letters, digits, dots and hyphens"],
    [/^[a-z0-9].*[a-z0-9]$/.test(name), "begin and end with a letter or digit"],
    [!name.includes(".."), "not hold two dots in a row"],
    [!/^\d+\.\d+\.\d+\.\d+$/.test(name), "not look like an IP address"],
    [!name.startsWith("xn--") && !name.endsWith("-s3alias"), "not begin with xn-- or end with -s3alias"],
  ];
  return rules.filter(([holds]) => !holds).map(([, rule]) => ({ path: "/name", message: `bucket name ${JSON.stringify(name)} must ${rule}` }));
}

export const bucketKind = defineKind<BucketSpec, S3Connection>({
  kind: "Bucket",
  schema: bucketSpec,
  dataHolding: true,
  replaceOn: ["name", "region"],
  tagField: "tags",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  validate: (spec, name) => [
    ...checkBucketName(spec.name ?? name),
    ...(Object.keys(spec.tags ?? {}).length > 50 ? [{ path: "/tags", message: "S3 keeps at most 50 tags on a bucket" }] : []),
  ],
  places: (spec, name) => ({ bucket: [spec.name ?? name] }),
  provides: (spec, name) => [`bucket:${spec.name ?? name}`],
  list: readBuckets,
  async read(connection, target) {
    return (await readBuckets(connection, [target])).get(target.address) ?? null;
  },
  async create(connection, target) {
    const bucket = bucketName(target);
    const region = target.spec.region ?? connection.settings.region;
    await connection.send(`CreateBucket ${bucket}`, () =>
      connection.client.send(
        new connection.sdk.CreateBucketCommand({
          Bucket: bucket,
          ...(region === "us-east-1" || (connection.settings.endpoint !== undefined && target.spec.region === undefined)
            ? {}
            : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
        }),
      ),
    );
    const declared = new Set(Object.keys(target.spec).filter((field) => field !== "name" && field !== "region"));
    await writeSettings(connection, bucket, target.spec, declared);
    return readBack(connection, target);
  },
  async update(connection, target, live) {
    const changed = new Set(Object.keys(target.spec).filter((field) => !sameJson(target.spec[field as keyof BucketSpec], live.spec[field])));
    await writeSettings(connection, bucketName(target), target.spec, changed);
    return readBack(connection, target);
  },
  async delete(connection, target) {
    const bucket = bucketName(target);
    await connection.send(
      `DeleteBucket ${bucket}`,
      () => connection.client.send(new connection.sdk.DeleteBucketCommand({ Bucket: bucket })),
      new Set(["NoSuchBucket"]),
    );
  },
});
