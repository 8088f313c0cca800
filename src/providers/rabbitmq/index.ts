// The `rabbitmq` provider (rabbitmq.plumb.dev/v1): vhosts, users,
// permissions, exchanges, queues, bindings and policies of one broker,
// through its management HTTP API, each kind read with one call.

import { Type, type Static } from "@sinclair/typebox";
import { defineProvider } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { permissionKind, userKind } from "./access.js";
import { RabbitmqConnection } from "./connection.js";
import { bindingKind, exchangeKind, policyKind, queueKind } from "./topology.js";
import { vhostKind } from "./vhost.js";

export const rabbitmqProviderConfig = Type.Object(
  {
    url: Type.String({ pattern: "^https?://", description: "The management API's address, e.g. http://broker:15672." }),
    user: Type.String({ minLength: 1, description: "A user tagged administrator." }),
    password: Type.Optional(secretReferenceSchema),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 300, description: "Per request; default 30." })),
  },
  { additionalProperties: false },
);

export type RabbitmqProviderConfig = Static<typeof rabbitmqProviderConfig>;

export const rabbitmqProvider = defineProvider<RabbitmqProviderConfig, RabbitmqConnection>({
  type: "rabbitmq",
  group: "rabbitmq.plumb.dev",
  version: "v1",
  configSchema: rabbitmqProviderConfig,
  async connect(config, context) {
    return new RabbitmqConnection(
      { url: config.url, user: config.user, password: config.password, timeoutSeconds: config.timeoutSeconds ?? 30 },
      context.secrets,
      context.stack,
    );
  },
  kinds: [vhostKind, userKind, permissionKind, exchangeKind, queueKind, bindingKind, policyKind],
});
