// The `s3` provider (s3.plumb.dev/v1): buckets and bucket policies on AWS S3
// or an S3-compatible server.

import { Type, type Static } from "@sinclair/typebox";
import { defineProvider } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { bucketPolicyKind } from "./bucket-policy.js";
import { bucketKind } from "./bucket.js";
import { libraryOf } from "../../library.js";
import { S3Connection } from "./connection.js";

export const s3ProviderConfig = Type.Object(
  {
    endpoint: Type.Optional(Type.String({ pattern: "^https?://", description: "An S3-compatible server's address; leave out for AWS." })),
    region: Type.Optional(Type.String({ pattern: "^[a-z0-9-]{1,32}$", description: "Default us-east-1." })),
    forcePathStyle: Type.Optional(Type.Boolean({ description: "Address buckets as <endpoint>/<bucket>; default true with an endpoint, false for AWS." })),
    accessKeyId: Type.Optional(Type.Union([Type.String({ minLength: 1 }), secretReferenceSchema])),
    secretAccessKey: Type.Optional(secretReferenceSchema),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "Buckets read at once; default 8." })),
  },
  { additionalProperties: false },
);

export type S3ProviderConfig = Static<typeof s3ProviderConfig>;

export const s3Provider = defineProvider<S3ProviderConfig, S3Connection>({
  type: "s3",
  group: "s3.plumb.dev",
  version: "v1",
  configSchema: s3ProviderConfig,
  async connect(config, context) {
    return new S3Connection(
      libraryOf(await import("@aws-sdk/client-s3")),
      {
        endpoint: config.endpoint,
        region: config.region ?? "us-east-1",
        forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
        maxConcurrency: config.maxConcurrency ?? 8,
      },
      context.secrets,
      context.stack,
    );
  },
  async close(connection) {
    connection.close();
  },
  kinds: [bucketKind, bucketPolicyKind],
});
