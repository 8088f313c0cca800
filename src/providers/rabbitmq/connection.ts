// The RabbitMQ management HTTP API of one broker: requests with the admin's
// credentials, names always percent-encoded into the path, and errors that
// name the broker (never a password) and say whether retrying can help.

import { PlumbError } from "../../errors.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";
import type { JsonValue } from "../../sdk/resource.js";

export interface RabbitmqSettings {
  /** The management API's base address, e.g. http://broker:15672. */
  url: string;
  user: string;
  password: SecretReference | undefined;
  timeoutSeconds: number;
}

/**
 * A path built from literal parts and names; every name is percent-encoded, so
 * `/`, `?` or `#` in one stays inside it. A name that is `.` or `..` cannot be
 * addressed at all: URLs read it (encoded or not) as a step up the path.
 */
export function apiPath(strings: TemplateStringsArray, ...names: string[]): string {
  for (const name of names) if (isDotSegment(name)) throw new Error(`the name ${JSON.stringify(name)} cannot be used in the management API's paths`);
  return strings.reduce((path, part, index) => path + part + (index < names.length ? encodeURIComponent(names[index] as string) : ""), "");
}

export function isDotSegment(name: string): boolean {
  return name === "." || name === "..";
}

export class RabbitmqConnection {
  private authorization: Promise<string> | undefined;

  constructor(
    readonly settings: RabbitmqSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {}

  get server(): string {
    return `RabbitMQ at ${new URL(this.settings.url).host}`;
  }

  async secret(reference: SecretReference): Promise<string> {
    return this.secrets.resolve(reference);
  }

  private header(): Promise<string> {
    this.authorization ??= (async () => {
      const password = this.settings.password === undefined ? "" : await this.secret(this.settings.password);
      return `Basic ${Buffer.from(`${this.settings.user}:${password}`).toString("base64")}`;
    })();
    return this.authorization;
  }

  /** One request; the answer's JSON, or undefined for an empty body. 404 is `undefined` when `missingOk`. */
  async request(method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: JsonValue, { missingOk = false } = {}): Promise<JsonValue | undefined> {
    const address = new URL(`api${path}`, this.settings.url.endsWith("/") ? this.settings.url : `${this.settings.url}/`);
    let response: Response;
    try {
      response = await fetch(address, {
        method,
        headers: { authorization: await this.header(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.settings.timeoutSeconds * 1000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      const code = cause?.code ?? (error as { name?: string }).name ?? "";
      throw new PlumbError(
        "PLUMB_PROVIDER_TRANSIENT",
        `cannot reach ${this.server} (user "${this.settings.user}"): ${code || redactor.redact(String(error))}`,
        {
          location: { stack: this.stack },
          hint: "check that the broker runs with the management plugin and that url in the provider config is right",
          cause: error,
        },
      );
    }
    const text = await response.text();
    if (response.status === 404 && missingOk) return undefined;
    if (!response.ok) throw this.describeFailure(method, path, response.status, text);
    return text === "" ? undefined : (JSON.parse(text) as JsonValue);
  }

  private describeFailure(method: string, path: string, status: number, text: string): PlumbError {
    let reason = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { error?: string; reason?: string };
      reason = [parsed.error, parsed.reason].filter((part) => part !== undefined).join(": ");
    } catch {
      // A body that is not JSON is shown as it came, cut short.
    }
    reason = redactor.redact(reason);
    const where = `${this.server} (user "${this.settings.user}")`;
    if (status === 401)
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${where} refused the login: ${reason}`, {
        location: { stack: this.stack },
        hint: "check the user and the password secret in the provider config",
      });
    const code = status >= 500 || status === 429 ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION";
    return new PlumbError(code, `${where}: ${method} ${decodeURIComponent(path)} answered ${status}: ${reason}`, { location: { stack: this.stack } });
  }
}
