// One connection to a Redis server for its ACL: opened on first use with the
// admin credentials, commands sent as argument lists (never a command line to
// quote), and errors that name the server, never a password, and say whether
// retrying can help.

import type * as RedisLibrary from "redis";
import { PlumbError } from "../../errors.js";
import { libraryOf } from "../../library.js";
import { redactor } from "../../secrets/redaction.js";
import type { SecretReference, SecretResolver } from "../../secrets/references.js";

export interface RedisSettings {
  host: string;
  port: number;
  /** The ACL user Plumb logs in as; default `default`. */
  username: string;
  password: SecretReference | undefined;
  tls: boolean;
  connectTimeoutSeconds: number;
  /** Runs ACL SAVE after each change, for a server whose users live in an ACL file. */
  aclSave: boolean;
}

type RedisModule = typeof RedisLibrary;
type Client = ReturnType<RedisModule["createClient"]>;
/** What a command answers, as the client gives it (RESP2: strings, numbers, arrays, null). */
export type Reply = string | number | null | Reply[];

const unreachableCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "ECONNRESET", "EAI_AGAIN", "EPIPE"]);

export class RedisConnection {
  private client: Promise<Client> | undefined;
  /** The client library, loaded on first use: a CLI run that touches no Redis never pays for it. */
  private library: RedisModule | undefined;

  constructor(
    readonly settings: RedisSettings,
    readonly secrets: SecretResolver,
    readonly stack: string,
  ) {}

  get server(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  async secret(reference: SecretReference): Promise<string> {
    return this.secrets.resolve(reference);
  }

  /** One client per instance; a failed connect is forgotten so the next run tries again. */
  private connect(): Promise<Client> {
    this.client ??= (async () => {
      this.library ??= libraryOf(await import("redis"));
      const { createClient } = this.library;
      const password = this.settings.password === undefined ? undefined : await this.secret(this.settings.password);
      const client = createClient({
        username: this.settings.username,
        ...(password === undefined ? {} : { password }),
        socket: {
          host: this.settings.host,
          port: this.settings.port,
          connectTimeout: this.settings.connectTimeoutSeconds * 1000,
          // A lost server is reported to the run that needs it; the client does not reconnect behind its back.
          reconnectStrategy: false,
          ...(this.settings.tls ? { tls: true as const } : {}),
        },
      });
      // Without a listener an error event would end the process; each command reports its own failure.
      client.on("error", () => undefined);
      await client.connect();
      return client;
    })();
    this.client.catch(() => {
      this.client = undefined;
    });
    return this.client;
  }

  async command(args: readonly string[]): Promise<Reply> {
    try {
      const client = await this.connect();
      return (await client.sendCommand([...args])) as Reply;
    } catch (error) {
      throw this.describeError(error, args[0] === "ACL" ? `ACL ${args[1] ?? ""}` : (args[0] ?? ""));
    }
  }

  /**
   * Runs commands inside MULTI/EXEC, so nobody sees a step between them. A
   * command the server refuses is an Error in its place; the others still ran.
   */
  async transaction(commands: readonly (readonly string[])[]): Promise<(Reply | Error)[]> {
    try {
      const client = await this.connect();
      const multi = client.multi();
      for (const args of commands) multi.addCommand([...args]);
      return (await multi.exec()) as unknown as Reply[];
    } catch (error) {
      if (this.library !== undefined && error instanceof this.library.MultiErrorReply) {
        return error.replies.map((reply, index) =>
          error.errorIndexes.includes(index) ? new Error(redactor.redact(String((reply as unknown as Error).message ?? reply))) : (reply as unknown as Reply),
        );
      }
      throw this.describeError(error, "MULTI");
    }
  }

  /** A Plumb error for a client error: where, what, retryable or not, with secrets masked. */
  describeError(error: unknown, command: string): Error {
    if (error instanceof PlumbError) return error;
    const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
    const message = redactor.redact(error instanceof Error ? error.message : String(error));
    const where = `Redis at ${this.server} (user "${this.settings.username}")`;
    if (unreachableCodes.has(code) || /socket closed|connection timeout|client is closed|ClientClosed/i.test(`${message} ${errorName(error)}`)) {
      this.client = undefined;
      return new PlumbError("PLUMB_PROVIDER_TRANSIENT", `cannot reach ${where}: ${message}`, {
        location: { stack: this.stack },
        hint: "check that the server is running and that host and port in the provider config are right",
        cause: error,
      });
    }
    if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(message)) {
      this.client = undefined;
      return new PlumbError("PLUMB_PROVIDER_CONFIG", `${where} refused Plumb: ${message}`, {
        location: { stack: this.stack },
        hint: "check the username and the password secret in the provider config; the user needs the +acl command",
        cause: error,
      });
    }
    const transient = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN)/.test(message);
    return new PlumbError(transient ? "PLUMB_PROVIDER_TRANSIENT" : "PLUMB_PROVIDER_OPERATION", `${where}: ${command}: ${message}`, {
      location: { stack: this.stack },
      cause: error,
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    try {
      (await client).destroy();
    } catch {
      // A client that never connected has nothing to close.
    }
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "";
}
