// An example provider plug-in: an in-house host inventory that keeps its
// records in one JSON file per provider instance. A plug-in is one file that
// imports only node: built-ins; the provider SDK is handed to its default
// export. See docs/providers.md.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ProviderSdk } from "../../../src/sdk/provider-sdk.js";

interface Host {
  address: string;
  owner: string;
  rack?: string;
  tags?: Record<string, string>;
}

interface Connection {
  file: string;
  /** Changes one at a time: the engine applies resources in parallel, and each rewrites the file. */
  changes: Promise<unknown>;
}

type Inventory = Record<string, Host>;

export default function hostsProvider(sdk: ProviderSdk) {
  const { Type, defineKind, defineProvider, PlumbError } = sdk;

  async function load(connection: Connection): Promise<Inventory> {
    try {
      return JSON.parse(await readFile(connection.file, "utf8")) as Inventory;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw new PlumbError("PLUMB_PROVIDER_OPERATION", `cannot read the inventory ${connection.file}: ${(error as Error).message}`, {
        hint: "check the file the instance's config names",
      });
    }
  }

  /** Reads, changes and writes the whole inventory, one change at a time; a reader never sees half a file. */
  function change(connection: Connection, edit: (inventory: Inventory) => void): Promise<void> {
    const next = connection.changes.then(async () => {
      const inventory = await load(connection);
      edit(inventory);
      await mkdir(path.dirname(connection.file), { recursive: true });
      await writeFile(`${connection.file}.next`, `${JSON.stringify(inventory, null, 2)}\n`);
      await rename(`${connection.file}.next`, connection.file);
    });
    connection.changes = next.catch(() => undefined);
    return next;
  }

  const live = (host: Host) => ({ spec: { ...host } });

  const hostKind = defineKind<Host, Connection>({
    kind: "Host",
    schema: Type.Object(
      {
        address: Type.String({ minLength: 1, description: "The host's IP address or DNS name." }),
        owner: Type.String({ minLength: 3, description: "Who answers for it." }),
        rack: Type.Optional(Type.String()),
        tags: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: false },
    ),
    // Plumb's compliance metadata is written into the record's tags.
    tagField: "tags",
    // The whole inventory is one read: drift detection costs one read per instance.
    async list(connection, targets) {
      const inventory = await load(connection);
      const found = new Map<string, { spec: Host }>();
      for (const target of targets) {
        const host = inventory[target.name];
        if (host !== undefined) found.set(target.address, live(host));
      }
      return found as never;
    },
    async read(connection, target) {
      const host = (await load(connection))[target.name];
      return host === undefined ? null : (live(host) as never);
    },
    async create(connection, target) {
      await change(connection, (inventory) => (inventory[target.name] = target.spec));
      return live(target.spec) as never;
    },
    async update(connection, target) {
      await change(connection, (inventory) => (inventory[target.name] = target.spec));
      return live(target.spec) as never;
    },
    async delete(connection, target) {
      await change(connection, (inventory) => delete inventory[target.name]);
    },
  });

  return defineProvider<{ file: string }, Connection>({
    type: "hosts",
    group: "hosts.example.org",
    version: "v1",
    configSchema: Type.Object({ file: Type.String({ minLength: 1, description: "The inventory's JSON file." }) }, { additionalProperties: false }),
    async connect(config) {
      return { file: path.resolve(config.file), changes: Promise.resolve() };
    },
    kinds: [hostKind],
  });
}
