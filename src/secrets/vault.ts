// HashiCorp Vault's KV version 2 secrets engine over its HTTP API: read with
// GET /v1/<mount>/data/<path>, write with POST (check-and-set), authenticate
// with a token or AppRole (POST /v1/auth/<mount>/login), logging in again
// when Vault says the token expired. A secret name is a path; a key is a field.

import { PlumbError } from "../errors.js";
import type { SecretReference } from "./references.js";
import type { SecretStore } from "./stores.js";

export interface VaultSettings {
  address: string;
  mount: string;
  pathPrefix: string;
  namespace?: string;
  auth: { token: SecretReference } | { appRole: { roleId: string; secretId: SecretReference; mount?: string } };
}

interface VaultResponse {
  status: number;
  body: { data?: { data?: Record<string, unknown>; metadata?: { version?: number } }; auth?: { client_token?: string }; errors?: string[] } | undefined;
}

const requestTimeoutMs = 10_000;

export class VaultStore implements SecretStore {
  readonly type = "vault";
  private token: string | undefined;

  constructor(
    readonly name: string,
    private readonly settings: VaultSettings,
    private readonly credential: (reference: SecretReference) => Promise<string>,
  ) {}

  private async send(method: "GET" | "POST", route: string, body: unknown, token: string | undefined): Promise<VaultResponse> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token !== undefined) headers["x-vault-token"] = token;
    if (this.settings.namespace !== undefined) headers["x-vault-namespace"] = this.settings.namespace;
    let response: Response;
    try {
      response = await fetch(`${this.settings.address.replace(/\/+$/, "")}/v1/${route}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new PlumbError("PLUMB_SECRET_STORE_UNAVAILABLE", `vault store ${this.name}: cannot reach ${this.settings.address} (${cause})`, {
        hint: "check the address and that Vault is up; Plumb retries",
      });
    }
    const text = await response.text();
    let parsed: VaultResponse["body"];
    try {
      parsed = text === "" ? undefined : (JSON.parse(text) as VaultResponse["body"]);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }

  private async login(): Promise<string> {
    const auth = this.settings.auth;
    if ("token" in auth) return this.credential(auth.token);
    const mount = auth.appRole.mount ?? "approle";
    const response = await this.send(
      "POST",
      `auth/${mount}/login`,
      { role_id: auth.appRole.roleId, secret_id: await this.credential(auth.appRole.secretId) },
      undefined,
    );
    const token = response.body?.auth?.client_token;
    if (response.status !== 200 || typeof token !== "string") {
      throw new PlumbError(
        "PLUMB_SECRET_STORE",
        `vault store ${this.name}: AppRole login at auth/${mount} failed (HTTP ${response.status}${this.errors(response)})`,
        { hint: "check the role id and the secret id the SecretStore points at" },
      );
    }
    return token;
  }

  private errors(response: VaultResponse): string {
    const errors = response.body?.errors ?? [];
    return errors.length === 0 ? "" : `: ${errors.join("; ").slice(0, 300)}`;
  }

  /** One request with the current token; an AppRole login is renewed once when Vault refuses an expired token. */
  private async authorized(method: "GET" | "POST", route: string, body?: unknown): Promise<VaultResponse> {
    this.token ??= await this.login();
    let response = await this.send(method, route, body, this.token);
    if (response.status === 403 && "appRole" in this.settings.auth) {
      this.token = await this.login();
      response = await this.send(method, route, body, this.token);
    }
    if (response.status === 403) {
      this.token = undefined;
      throw new PlumbError(
        "PLUMB_SECRET_STORE",
        `vault store ${this.name}: permission denied for ${route} (the token expired or its policy does not allow it)`,
        {
          hint: "token auth cannot renew itself: give the store a fresh token, or use AppRole auth, which logs in again",
        },
      );
    }
    return response;
  }

  private route(kind: "data", name: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,126}$/.test(name))
      throw new PlumbError("PLUMB_USAGE", `"${name}" is not a secret name`, { hint: "use letters, digits, '.', '_' and '-'" });
    return `${this.settings.mount}/${kind}/${this.settings.pathPrefix}${name}`;
  }

  private async read(name: string): Promise<{ values: Record<string, unknown>; version: number } | undefined> {
    const route = this.route("data", name);
    const response = await this.authorized("GET", route);
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw new PlumbError(
        "PLUMB_SECRET_STORE_UNAVAILABLE",
        `vault store ${this.name}: reading ${route} answered HTTP ${response.status}${this.errors(response)}`,
      );
    return { values: response.body?.data?.data ?? {}, version: response.body?.data?.metadata?.version ?? 0 };
  }

  async get(name: string, key: string): Promise<string> {
    const found = await this.read(name);
    const where = `${this.settings.mount}/${this.settings.pathPrefix}${name}`;
    if (found === undefined)
      throw new PlumbError("PLUMB_SECRET_NOT_FOUND", `vault store ${this.name} has no secret at ${where}`, {
        hint: `write it: plumb secrets set ${this.name} ${name} ${key} < value-file`,
      });
    const value = found.values[key];
    if (typeof value !== "string")
      throw new PlumbError(
        "PLUMB_SECRET_NOT_FOUND",
        `the secret at ${where} in vault store ${this.name} has no ${typeof value === "undefined" ? "" : "text "}key ${key}`,
        { hint: `its keys: ${Object.keys(found.values).join(", ") || "(none)"}` },
      );
    return value;
  }

  /** Sets one key and keeps the others, with check-and-set so a concurrent write is not lost. */
  async set(name: string, key: string, value: string): Promise<void> {
    const found = await this.read(name);
    const route = this.route("data", name);
    const response = await this.authorized("POST", route, { options: { cas: found?.version ?? 0 }, data: { ...(found?.values ?? {}), [key]: value } });
    if (response.status !== 200 && response.status !== 204)
      throw new PlumbError("PLUMB_SECRET_STORE", `vault store ${this.name}: writing ${route} answered HTTP ${response.status}${this.errors(response)}`, {
        hint: response.status === 400 ? "someone else wrote it at the same time; try again" : "check the token's policy",
      });
  }
}
