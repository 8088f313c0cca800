// The observe stage: reads the live state of every resource the desired graph
// or the state store knows, in bulk where the kind can list, else one by one
// with bounded concurrency.

import { errorMessage, PlumbError } from "../../errors.js";
import { groupBy } from "../../sdk/group-by.js";
import { observeByKind } from "../../sdk/observe-by-kind.js";
import type { KindTarget, LiveObject } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";
import type { ProviderConnections } from "../connections.js";

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

/**
 * One error where many resources failed alike: a wrong password, an
 * unreachable server or a missing secret is said once for its provider
 * instance, with the resources it held back counted, not once per resource.
 */
function collapse(failures: readonly { address: string; error: unknown }[], instance: string, stack: string | undefined): PlumbError[] {
  const byMessage = new Map<string, { error: PlumbError; addresses: string[] }>();
  for (const { address, error } of failures) {
    const described = asResourceError(error, address);
    const entry = byMessage.get(described.message);
    if (entry === undefined) byMessage.set(described.message, { error: described, addresses: [address] });
    else entry.addresses.push(address);
  }
  return [...byMessage.values()].map(({ error, addresses }) => {
    if (addresses.length === 1) return error;
    const shown = addresses.slice(0, 3).join(", ");
    return new PlumbError(
      error.code,
      `${error.message} (provider instance "${instance}": ${addresses.length} resources not observed: ${shown}${addresses.length > 3 ? ", …" : ""})`,
      {
        location: { ...(stack === undefined ? {} : { stack }) },
        ...(error.hint === undefined ? {} : { hint: error.hint }),
        cause: error,
      },
    );
  });
}

export async function observe(targets: readonly ObserveTarget[], connections: ProviderConnections): Promise<Observation> {
  const byInstance = groupBy(targets, (target) => target.provider);
  const live = new Map<string, LiveObject | null>();
  const errors: PlumbError[] = [];
  for (const [instance, group] of byInstance) {
    const failures: { address: string; error: unknown }[] = [];
    const record = (address: string, object: LiveObject | Error | null) => {
      if (object instanceof Error) failures.push({ address, error: object });
      else live.set(address, object);
    };
    try {
      await observeInstance(instance, group, connections, record, failures);
    } finally {
      errors.push(...collapse(failures, instance, connections.stackName));
    }
  }
  return { live, errors };
}

async function observeInstance(
  instance: string,
  group: readonly ObserveTarget[],
  connections: ProviderConnections,
  record: (address: string, object: LiveObject | Error | null) => void,
  failures: { address: string; error: unknown }[],
): Promise<void> {
  let opened;
  try {
    opened = await connections.get(instance, (group[0] as ObserveTarget).address);
  } catch (error) {
    for (const target of group) failures.push({ address: target.address, error });
    return;
  }
  const kindTargets: KindTarget[] = [];
  for (const target of group) {
    try {
      kindTargets.push({
        handler: connections.handler(target.apiVersion, target.kind),
        target: { address: target.address, name: target.name, spec: target.spec, ...(target.desired === undefined ? {} : { desired: target.desired }) },
      });
    } catch (error) {
      failures.push({ address: target.address, error });
    }
  }
  const providerObserve = opened.provider.observe?.bind(opened.provider);
  try {
    const observed =
      providerObserve === undefined ? await observeByKind(opened.connection, kindTargets) : await providerObserve(opened.connection, kindTargets);
    for (const { target } of kindTargets) record(target.address, observed.get(target.address) ?? null);
  } catch (error) {
    for (const { target } of kindTargets) failures.push({ address: target.address, error });
  }
}

/** Attaches the resource address to an error that lacks one. */
export function asResourceError(error: unknown, address: string): PlumbError {
  if (error instanceof PlumbError) {
    if (error.location.resource !== undefined) return error;
    return new PlumbError(error.code, error.message, {
      location: { ...error.location, resource: address },
      ...(error.hint === undefined ? {} : { hint: error.hint }),
      cause: error,
    });
  }
  return new PlumbError("PLUMB_PROVIDER_OPERATION", errorMessage(error), { location: { resource: address }, cause: error });
}
