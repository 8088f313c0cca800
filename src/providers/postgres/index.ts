// The `postgres` provider (postgres.plumb.dev/v1): roles, databases, schemas,
// grants, default privileges and extensions of one PostgreSQL server, each
// kind read in bulk from the catalog.

import { Type, type Static } from "@sinclair/typebox";
import { mapWithConcurrency } from "../../sdk/concurrency.js";
import { groupBy } from "../../sdk/group-by.js";
import { observeByKind } from "../../sdk/observe-by-kind.js";
import { defineProvider, type KindTarget, type LiveObject } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { PostgresConnection } from "./connection.js";
import { databaseKind } from "./database.js";
import { defaultPrivilegesKind } from "./default-privileges.js";
import { extensionKind } from "./extension.js";
import { grantKind } from "./grant.js";
import { roleKind } from "./role.js";
import { schemaKind } from "./schema.js";
import { closeIdlePools } from "./server-pools.js";

export const postgresProviderConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, description: "Server host name or address." }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Default 5432." })),
    user: Type.Union([Type.String({ minLength: 1 }), secretReferenceSchema], {
      description: "A role allowed to create roles and databases: a name, or { secretRef } to one in a secret store.",
    }),
    password: Type.Optional(secretReferenceSchema),
    database: Type.Optional(Type.String({ minLength: 1, description: "Database to connect to for cluster-wide objects; default postgres." })),
    sslmode: Type.Optional(Type.Union([Type.Literal("disable"), Type.Literal("require"), Type.Literal("verify-full")], { description: "Default disable." })),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "Queries a run has in flight at once, across databases; default 4." })),
    connectionBudget: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10000,
        description:
          "Connections kept open to this server between runs, for every stack in the agent, so drift checks find them warm; default a quarter of the server's max_connections. Stacks naming one server with different budgets share the smallest.",
      }),
    ),
    connectTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300, description: "Default 10." })),
  },
  { additionalProperties: false },
);

export type PostgresProviderConfig = Static<typeof postgresProviderConfig>;

/** The database a target's catalog rows live in; undefined: the cluster-wide catalog. */
function databaseOf({ handler, target }: KindTarget): string | undefined {
  const spec = target.spec as { database?: string; objectType?: string };
  if (handler.kind === "Role" || handler.kind === "Database") return undefined;
  if (handler.kind === "Grant" && spec.objectType === "database") return undefined;
  return spec.database;
}

export const postgresProvider = defineProvider<PostgresProviderConfig, PostgresConnection>({
  type: "postgres",
  group: "postgres.plumb.dev",
  version: "v1",
  configSchema: postgresProviderConfig,
  async connect(config, context) {
    return new PostgresConnection(
      {
        host: config.host,
        port: config.port ?? 5432,
        user: config.user,
        database: config.database ?? "postgres",
        sslmode: config.sslmode ?? "disable",
        maxConnections: config.maxConnections ?? 4,
        connectTimeoutSeconds: config.connectTimeoutSeconds ?? 10,
        connectionBudget: config.connectionBudget,
        password: config.password,
      },
      context.secrets,
      context.stack,
    );
  },
  async close(connection) {
    await connection.close();
  },
  shutdown: closeIdlePools,
  // Reading by database, every kind in it at once: their catalog reads reach
  // the database as one round trip on one warm connection.
  async observe(connection, targets) {
    const byDatabase = groupBy(targets, (item) => databaseOf(item) ?? connection.settings.database);
    const observed = new Map<string, LiveObject | Error>();
    await mapWithConcurrency([...byDatabase.values()], connection.settings.maxConnections, async (group) => {
      const byKind = groupBy(group, (item) => item.handler);
      await Promise.all(
        [...byKind.values()].map(async (items) => {
          for (const [address, object] of await observeByKind(connection, items)) observed.set(address, object);
        }),
      );
    });
    return observed;
  },
  kinds: [roleKind, databaseKind, schemaKind, grantKind, defaultPrivilegesKind, extensionKind],
});
