// One S3 client for an instance: AWS S3 or any S3-compatible server (path-style
// addressing for those), credentials resolved from secret references on first
// use, errors that name the endpoint (never a key) and say whether retrying helps.

import type * as S3Library from "@aws-sdk/client-s3";
import { PlumbError } from "../../errors.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";

export interface S3Settings {
  /** Omitted: AWS's own endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  accessKeyId: string | SecretReference | undefined;
  secretAccessKey: SecretReference | undefined;
  maxConcurrency: number;
}

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN", "EPIPE"]);
const transientNames = new Set(["SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "OperationAborted", "TimeoutError"]);
const credentialNames = new Set(["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken"]);

/** S3's answers for "this bucket has no such configuration": an empty value, not a failure. */
export const notConfigured = new Set([
  "NoSuchTagSet",
  "NoSuchCORSConfiguration",
  "NoSuchLifecycleConfiguration",
  "ServerSideEncryptionConfigurationNotFoundError",
  "NoSuchPublicAccessBlockConfiguration",
  "NoSuchBucketPolicy",
]);

/** The AWS SDK's S3 module, loaded when an instance connects: a CLI run that touches no bucket never pays for it. */
export type S3Sdk = typeof S3Library;

export class S3Connection {
  readonly client: S3Library.S3Client;

  constructor(
    readonly sdk: S3Sdk,
    readonly settings: S3Settings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {
    // The SDK warns on stderr, once per process, that its 2027 releases need Node 22; the README says what Plumb supports, and a CLI run should not print it.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    this.client = new sdk.S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      maxAttempts: 1,
      // S3-compatible servers do not all know the newer checksum headers; send them only where S3 requires one.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      ...(settings.accessKeyId === undefined
        ? {}
        : {
            credentials: async () => ({
              accessKeyId:
                typeof settings.accessKeyId === "string" ? settings.accessKeyId : await this.secrets.resolve(settings.accessKeyId as SecretReference),
              secretAccessKey: settings.secretAccessKey === undefined ? "" : await this.secrets.resolve(settings.secretAccessKey),
            }),
          }),
    });
  }

  get server(): string {
    return `S3 at ${this.settings.endpoint === undefined ? `AWS ${this.settings.region}` : new URL(this.settings.endpoint).host}`;
  }

  /** Sends one command; maps the failure to a Plumb error. `emptyWhen` names error codes that mean "nothing configured". */
  async send<Output>(what: string, call: () => Promise<Output>, emptyWhen: ReadonlySet<string> = new Set()): Promise<Output | undefined> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof this.sdk.S3ServiceException && emptyWhen.has(error.name)) return undefined;
      throw this.describeError(error, what);
    }
  }

  describeError(error: unknown, what: string): Error {
    if (error instanceof PlumbError) return error;
    const name = error instanceof Error ? error.name : "";
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const status = error instanceof this.sdk.S3ServiceException ? error.$metadata.httpStatusCode : undefined;
    const message = redactor.redact(error instanceof Error ? error.message : String(error));
    if (unreachableCodes.has(code) || unreachableCodes.has(name) || /ECONNREFUSED|socket hang up|getaddrinfo/.test(message))
      return new PlumbError("PLUMB_PROVIDER_TRANSIENT", `cannot reach ${this.server}: ${what}: ${message}`, {
        location: { stack: this.stack },
        hint: "check that the endpoint in the provider config is right and the server runs",
        cause: error,
      });
    if (credentialNames.has(name))
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${this.server} refused Plumb's credentials: ${what}: ${name}: ${message}`, {
        location: { stack: this.stack },
        hint: "check accessKeyId and the secretAccessKey secret in the provider config, and what the key may do",
        cause: error,
      });
    const transient = transientNames.has(name) || (status !== undefined && status >= 500);
    return new PlumbError(
      transient ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION",
      `${this.server}: ${what}: ${name === "" ? "" : `${name}: `}${message}`,
      {
        location: { stack: this.stack },
        cause: error,
      },
    );
  }

  close(): void {
    this.client.destroy();
  }
}
