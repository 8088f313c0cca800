// Kind `VHost`: a RabbitMQ virtual host with its description, default queue
// type and tags (Plumb's compliance metadata as key=value tags), read with one
// call for every vhost.

import { Type, type Static } from "@sinclair/typebox";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { checkName, readBack, readOne, rows } from "./common.js";
import { apiPath, type RabbitmqConnection } from "./connection.js";

export const vhostSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: "Default metadata.name." })),
    description: Type.Optional(Type.String({ maxLength: 1024 })),
    defaultQueueType: Type.Optional(Type.Union([Type.Literal("classic"), Type.Literal("quorum"), Type.Literal("stream")])),
    tags: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 1024 }), { description: "Kept as key=value vhost tags." }),
    ),
  },
  { additionalProperties: false },
);
export type VhostSpec = Static<typeof vhostSpec>;

export const vhostName = (target: Target<VhostSpec>): string => target.spec.name ?? target.name;

/** key=value with `%` and `,` percent-encoded: the API takes tags as one comma-separated text. */
const encodeTag = (text: string) => text.replace(/[%,=]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);

export function tagsToList(tags: Record<string, string>): string[] {
  return Object.entries(tags).map(([key, value]) => `${encodeTag(key)}=${encodeTag(value)}`);
}

const decodeTag = (text: string) => text.replace(/%(25|2C|3D)/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));

export function tagsFromList(list: readonly string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of list) {
    const equals = item.indexOf("=");
    if (equals < 0) continue;
    tags[decodeTag(item.slice(0, equals))] = decodeTag(item.slice(equals + 1));
  }
  return tags;
}

async function readVhosts(connection: RabbitmqConnection, targets: readonly Target<VhostSpec>[]): Promise<Map<string, LiveObject>> {
  const byName = new Map(
    rows(await connection.request("GET", "/vhosts?columns=name,description,tags,default_queue_type")).map((row) => [String(row.name), row]),
  );
  const live = new Map<string, LiveObject>();
  for (const target of targets) {
    const row = byName.get(vhostName(target));
    if (row === undefined) continue;
    const tags = Array.isArray(row.tags) ? tagsFromList(row.tags.map(String)) : {};
    const queueType = typeof row.default_queue_type === "string" && row.default_queue_type !== "undefined" ? row.default_queue_type : undefined;
    live.set(target.address, {
      spec: {
        ...(target.spec.name === undefined ? {} : { name: String(row.name) }),
        description: typeof row.description === "string" ? row.description : "",
        ...(queueType === undefined ? {} : { defaultQueueType: queueType }),
        tags,
      },
      outputs: { name: String(row.name) },
    });
  }
  return live;
}

async function putVhost(connection: RabbitmqConnection, target: Target<VhostSpec>): Promise<LiveObject> {
  const spec = target.spec;
  await connection.request("PUT", apiPath`/vhosts/${vhostName(target)}`, {
    description: spec.description ?? "",
    tags: tagsToList(spec.tags ?? {}).join(","),
    ...(spec.defaultQueueType === undefined ? {} : { default_queue_type: spec.defaultQueueType }),
  });
  return readBack(readVhosts, connection, target, `vhost "${vhostName(target)}"`);
}

export const vhostKind = defineKind<VhostSpec, RabbitmqConnection>({
  kind: "VHost",
  schema: vhostSpec,
  // A vhost holds its queues and their messages.
  dataHolding: true,
  replaceOn: ["name", "defaultQueueType"],
  tagField: "tags",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ description: "", tags: {} }),
  validate: (spec, name) => checkName(spec.name ?? name, "/name", "vhost"),
  places: (spec, name) => ({ vhost: [spec.name ?? name] }),
  provides: (spec, name) => [`vhost:${spec.name ?? name}`],
  list: readVhosts,
  read: readOne(readVhosts),
  create: putVhost,
  update: (connection, target) => putVhost(connection, target),
  async delete(connection, target) {
    await connection.request("DELETE", apiPath`/vhosts/${vhostName(target)}`, undefined, { missingOk: true });
  },
});
