// Kinds `Exchange`, `Queue`, `Binding` and `Policy`: a vhost's messaging
// topology, each kind read for every vhost with one call. Exchanges and
// queues cannot change once declared, so any change replaces them; a queue
// holds messages, so it is kept when it leaves the stack unless its deletion
// policy says Delete.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { JsonObject, JsonValue } from "../../sdk/resource.js";
import { argumentsSchema, asDesired, checkName, readBack, readOne, rows, sameJson, vhostField } from "./common.js";
import { apiPath, type RabbitmqConnection } from "./connection.js";

const nameField = Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Default metadata.name." }));

export const exchangeSpec = Type.Object(
  {
    name: nameField,
    vhost: vhostField,
    type: Type.String({ minLength: 1, maxLength: 64, description: "direct, fanout, topic, headers, or a plugin's type." }),
    durable: Type.Optional(Type.Boolean({ description: "Default true." })),
    autoDelete: Type.Optional(Type.Boolean({ description: "Default false." })),
    internal: Type.Optional(Type.Boolean({ description: "Default false." })),
    arguments: argumentsSchema,
  },
  { additionalProperties: false },
);
export type ExchangeSpec = Static<typeof exchangeSpec>;

export const queueSpec = Type.Object(
  {
    name: nameField,
    vhost: vhostField,
    type: Type.Optional(Type.Union([Type.Literal("classic"), Type.Literal("quorum"), Type.Literal("stream")], { description: "Default classic." })),
    durable: Type.Optional(Type.Boolean({ description: "Default true." })),
    autoDelete: Type.Optional(Type.Boolean({ description: "Default false." })),
    arguments: argumentsSchema,
  },
  { additionalProperties: false },
);
export type QueueSpec = Static<typeof queueSpec>;

export const bindingSpec = Type.Object(
  {
    vhost: vhostField,
    source: Type.String({ maxLength: 255, description: "The exchange messages come from." }),
    destination: Type.String({ minLength: 1, maxLength: 255 }),
    destinationType: Type.Optional(Type.Union([Type.Literal("queue"), Type.Literal("exchange")], { description: "Default queue." })),
    routingKey: Type.Optional(Type.String({ maxLength: 255, description: "Default empty." })),
    arguments: argumentsSchema,
  },
  { additionalProperties: false },
);
export type BindingSpec = Static<typeof bindingSpec>;

export const policySpec = Type.Object(
  {
    name: nameField,
    vhost: vhostField,
    pattern: Type.String({ maxLength: 1024, description: "A regular expression over queue or exchange names." }),
    applyTo: Type.Optional(
      Type.Union(
        [
          Type.Literal("all"),
          Type.Literal("queues"),
          Type.Literal("exchanges"),
          Type.Literal("classic_queues"),
          Type.Literal("quorum_queues"),
          Type.Literal("streams"),
        ],
        {
          description: "Default all.",
        },
      ),
    ),
    priority: Type.Optional(Type.Integer({ description: "Default 0; the highest matching policy applies." })),
    definition: Type.Record(Type.String({ minLength: 1 }), Type.Unknown(), { description: "e.g. { max-length: 10000, dead-letter-exchange: dlx }." }),
  },
  { additionalProperties: false },
);
export type PolicySpec = Static<typeof policySpec>;

const named = <Spec extends { name?: string }>(target: Target<Spec>): string => target.spec.name ?? target.name;
const key = (...parts: string[]) => JSON.stringify(parts);

async function readExchanges(connection: RabbitmqConnection, targets: readonly Target<ExchangeSpec>[]): Promise<Map<string, LiveObject>> {
  const all = rows(await connection.request("GET", "/exchanges?columns=name,vhost,type,durable,auto_delete,internal,arguments"));
  const byKey = new Map(all.map((row) => [key(String(row.vhost), String(row.name)), row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byKey.get(key(target.spec.vhost, named(target)));
    if (row === undefined) continue;
    const desired = target.desired ?? target.spec;
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: String(row.name) }),
        vhost: String(row.vhost),
        type: String(row.type),
        durable: row.durable === true,
        autoDelete: row.auto_delete === true,
        internal: row.internal === true,
        arguments: asDesired(desired.arguments as JsonValue | undefined, (row.arguments ?? {}) as JsonValue),
      },
      outputs: { name: String(row.name) },
    });
  }
  return live;
}

async function readQueues(connection: RabbitmqConnection, targets: readonly Target<QueueSpec>[]): Promise<Map<string, LiveObject>> {
  const all = rows(
    await connection.request("GET", "/queues?columns=name,vhost,type,durable,auto_delete,arguments&disable_stats=true&enable_queue_totals=true"),
  );
  const byKey = new Map(all.map((row) => [key(String(row.vhost), String(row.name)), row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byKey.get(key(target.spec.vhost, named(target)));
    if (row === undefined) continue;
    const desired = target.desired ?? target.spec;
    // The type is declared as the x-queue-type argument; it is reported as `type`, not among the arguments.
    const { "x-queue-type": _declaredType, ...argumentsLeft } = (row.arguments ?? {}) as JsonObject;
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: String(row.name) }),
        vhost: String(row.vhost),
        type: String(row.type ?? "classic"),
        durable: row.durable === true,
        autoDelete: row.auto_delete === true,
        arguments: asDesired(desired.arguments as JsonValue | undefined, argumentsLeft),
      },
      outputs: { name: String(row.name) },
    });
  }
  return live;
}

interface BindingRow {
  row: JsonObject;
  propertiesKey: string;
}

async function findBindings(connection: RabbitmqConnection, targets: readonly Target<BindingSpec>[]): Promise<Map<string, BindingRow>> {
  const all = rows(await connection.request("GET", "/bindings"));
  const found = new Map<string, BindingRow>();
  for (const target of targets) {
    const spec = target.spec;
    const row = all.find(
      (candidate) =>
        candidate.vhost === spec.vhost &&
        candidate.source === spec.source &&
        candidate.destination === spec.destination &&
        candidate.destination_type === (spec.destinationType ?? "queue") &&
        candidate.routing_key === (spec.routingKey ?? "") &&
        sameJson(candidate.arguments ?? {}, spec.arguments ?? {}),
    );
    if (row !== undefined) found.set(target.address, { row, propertiesKey: String(row.properties_key ?? "") });
  }
  return found;
}

async function readBindings(connection: RabbitmqConnection, targets: readonly Target<BindingSpec>[]): Promise<Map<string, LiveObject>> {
  const found = await findBindings(connection, targets);
  const live = new Map<string, LiveObject>();
  for (const target of targets) if (found.has(target.address)) live.set(target.address, { spec: { ...(target.spec as JsonObject) } });
  return live;
}

const bindingPath = (spec: BindingSpec) =>
  spec.destinationType === "exchange"
    ? apiPath`/bindings/${spec.vhost}/e/${spec.source}/e/${spec.destination}`
    : apiPath`/bindings/${spec.vhost}/e/${spec.source}/q/${spec.destination}`;

async function readPolicies(connection: RabbitmqConnection, targets: readonly Target<PolicySpec>[]): Promise<Map<string, LiveObject>> {
  const byKey = new Map(rows(await connection.request("GET", "/policies")).map((row) => [key(String(row.vhost), String(row.name)), row]));
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byKey.get(key(target.spec.vhost, named(target)));
    if (row === undefined) continue;
    const desired = target.desired ?? target.spec;
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: String(row.name) }),
        vhost: String(row.vhost),
        pattern: String(row.pattern),
        applyTo: String(row["apply-to"]),
        priority: Number(row.priority ?? 0),
        definition: asDesired(desired.definition as JsonValue, (row.definition ?? {}) as JsonValue),
      },
      outputs: { name: String(row.name) },
    });
  }
  return live;
}

async function putPolicy(connection: RabbitmqConnection, target: Target<PolicySpec>): Promise<LiveObject> {
  const spec = target.spec;
  await connection.request("PUT", apiPath`/policies/${spec.vhost}/${named(target)}`, {
    pattern: spec.pattern,
    definition: spec.definition as JsonObject,
    priority: spec.priority ?? 0,
    "apply-to": spec.applyTo ?? "all",
  });
  return readBack(readPolicies, connection, target, `policy "${named(target)}" on vhost "${spec.vhost}"`);
}

export const exchangeKind = defineKind<ExchangeSpec, RabbitmqConnection>({
  kind: "Exchange",
  schema: exchangeSpec,
  replaceOn: ["name", "vhost", "type", "durable", "autoDelete", "internal", "arguments"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ durable: true, autoDelete: false, internal: false, arguments: {} }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", "exchange"),
  places: (spec) => ({ vhost: [spec.vhost] }),
  provides: (spec, name) => [`exchange:${spec.vhost}/${spec.name ?? name}`],
  requires: (spec) => [`vhost:${spec.vhost}`],
  list: readExchanges,
  read: readOne(readExchanges),
  async create(connection, target) {
    const spec = target.spec;
    await connection.request("PUT", apiPath`/exchanges/${spec.vhost}/${named(target)}`, {
      type: spec.type,
      durable: spec.durable ?? true,
      auto_delete: spec.autoDelete ?? false,
      internal: spec.internal ?? false,
      arguments: (spec.arguments ?? {}) as JsonObject,
    });
    return readBack(readExchanges, connection, target, `exchange "${named(target)}"`);
  },
  async update(connection, target) {
    return readBack(readExchanges, connection, target, `exchange "${named(target)}"`);
  },
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/exchanges/${target.spec.vhost}/${named(target)}`, undefined, { missingOk: true });
  },
});

export const queueKind = defineKind<QueueSpec, RabbitmqConnection>({
  kind: "Queue",
  schema: queueSpec,
  dataHolding: true,
  replaceOn: ["name", "vhost", "type", "durable", "autoDelete", "arguments"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ type: "classic", durable: true, autoDelete: false, arguments: {} }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", "queue"),
  places: (spec) => ({ vhost: [spec.vhost] }),
  provides: (spec, name) => [`queue:${spec.vhost}/${spec.name ?? name}`],
  requires: (spec) => [`vhost:${spec.vhost}`],
  list: readQueues,
  read: readOne(readQueues),
  async create(connection, target) {
    const spec = target.spec;
    await connection.request("PUT", apiPath`/queues/${spec.vhost}/${named(target)}`, {
      durable: spec.durable ?? true,
      auto_delete: spec.autoDelete ?? false,
      arguments: { ...((spec.arguments ?? {}) as JsonObject), "x-queue-type": spec.type ?? "classic" },
    });
    return readBack(readQueues, connection, target, `queue "${named(target)}"`);
  },
  async update(connection, target) {
    return readBack(readQueues, connection, target, `queue "${named(target)}"`);
  },
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/queues/${target.spec.vhost}/${named(target)}`, undefined, { missingOk: true });
  },
});

export const bindingKind = defineKind<BindingSpec, RabbitmqConnection>({
  kind: "Binding",
  schema: bindingSpec,
  ownsObjects: false,
  replaceOn: ["vhost", "source", "destination", "destinationType", "routingKey", "arguments"],
  defaults: () => ({ destinationType: "queue", routingKey: "", arguments: {} }),
  places: (spec) => ({ vhost: [spec.vhost] }),
  requires: (spec) => [
    `vhost:${spec.vhost}`,
    ...(spec.source === "" || spec.source.startsWith("amq.") ? [] : [`exchange:${spec.vhost}/${spec.source}`]),
    `${spec.destinationType === "exchange" ? "exchange" : "queue"}:${spec.vhost}/${spec.destination}`,
  ],
  list: readBindings,
  read: readOne(readBindings),
  async create(connection, target) {
    const spec = target.spec;
    await connection.request("POST", bindingPath(spec), { routing_key: spec.routingKey ?? "", arguments: (spec.arguments ?? {}) as JsonObject });
    return readBack(readBindings, connection, target, `binding from "${spec.source}" to "${spec.destination}"`);
  },
  async update(connection, target) {
    return readBack(readBindings, connection, target, `binding from "${target.spec.source}" to "${target.spec.destination}"`);
  },
  async delete(connection, target) {
    const found = (await findBindings(connection, [target])).get(target.address);
    if (found === undefined) return;
    await connection.request("DELETE", `${bindingPath(target.spec)}/${encodeURIComponent(found.propertiesKey)}`, undefined, { missingOk: true });
  },
});

export const policyKind = defineKind<PolicySpec, RabbitmqConnection>({
  kind: "Policy",
  schema: policySpec,
  replaceOn: ["name", "vhost"],
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ applyTo: "all", priority: 0 }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", "policy"),
  places: (spec) => ({ vhost: [spec.vhost] }),
  requires: (spec) => [`vhost:${spec.vhost}`],
  list: readPolicies,
  read: readOne(readPolicies),
  create: putPolicy,
  update: (connection, target) => putPolicy(connection, target),
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/policies/${target.spec.vhost}/${named(target)}`, undefined, { missingOk: true });
  },
});
