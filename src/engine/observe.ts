// The observe stage: reads the live state of every resource the desired graph
// or the state store knows, in bulk where the kind can list, else one by one
// with bounded concurrency.

import { errorMessage, PlumbError } from "../errors.js";
import { groupBy } from "../sdk/group-by.js";
import { observeByKind } from "../sdk/observe-by-kind.js";
import type { KindTarget, LiveObject } from "../sdk/provider.js";
import type { JsonObject } from "../sdk/resource.js";
import type { ProviderConnections } from "./connections.js";

export interface ObserveTarget {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  provider: string;
  /** The spec that identifies the live object. */
  spec: JsonObject;
  /** The desired spec, for kinds that report live values in its spelling. */
  desired?: JsonObject;
}

export interface Observation {
  live: Map<string, LiveObject | null>;
  /** Resources that could not be read, with why. */
  errors: PlumbError[];
}

export async function observe(targets: readonly ObserveTarget[], connections: ProviderConnections): Promise<Observation> {
  const byInstance = groupBy(targets, (target) => target.provider);
  const live = new Map<string, LiveObject | null>();
  const errors: PlumbError[] = [];
  const record = (address: string, object: LiveObject | Error | null) => {
    if (object instanceof Error) errors.push(asResourceError(object, address));
    else live.set(address, object);
  };
  for (const [instance, group] of byInstance) {
    let opened;
    try {
      opened = await connections.get(instance, (group[0] as ObserveTarget).address);
    } catch (error) {
      for (const target of group) errors.push(asResourceError(error, target.address));
      continue;
    }
    const kindTargets: KindTarget[] = [];
    for (const target of group) {
      try {
        kindTargets.push({ handler: connections.handler(target.apiVersion, target.kind), target: { address: target.address, name: target.name, spec: target.spec, ...(target.desired === undefined ? {} : { desired: target.desired }) } });
      } catch (error) {
        errors.push(asResourceError(error, target.address));
      }
    }
    const providerObserve = opened.provider.observe?.bind(opened.provider);
    try {
      const observed = providerObserve === undefined ? await observeByKind(opened.connection, kindTargets) : await providerObserve(opened.connection, kindTargets);
      for (const { target } of kindTargets) record(target.address, observed.get(target.address) ?? null);
    } catch (error) {
      for (const { target } of kindTargets) errors.push(asResourceError(error, target.address));
    }
  }
  return { live, errors };
}

/** Attaches the resource address to an error that lacks one. */
export function asResourceError(error: unknown, address: string): PlumbError {
  if (error instanceof PlumbError) {
    if (error.location.resource !== undefined) return error;
    return new PlumbError(error.code, error.message, { location: { ...error.location, resource: address }, ...(error.hint === undefined ? {} : { hint: error.hint }), cause: error });
  }
  return new PlumbError("PLUMB_PROVIDER_OPERATION", errorMessage(error), { location: { resource: address }, cause: error });
}
