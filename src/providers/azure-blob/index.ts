// The `azure-blob` provider (azure-blob.plumb.dev/v1): the containers of one
// Azure storage account, or of Azurite.

import { Type, type Static } from "@sinclair/typebox";
import { defineProvider } from "../../sdk/provider.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { AzureBlobConnection } from "./connection.js";
import { containerKind } from "./container.js";

export const azureBlobProviderConfig = Type.Object(
  {
    account: Type.String({ pattern: "^[a-z0-9]{3,24}$", description: "The storage account name." }),
    accountKey: secretReferenceSchema,
    endpoint: Type.Optional(
      Type.String({ pattern: "^https?://", description: "Default https://<account>.blob.core.windows.net; Azurite: http://127.0.0.1:10000/<account>." }),
    ),
    maxConcurrency: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: "Containers read at once; default 8." })),
  },
  { additionalProperties: false },
);

export type AzureBlobProviderConfig = Static<typeof azureBlobProviderConfig>;

export const azureBlobProvider = defineProvider<AzureBlobProviderConfig, AzureBlobConnection>({
  type: "azure-blob",
  group: "azure-blob.plumb.dev",
  version: "v1",
  configSchema: azureBlobProviderConfig,
  async connect(config, context) {
    return new AzureBlobConnection(
      { account: config.account, accountKey: config.accountKey, endpoint: config.endpoint, maxConcurrency: config.maxConcurrency ?? 8 },
      context.secrets,
      context.stack,
    );
  },
  kinds: [containerKind],
});
