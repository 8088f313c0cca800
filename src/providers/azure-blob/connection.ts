// One Blob service client for a storage account (Azure or Azurite), built on
// first use from the account key in a secret store, with errors that name the
// account (never the key) and say whether retrying can help.

import type { BlobServiceClient } from "@azure/storage-blob";
import { PlumbError } from "../../errors.js";
import { libraryOf } from "../../library.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";

export interface AzureBlobSettings {
  account: string;
  accountKey: SecretReference;
  /** Omitted: https://<account>.blob.core.windows.net. */
  endpoint: string | undefined;
  maxConcurrency: number;
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN", "REQUEST_SEND_ERROR"]);
const credentialCodes = new Set(["AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "InvalidAuthenticationInfo"]);

/** The SDK's RestError, told by name: the SDK itself is not loaded until a connection needs it. */
function isRestError(error: unknown): error is Error & { code?: string; statusCode?: number } {
  return error instanceof Error && error.name === "RestError";
}

export class AzureBlobConnection {
  private service: Promise<BlobServiceClient> | undefined;

  constructor(
    readonly settings: AzureBlobSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {}

  get server(): string {
    return `Azure Blob account "${this.settings.account}" at ${new URL(this.endpoint).host}`;
  }

  private get endpoint(): string {
    return this.settings.endpoint ?? `https://${this.settings.account}.blob.core.windows.net`;
  }

  client(): Promise<BlobServiceClient> {
    this.service ??= (async () => {
      // The SDK is loaded on first use: a CLI run that touches no container never pays for it.
      const { BlobServiceClient, StorageSharedKeyCredential } = libraryOf(await import("@azure/storage-blob"));
      const key = await this.secrets.resolve(this.settings.accountKey);
      // One try per call: the engine retries transient failures with its own backoff.
      return new BlobServiceClient(this.endpoint, new StorageSharedKeyCredential(this.settings.account, key), { retryOptions: { maxTries: 1 } });
    })();
    this.service.catch(() => {
      this.service = undefined;
    });
    return this.service;
  }

  /** Runs one call; a `RestError` whose code is in `emptyWhen` is `undefined` (nothing there). */
  async call<Output>(
    what: string,
    work: (service: BlobServiceClient) => Promise<Output>,
    emptyWhen: ReadonlySet<string> = new Set(),
  ): Promise<Output | undefined> {
    try {
      return await work(await this.client());
    } catch (error) {
      if (isRestError(error) && emptyWhen.has(String(error.code))) return undefined;
      throw this.describeError(error, what);
    }
  }

  describeError(error: unknown, what: string): Error {
    if (error instanceof PlumbError) return error;
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const status = isRestError(error) ? error.statusCode : undefined;
    const message = redactor.redact((error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "");
    if (unreachableCodes.has(code) || /ECONNREFUSED|getaddrinfo|socket hang up/.test(message))
      return new PlumbError("PLUMB_PROVIDER_TRANSIENT", `cannot reach ${this.server}: ${what}: ${message}`, {
        location: { stack: this.stack },
        hint: "check the endpoint in the provider config and that the service runs",
        cause: error,
      });
    if (credentialCodes.has(code) || status === 403)
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${this.server} refused Plumb's key: ${what}: ${code}`, {
        location: { stack: this.stack },
        hint: "check the account name and the accountKey secret in the provider config",
        cause: error,
      });
    const transient = status !== undefined && (status >= 500 || status === 429);
    return new PlumbError(
      transient ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION",
      `${this.server}: ${what}: ${code === "" ? "" : `${code}: `}${message}`,
      {
        location: { stack: this.stack },
        cause: error,
      },
    );
  }
}
