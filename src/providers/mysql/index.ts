// The `mysql` provider (mysql.plumb.dev/v1): databases, users, roles and
// grants of one MariaDB server, each kind read in bulk from its catalog.

import { Type, type Static } from "@sinclair/typebox";
import { defineProvider } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { roleKind, userKind } from "./accounts.js";
import { MysqlConnection } from "./connection.js";
import { databaseKind } from "./database.js";
import { grantKind } from "./grant.js";

export const mysqlProviderConfig = Type.Object(
  {
    host: Type.String({ minLength: 1, description: "Server host name or address." }),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: "Default 3306." })),
    user: Type.String({ minLength: 1, description: "An account allowed to create users and databases and to grant (e.g. root, or one WITH GRANT OPTION)." }),
    password: Type.Optional(secretReferenceSchema),
    tls: Type.Optional(Type.Boolean({ description: "Connect with TLS; default false." })),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "Default 4." })),
    connectTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300, description: "Default 10." })),
  },
  { additionalProperties: false },
);

export type MysqlProviderConfig = Static<typeof mysqlProviderConfig>;

export const mysqlProvider = defineProvider<MysqlProviderConfig, MysqlConnection>({
  type: "mysql",
  group: "mysql.plumb.dev",
  version: "v1",
  configSchema: mysqlProviderConfig,
  async connect(config, context) {
    return new MysqlConnection(
      {
        host: config.host,
        port: config.port ?? 3306,
        user: config.user,
        password: config.password,
        tls: config.tls ?? false,
        maxConnections: config.maxConnections ?? 4,
        connectTimeoutSeconds: config.connectTimeoutSeconds ?? 10,
      },
      context.secrets,
      context.stack,
    );
  },
  async close(connection) {
    await connection.close();
  },
  kinds: [databaseKind, roleKind, userKind, grantKind],
});
