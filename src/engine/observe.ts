// The observe stage: reads the live state of every resource the desired graph
// or the state store knows, in bulk where the kind can list, else one by one
// with bounded concurrency.

import { errorMessage, PlumbError } from "../errors.js";
import type { LiveObject, Target } from "../sdk/provider.js";
import type { JsonObject } from "../sdk/resource.js";
import { mapWithConcurrency } from "./concurrency.js";
import type { ProviderConnections } from "./connections.js";

export interface ObserveTarget {
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  provider: string;
  /** The spec that identifies the live object. */
  spec: JsonObject;
}

export interface Observation {
  live: Map<string, LiveObject | null>;
  /** Resources that could not be read, with why. */
  errors: PlumbError[];
}

const readConcurrency = 32;

export async function observe(targets: readonly ObserveTarget[], connections: ProviderConnections): Promise<Observation> {
  const groups = new Map<string, ObserveTarget[]>();
  for (const target of targets) {
    const key = `${target.provider}\u0000${target.apiVersion}\u0000${target.kind}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [target]);
    else group.push(target);
  }
  const live = new Map<string, LiveObject | null>();
  const errors: PlumbError[] = [];
  for (const group of groups.values()) {
    const first = group[0] as ObserveTarget;
    let handler;
    let connection;
    try {
      handler = connections.handler(first.apiVersion, first.kind);
      connection = (await connections.get(first.provider, first.address)).connection;
    } catch (error) {
      for (const target of group) errors.push(asResourceError(error, target.address));
      continue;
    }
    const handlerTargets: Target[] = group.map((target) => ({ address: target.address, name: target.name, spec: target.spec }));
    if (handler.list !== undefined) {
      try {
        const listed = await handler.list(connection, handlerTargets);
        for (const target of group) {
          const object = listed.get(target.address) ?? null;
          if (object instanceof Error) errors.push(asResourceError(object, target.address));
          else live.set(target.address, object);
        }
      } catch (error) {
        for (const target of group) errors.push(asResourceError(error, target.address));
      }
      continue;
    }
    const read = handler.read.bind(handler);
    await mapWithConcurrency(handlerTargets, readConcurrency, async (target) => {
      try {
        live.set(target.address, await read(connection, target));
      } catch (error) {
        errors.push(asResourceError(error, target.address));
      }
    });
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
