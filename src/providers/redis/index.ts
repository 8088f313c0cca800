// The `redis` provider (redis.plumb.dev/v1): the ACL users of one Redis
// server, read for a whole stack with one ACL LIST.

import { Type, type Static } from "@sinclair/typebox";
import { defineProvider } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { RedisConnection } from "./connection.js";
import { userKind } from "./user.js";

export const redisProviderConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, description: "Server host name or address." }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Default 6379." })),
    username: Type.Optional(Type.String({ minLength: 1, description: "The ACL user Plumb logs in as (it needs +acl); default `default`." })),
    password: Type.Optional(secretReferenceSchema),
    tls: Type.Optional(Type.Boolean({ description: "Connect with TLS; default false." })),
    aclSave: Type.Optional(Type.Boolean({ description: "Run ACL SAVE after each change, for a server whose users live in an ACL file; default false." })),
    connectTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300, description: "Default 10." })),
  },
  { additionalProperties: false },
);

export type RedisProviderConfig = Static<typeof redisProviderConfig>;

export const redisProvider = defineProvider<RedisProviderConfig, RedisConnection>({
  type: "redis",
  group: "redis.plumb.dev",
  version: "v1",
  configSchema: redisProviderConfig,
  async connect(config, context) {
    return new RedisConnection(
      {
        host: config.host,
        port: config.port ?? 6379,
        username: config.username ?? "default",
        password: config.password,
        tls: config.tls ?? false,
        aclSave: config.aclSave ?? false,
        connectTimeoutSeconds: config.connectTimeoutSeconds ?? 10,
      },
      context.secrets,
      context.stack,
    );
  },
  async close(connection) {
    await connection.close();
  },
  kinds: [userKind],
});
