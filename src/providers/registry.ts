// Maps API groups to the providers that serve them, and provider types to the
// same providers for Stack `providers.<instance>.type`.

import { PlumbError } from "../errors.js";
import type { AnyKindHandler, AnyProvider } from "../sdk/provider.js";
import { fileProvider } from "./file/index.js";
import { postgresProvider } from "./postgres/index.js";

export class ProviderRegistry {
  private readonly byGroup = new Map<string, AnyProvider>();
  private readonly byType = new Map<string, AnyProvider>();

  constructor(providers: readonly AnyProvider[]) {
    for (const provider of providers) {
      if (this.byGroup.has(provider.group)) throw new Error(`two providers claim the API group ${provider.group}`);
      if (this.byType.has(provider.type)) throw new Error(`two providers claim the type ${provider.type}`);
      this.byGroup.set(provider.group, provider);
      this.byType.set(provider.type, provider);
    }
  }

  providerForGroup(group: string): AnyProvider | undefined {
    return this.byGroup.get(group);
  }

  providerForType(type: string): AnyProvider | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }

  /** Every `apiVersion kind` pair known, for error messages that list the choices. */
  knownKinds(): string[] {
    const known: string[] = [];
    for (const provider of this.byGroup.values()) {
      for (const kind of provider.kinds) known.push(`${provider.group}/${provider.version} ${kind.kind}`);
    }
    return known.sort();
  }

  /** The handler for `apiVersion` + `kind`, if a provider serves it. */
  findKind(apiVersion: string, kind: string): AnyKindHandler | undefined {
    const slash = apiVersion.indexOf("/");
    const group = slash < 0 ? apiVersion : apiVersion.slice(0, slash);
    const version = slash < 0 ? "" : apiVersion.slice(slash + 1);
    const provider = this.byGroup.get(group);
    return provider !== undefined && provider.version === version ? provider.kinds.find((candidate) => candidate.kind === kind) : undefined;
  }

  /** The handler for `apiVersion` + `kind`, or a PLUMB_UNKNOWN_KIND error that lists the known ones. */
  kind(apiVersion: string, kind: string): AnyKindHandler {
    const handler = this.findKind(apiVersion, kind);
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

export function defaultRegistry(): ProviderRegistry {
  return new ProviderRegistry([fileProvider, postgresProvider]);
}
