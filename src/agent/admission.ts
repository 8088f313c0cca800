// The agent's side of drift prevention: a live system's admission request for
// one stack and provider instance, answered from the render the stack applied
// last and from who Plumb acts as there (asked once, kept ten minutes). The
// provider reads its own request format; this only supplies the facts.

import { ProviderConnections } from "../engine/connections.js";
import { errorMessage, PlumbError } from "../errors.js";
import type { JsonObject } from "../sdk/resource.js";
import type { RenderedStack } from "../stack-model.js";
import { appliedRender, sourceLabel, type StackContext } from "./stack-context.js";

const identityLifetimeMs = 10 * 60_000;

export class AdmissionReviews {
  private readonly identities = new Map<string, { value: Promise<string>; expires: number }>();
  private readonly indexes = new WeakMap<RenderedStack, Map<string, JsonObject>>();

  constructor(private readonly context: StackContext) {}

  async review(stack: string, instance: string, body: unknown): Promise<JsonObject> {
    const guard = this.context.registry.foreign?.admission;
    if (guard === undefined) throw new PlumbError("PLUMB_NOT_FOUND", "no provider here answers admission requests");
    const managed = this.context.stacks.get(stack);
    const rendered = managed === undefined ? undefined : await appliedRender(this.context, stack, managed);
    const index = rendered === undefined ? new Map<string, JsonObject>() : this.index(rendered);
    const status = await this.context.book.status(stack);
    return guard.review(body, {
      stack,
      source: managed?.origin === undefined ? "its source" : sourceLabel(managed.origin),
      revision: status.lastAppliedRevision,
      desired: (apiVersion, kind, name) => index.get(`${instance} ${apiVersion} ${kind} ${name}`),
      identity: () => {
        if (rendered === undefined) throw new PlumbError("PLUMB_NOT_FOUND", `stack ${stack} has applied nothing`);
        return this.identity(rendered, instance);
      },
    });
  }

  /** The applied specs of a render, by provider instance, apiVersion, kind and name. */
  private index(rendered: RenderedStack): Map<string, JsonObject> {
    let index = this.indexes.get(rendered);
    if (index === undefined) {
      index = new Map(rendered.resources.map((resource) => [`${resource.provider} ${resource.apiVersion} ${resource.kind} ${resource.name}`, resource.spec]));
      this.indexes.set(rendered, index);
    }
    return index;
  }

  private identity(rendered: RenderedStack, instance: string): Promise<string> {
    const definition = rendered.definition;
    const key = JSON.stringify([definition.name, instance, definition.providers[instance] ?? null]);
    const cached = this.identities.get(key);
    if (cached !== undefined && cached.expires > Date.now()) return cached.value;
    const value = (async () => {
      const connections = new ProviderConnections(this.context.registry, definition, this.context.platform.secrets);
      try {
        const { provider, connection } = await connections.get(instance);
        if (provider.admission === undefined) throw new PlumbError("PLUMB_PROVIDER_INSTANCE", `provider instance ${instance} has no drift prevention`);
        return await provider.admission.identity(connection);
      } finally {
        await connections.closeAll();
      }
    })();
    // A failure is not kept: the next request asks again.
    value.catch((error: unknown) => {
      this.identities.delete(key);
      this.context.logger.warn({ stack: definition.name, instance, err: errorMessage(error) }, "drift prevention cannot tell which user Plumb acts as");
    });
    this.identities.set(key, { value, expires: Date.now() + identityLifetimeMs });
    return value;
  }
}
