// Connects to each provider instance a stack uses, once, on first need, and
// closes them all when the run ends.

import { PlumbError } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { StackDefinition } from "../stack-definition.js";
import type { AnyKindHandler, AnyProvider } from "../sdk/provider.js";
import type { JsonObject } from "../sdk/resource.js";
import { localSecretResolver, type SecretResolver } from "../secrets/references.js";

export interface ProviderConnection {
  provider: AnyProvider;
  connection: unknown;
}

/**
 * One resolution per secret reference for the resolver's life (a run): a kind
 * that checks the password of each of a thousand users sharing one secret asks
 * the store once, not a thousand times.
 */
function oncePerReference(resolver: SecretResolver): SecretResolver {
  const resolved = new Map<string, Promise<string>>();
  return {
    resolve(reference) {
      const key = JSON.stringify(reference.secretRef);
      let value = resolved.get(key);
      if (value === undefined) {
        value = resolver.resolve(reference);
        resolved.set(key, value);
      }
      return value;
    },
  };
}

export class ProviderConnections {
  private readonly open = new Map<string, Promise<ProviderConnection>>();
  /** What the run's providers resolve secrets through. */
  private readonly runSecrets: SecretResolver;

  constructor(
    readonly registry: ProviderRegistry,
    private readonly definition: StackDefinition,
    readonly secrets: SecretResolver = localSecretResolver(),
  ) {
    this.runSecrets = oncePerReference(secrets);
  }

  get stackName(): string {
    return this.definition.name;
  }

  /** The handler for a kind; the registry's error lists the known kinds. */
  handler(apiVersion: string, kind: string): AnyKindHandler {
    return this.registry.kind(apiVersion, kind);
  }

  get(instance: string, resource?: string): Promise<ProviderConnection> {
    let connection = this.open.get(instance);
    if (connection === undefined) {
      connection = this.connect(instance, resource);
      this.open.set(instance, connection);
    }
    return connection;
  }

  private async connect(instance: string, resource: string | undefined): Promise<ProviderConnection> {
    const declared = this.definition.providers[instance];
    const provider = declared === undefined ? undefined : this.registry.providerForType(declared.type);
    if (declared === undefined || provider === undefined) {
      throw new PlumbError("PLUMB_PROVIDER_INSTANCE", `provider instance "${instance}" is not declared in stack ${this.definition.name}`, {
        location: { stack: this.definition.name, ...(resource === undefined ? {} : { resource }) },
        hint: "declare it under spec.providers in the Stack document; resources that left the stack still need their provider to be deleted",
      });
    }
    const connection = await provider.connect((declared.config ?? {}) as JsonObject, { stack: this.definition.name, instance, secrets: this.runSecrets });
    return { provider, connection };
  }

  async closeAll(): Promise<void> {
    const connections = [...this.open.values()];
    this.open.clear();
    for (const pending of connections) {
      const opened = await pending.catch(() => undefined);
      if (opened?.provider.close !== undefined) await opened.provider.close(opened.connection);
    }
  }
}
