// The provider contract: what a module must declare and implement to
// let Plumb manage one kind of live system. Provider authors import this file.

import type { TSchema } from "@sinclair/typebox";
import type { SecretResolver } from "./secret-reference.js";
import type { JsonObject } from "./resource.js";

/** What Plumb observed of one object in a live system. */
export interface LiveObject {
  /** The object's current settings, in the shape of the kind's spec. */
  spec: JsonObject;
  /** Values the system assigned (ids, generated names) that others may reference. */
  outputs?: JsonObject;
  /** The stack the object's own metadata names as its owner, where the system keeps one (a Kubernetes label): it is that stack's without asking. */
  ownedBy?: string;
  /** Where the system says who wrote what (Kubernetes managedFields): each writer's fields now, as JSON pointers into `spec`. */
  fieldManagers?: Record<string, string[]>;
}

export type HealthStatus = "Healthy" | "Progressing" | "Degraded" | "Unknown";

export interface Health {
  status: HealthStatus;
  message?: string;
}

/** One object the engine asks a kind about. */
export interface Target<Spec = JsonObject> {
  address: string;
  name: string;
  /** Identifies the live object: the spec last applied, or the desired one for a new resource. */
  spec: Spec;
  /**
   * The spec the stack wants now, when observing for a plan. A kind may report a
   * live value in this spelling when it means the same (an instant, an encoding
   * name, a list's order); never use it to find the object.
   */
  desired?: Spec;
  /**
   * Set when applying: the change only reverts drift, every field it sets was
   * applied by Plumb before and changed outside it. A system that tracks who
   * owns a field (Kubernetes' field managers) may take those fields back.
   */
  corrective?: boolean;
  /**
   * Set when applying a change that takes over an object made outside Plumb,
   * which the resource asked to adopt: the fields it declares become Plumb's,
   * even where another field owner holds them.
   */
  adopting?: boolean;
}

/** A problem a kind finds in a spec that its JSON Schema cannot express. */
export interface SpecProblem {
  /** JSON pointer inside `spec`, e.g. `/path`. */
  path: string;
  message: string;
  hint?: string;
}

export interface KindHandler<Spec = JsonObject, Connection = unknown> {
  kind: string;
  /** JSON Schema of `spec`, authored with TypeBox. */
  schema: TSchema;
  /**
   * Deleting or replacing this kind destroys data (a database): it is only
   * done with `plumb.dev/deletion-policy: Delete` on the resource.
   */
  dataHolding?: boolean;
  /**
   * False for kinds whose resources are relationships rather than objects (a
   * grant, default privileges): one already in place was not made by anyone
   * else in a way worth protecting, so it needs no opt-in to be managed.
   */
  ownsObjects?: boolean;
  /** Top-level spec fields whose change cannot be applied in place. */
  replaceOn?: readonly string[];
  /**
   * The spec field through which this kind carries Plumb's metadata tags in the
   * live system, or undefined if it cannot carry them.
   */
  tagField?: string;
  /**
   * The outputs known from the spec alone, before the object exists (its name,
   * say), so resources referring to them can be planned in the same run.
   */
  outputs?(spec: Spec, name: string): JsonObject;
  /**
   * What the live system assumes for fields a spec leaves out (a user is on,
   * allowed no commands): filled into the desired spec at render time, so
   * those fields are compared, and a change made by hand to one is drift.
   */
  defaults?(name: string): Partial<Spec>;
  /** Checks the schema cannot express; run at render time, before any I/O. `name` is metadata.name. */
  validate?(spec: Spec, name: string): SpecProblem[];
  /**
   * Where in the live system the resource reaches, for a project's fences:
   * `{ database: ["orders"] }`, `{ namespace: ["team-a"] }`, `{ role: ["app", "pg_monitor"] }`
   * (a role it creates or joins). An empty list means it reaches outside every
   * such place (a cluster-scoped object: `{ namespace: [] }`).
   */
  places?(spec: Spec, name: string): Record<string, string[]>;
  /**
   * Implicit ordering between resources of one provider instance: a resource
   * that requires a key waits for the resource that provides it.
   */
  provides?(spec: Spec, name: string): string[];
  requires?(spec: Spec, name: string): string[];
  /**
   * Reads many objects at once (a catalog query, a LIST call), keyed by
   * address: absent when the object does not exist, an Error when that one
   * object could not be read. A rejected promise fails every target.
   */
  list?(connection: Connection, targets: readonly Target<Spec>[]): Promise<Map<string, LiveObject | Error>>;
  /** Reads one object; null when it does not exist. */
  read(connection: Connection, target: Target<Spec>): Promise<LiveObject | null>;
  create(connection: Connection, target: Target<Spec>): Promise<LiveObject>;
  update(connection: Connection, target: Target<Spec>, live: LiveObject): Promise<LiveObject>;
  /** Removes the object; succeeds when it is already gone. */
  delete(connection: Connection, target: Target<Spec>): Promise<void>;
  health?(live: LiveObject): Health;
}

export interface ConnectContext {
  stack: string;
  instance: string;
  /** Resolves `{ secretRef }` values in the config or in specs, at apply time only. */
  secrets: SecretResolver;
}

export interface ProviderDefinition<Config = JsonObject, Connection = unknown> {
  /** The name used in a Stack's `providers.<instance>.type`. */
  type: string;
  /** The API group its kinds live in, e.g. `file.plumb.dev`. */
  group: string;
  version: string;
  configSchema: TSchema;
  connect(config: Config, context: ConnectContext): Promise<Connection>;
  close?(connection: Connection): Promise<void>;
  /** Lets go of what the provider keeps between runs (warm connections) when the agent stops. */
  shutdown?(): Promise<void>;
  kinds: readonly KindHandler<never, Connection>[];
  /**
   * Serves every apiVersion outside Plumb's own groups (`*.plumb.dev`) with
   * its first kind handler: a resource's spec is then its whole manifest (a
   * Kubernetes cluster). At most one registered provider may say so.
   */
  foreignObjects?: boolean;
  /**
   * Observes targets of several kinds at once, when the system is cheaper to
   * read by location than by kind (one connection per database for all kinds
   * in it). Same result contract as KindHandler.list; kinds' `list`/`read`
   * are used when absent.
   */
  observe?(connection: Connection, targets: readonly KindTarget[]): Promise<Map<string, LiveObject | Error>>;
  /** Drift prevention: the live system asks Plumb before anyone changes what a stack manages there. */
  admission?: AdmissionGuard<Connection>;
}

/**
 * A provider's part in drift prevention (`sync.preventDrift`): the object that
 * sends the live system's change requests to the agent, who Plumb acts as (its
 * own changes always pass), and the answer to one request.
 */
export interface AdmissionGuard<Connection = unknown> {
  /** The object, as a resource spec of this provider, that sends change requests for the stack's objects to `url`. */
  manifest(options: { stack: string; instance: string; url: string; caBundle: string }): JsonObject;
  identity(connection: Connection): Promise<string>;
  /** The live system's request in, its answer out; throws a PlumbError when the request is malformed. */
  review(request: unknown, context: AdmissionContext): Promise<JsonObject>;
}

export interface AdmissionContext {
  stack: string;
  /** The spec Plumb applied last for a resource of this provider, by apiVersion, kind and resource name. */
  desired(apiVersion: string, kind: string, name: string): JsonObject | undefined;
  /** Who Plumb acts as on this instance; asked only when a request touches a managed object. */
  identity(): Promise<string>;
  /** Where to change the stack instead: its source and the revision applied last. */
  source: string;
  revision: string | null;
}

/** A target together with the kind that handles it. */
export interface KindTarget {
  handler: AnyKindHandler;
  target: Target;
}

/**
 * The erased form the registry and engine hold. Providers are written against
 * their own Spec/Config types; the engine only ever passes values that were
 * validated against the matching schema first, which is what makes the erasure safe.
 */
export type AnyKindHandler = KindHandler<JsonObject, unknown>;
export interface AnyProvider extends Omit<ProviderDefinition<JsonObject, unknown>, "kinds" | "observe" | "admission"> {
  kinds: readonly AnyKindHandler[];
  admission?: AdmissionGuard;
  observe?(connection: unknown, targets: readonly KindTarget[]): Promise<Map<string, LiveObject | Error>>;
}

export function defineKind<Spec, Connection>(handler: KindHandler<Spec, Connection>): KindHandler<never, Connection> {
  return handler as unknown as KindHandler<never, Connection>;
}

export function defineProvider<Config, Connection>(provider: ProviderDefinition<Config, Connection>): AnyProvider {
  return provider as unknown as AnyProvider;
}
