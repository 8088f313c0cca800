// Maps API groups to the providers that serve them, and provider types to the
// same providers for Stack `providers.<instance>.type`.

import { PlumbError } from "../errors.js";
import type { AnyKindHandler, AnyProvider } from "../sdk/provider.js";
import { azureBlobProvider } from "./azure-blob/index.js";
import { fileProvider } from "./file/index.js";
import { kubernetesProvider } from "./kubernetes/index.js";
import { mysqlProvider } from "./mysql/index.js";
import { postgresProvider } from "./postgres/index.js";
import { rabbitmqProvider } from "./rabbitmq/index.js";
import { redisProvider } from "./redis/index.js";
import { s3Provider } from "./s3/index.js";

export class ProviderRegistry {
  private readonly byGroup = new Map<string, AnyProvider>();
  private readonly byType = new Map<string, AnyProvider>();
  /** The provider of every apiVersion outside Plumb's groups, if one is registered. */
  readonly foreign: AnyProvider | undefined;

  constructor(providers: readonly AnyProvider[]) {
    const foreign = providers.filter((provider) => provider.foreignObjects === true);
    if (foreign.length > 1) throw new Error(`two providers serve foreign objects: ${foreign.map((provider) => provider.type).join(", ")}`);
    this.foreign = foreign[0];
    for (const provider of providers) {
      if (this.byGroup.has(provider.group)) throw new Error(`two providers claim the API group ${provider.group}`);
      if (this.byType.has(provider.type)) throw new Error(`two providers claim the type ${provider.type}`);
      this.byGroup.set(provider.group, provider);
      this.byType.set(provider.type, provider);
    }
  }

  /**
   * Adds a provider at run time (a platform's plug-in); refuses one whose type
   * or group another provider has. `replacing` names the type it takes over from
   * (a new version of the same plug-in).
   */
  register(provider: AnyProvider, replacing?: string): void {
    const previous = replacing === undefined ? undefined : this.byType.get(replacing);
    const typeOwner = this.byType.get(provider.type);
    const groupOwner = this.byGroup.get(provider.group);
    if (typeOwner !== undefined && typeOwner !== previous)
      throw new PlumbError("PLUMB_PROVIDER_PLUGIN", `provider type ${provider.type} is taken already`, {
        hint: "give the plug-in's provider a type of its own",
      });
    if (groupOwner !== undefined && groupOwner !== previous)
      throw new PlumbError("PLUMB_PROVIDER_PLUGIN", `API group ${provider.group} is served already (by provider ${groupOwner.type})`, {
        hint: "give the plug-in a group of its own",
      });
    if (previous !== undefined) this.unregister(previous.type);
    this.byGroup.set(provider.group, provider);
    this.byType.set(provider.type, provider);
  }

  unregister(type: string): void {
    const provider = this.byType.get(type);
    if (provider === undefined) return;
    this.byType.delete(type);
    this.byGroup.delete(provider.group);
  }

  providerForGroup(group: string): AnyProvider | undefined {
    return this.byGroup.get(group);
  }

  /** The provider that serves `apiVersion`: its group's, else the foreign-object provider for groups outside Plumb's. */
  providerForApiVersion(apiVersion: string): AnyProvider | undefined {
    const slash = apiVersion.indexOf("/");
    // Without a group, only a version names the core group ("v1").
    if (slash < 0) return /^v\d+((alpha|beta)\d+)?$/.test(apiVersion) ? this.foreign : undefined;
    const group = apiVersion.slice(0, slash);
    const provider = this.byGroup.get(group);
    if (provider !== undefined) return provider === this.foreign ? undefined : provider;
    return isPlumbGroup(group) ? undefined : this.foreign;
  }

  /** A plain manifest of a system outside Plumb's groups (a Kubernetes object), when a provider serves those. */
  isForeign(apiVersion: string): boolean {
    return this.foreign !== undefined && this.providerForApiVersion(apiVersion) === this.foreign;
  }

  providerForType(type: string): AnyProvider | undefined {
    return this.byType.get(type);
  }

  /** Every provider's shutdown, as the agent stops. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.byType.values()].map((provider) => provider.shutdown?.()));
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }

  /** Every `apiVersion kind` pair known, for error messages that list the choices. */
  knownKinds(): string[] {
    const known: string[] = [];
    for (const provider of this.byGroup.values()) {
      if (provider === this.foreign) continue;
      for (const kind of provider.kinds) known.push(`${provider.group}/${provider.version} ${kind.kind}`);
    }
    return known.sort();
  }

  /**
   * The handler for `apiVersion` + `kind`, if a provider serves it; `foreign:
   * false` leaves out the foreign-object provider (for a stack that declares
   * no instance of it, where an unknown group is an unknown kind).
   */
  findKind(apiVersion: string, kind: string, { foreign = true }: { foreign?: boolean } = {}): AnyKindHandler | undefined {
    const provider = this.providerForApiVersion(apiVersion);
    if (provider === undefined) return undefined;
    if (provider === this.foreign) return foreign ? provider.kinds[0] : undefined;
    const version = apiVersion.slice(apiVersion.indexOf("/") + 1);
    return provider.version === version ? provider.kinds.find((candidate) => candidate.kind === kind) : undefined;
  }

  /** The handler for `apiVersion` + `kind`, or a PLUMB_UNKNOWN_KIND error that lists the known ones. */
  kind(apiVersion: string, kind: string, options: { foreign?: boolean } = {}): AnyKindHandler {
    const handler = this.findKind(apiVersion, kind, options);
    if (handler === undefined) {
      const providerGroup = this.byGroup.has(apiVersion.split("/")[0] ?? "");
      throw new PlumbError("PLUMB_UNKNOWN_KIND", `unknown kind "${kind}" in apiVersion "${apiVersion}"`, {
        hint: providerGroup
          ? `known kinds: ${this.knownKinds().join(", ")}`
          : `known kinds: ${this.knownKinds().join(", ")}; a platform composite kind is known only when its *.composite.ts is loaded (--platform <dir>, or the agent's platform repository)`,
      });
    }
    return handler;
  }
}

/** Plumb's own API groups: a typo in one is an unknown kind, never a foreign object. */
function isPlumbGroup(group: string): boolean {
  return group === "plumb.dev" || group.endsWith(".plumb.dev");
}

export function defaultRegistry(): ProviderRegistry {
  return new ProviderRegistry([
    fileProvider,
    postgresProvider,
    mysqlProvider,
    kubernetesProvider,
    redisProvider,
    rabbitmqProvider,
    s3Provider,
    azureBlobProvider,
  ]);
}
