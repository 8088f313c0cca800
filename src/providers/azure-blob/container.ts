// Kind `Container`: a Blob storage container with its metadata (where Plumb's
// compliance metadata goes), public access level and stored access policies.
// One paged container listing reads metadata and public access for a whole
// stack; stored access policies are read a container at a time, only where a
// spec declares them. A container holds blobs: retained by default.

import { Type, type Static } from "@sinclair/typebox";
import type { PublicAccessType, SignedIdentifier } from "@azure/storage-blob";
import { mapWithConcurrency } from "../../sdk/concurrency.js";
import { defineKind, type LiveObject, type SpecProblem, type Target } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";
import type { AzureBlobConnection } from "./connection.js";

const isoInstant = "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$";

export const accessPolicySchema = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 64 }),
    permissions: Type.String({
      pattern: "^[racwdxltmeop]+$",
      description: "Letters of the permissions, in any order: r read, a add, c create, w write, d delete, l list, …",
    }),
    start: Type.Optional(Type.String({ pattern: isoInstant, description: "An instant, e.g. 2027-01-01T00:00:00Z." })),
    expiry: Type.Optional(Type.String({ pattern: isoInstant, description: "An instant, e.g. 2027-06-30T00:00:00Z." })),
  },
  { additionalProperties: false },
);

export const containerSpec = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 3, maxLength: 63, description: "Default metadata.name." })),
    publicAccess: Type.Optional(Type.Union([Type.Literal("none"), Type.Literal("blob"), Type.Literal("container")], { description: "Default none." })),
    metadata: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.String({ maxLength: 4096 }), {
        description: "Name/value pairs; compliance tags are added here.",
      }),
    ),
    accessPolicies: Type.Optional(Type.Array(accessPolicySchema, { maxItems: 5, description: "Stored access policies, for SAS tokens that can be revoked." })),
  },
  { additionalProperties: false },
);
export type ContainerSpec = Static<typeof containerSpec>;
type AccessPolicy = Static<typeof accessPolicySchema>;

export const containerName = (target: Target<ContainerSpec>): string => target.spec.name ?? target.name;

/**
 * Metadata names must be C# identifiers and are stored in lower case, so a
 * key such as `managed-by` or `atoDate` is written with every other character
 * as `_xHH_` (and `_` itself as `_x5f_`), and read back the same way.
 */
export function encodeMetadataKey(key: string): string {
  const encoded = [...key].map((character) => (/[a-z0-9]/.test(character) ? character : `_x${character.codePointAt(0)?.toString(16)}_`)).join("");
  return /^[0-9]/.test(encoded) ? `_x${encoded.charCodeAt(0).toString(16)}_${encoded.slice(1)}` : encoded;
}

export function decodeMetadataKey(key: string): string {
  return key.replace(/_x([0-9a-f]+)_/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)));
}

const metadataOut = (metadata: Record<string, string>) => Object.fromEntries(Object.entries(metadata).map(([key, value]) => [encodeMetadataKey(key), value]));
const metadataIn = (metadata: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [decodeMetadataKey(key), value]));

/** An instant in one spelling, so 2027-01-01T00:00:00Z and 2027-01-01T00:00:00.000Z compare equal. */
const instant = (text: string | undefined) => (text === undefined ? undefined : new Date(text).toISOString());

function livePolicies(identifiers: readonly SignedIdentifier[], desired: readonly AccessPolicy[] | undefined): AccessPolicy[] {
  const live = identifiers.map((identifier) => {
    const policy: AccessPolicy = { id: identifier.id, permissions: identifier.accessPolicy.permissions ?? "" };
    if (identifier.accessPolicy.startsOn !== undefined) policy.start = identifier.accessPolicy.startsOn.toISOString();
    if (identifier.accessPolicy.expiresOn !== undefined) policy.expiry = identifier.accessPolicy.expiresOn.toISOString();
    return policy;
  });
  // Permissions are a set of letters and instants have many spellings: the spec's own spelling stands when it says the same.
  return live.map((policy) => {
    const wanted = desired?.find((candidate) => candidate.id === policy.id);
    const same =
      wanted !== undefined &&
      [...wanted.permissions].sort().join("") === [...policy.permissions].sort().join("") &&
      instant(wanted.start) === policy.start &&
      instant(wanted.expiry) === policy.expiry;
    return same ? wanted : policy;
  });
}

async function readContainers(connection: AzureBlobConnection, targets: readonly Target<ContainerSpec>[]): Promise<Map<string, LiveObject>> {
  const found = new Map<string, { publicAccess: string; metadata: Record<string, string> }>();
  await connection.call("list containers", async (service) => {
    for await (const item of service.listContainers({ includeMetadata: true }))
      found.set(item.name, { publicAccess: item.properties.publicAccess ?? "none", metadata: metadataIn(item.metadata) });
  });
  const live = new Map<string, LiveObject>();
  await mapWithConcurrency(
    targets.filter((target) => found.has(containerName(target))),
    connection.settings.maxConcurrency,
    async (target) => {
      const name = containerName(target);
      const row = found.get(name) as { publicAccess: string; metadata: Record<string, string> };
      const desired = target.desired ?? target.spec;
      const spec: JsonObject = {
        ...(target.spec.name === undefined ? {} : { name }),
        publicAccess: row.publicAccess,
        metadata: row.metadata,
      };
      if (desired.accessPolicies !== undefined) {
        const policy = await connection.call(`get access policy of ${name}`, async (service) => service.getContainerClient(name).getAccessPolicy());
        spec.accessPolicies = livePolicies(policy?.signedIdentifiers ?? [], desired.accessPolicies) as unknown as JsonObject[];
      }
      live.set(target.address, { spec, outputs: { name } });
    },
  );
  return live;
}

async function setAccess(connection: AzureBlobConnection, name: string, spec: ContainerSpec, current: readonly AccessPolicy[]): Promise<void> {
  const policies = spec.accessPolicies ?? current;
  const access = spec.publicAccess === undefined || spec.publicAccess === "none" ? undefined : (spec.publicAccess as PublicAccessType);
  await connection.call(`set access policy of ${name}`, async (service) =>
    service.getContainerClient(name).setAccessPolicy(
      access,
      policies.map((policy) => ({
        id: policy.id,
        accessPolicy: {
          permissions: policy.permissions,
          ...(policy.start === undefined ? {} : { startsOn: new Date(policy.start) }),
          ...(policy.expiry === undefined ? {} : { expiresOn: new Date(policy.expiry) }),
        },
      })),
    ),
  );
}

/** Reads one container back after a write: its properties and access policy, not the whole listing. */
async function readBack(connection: AzureBlobConnection, target: Target<ContainerSpec>): Promise<LiveObject> {
  const name = containerName(target);
  const [properties, policy] = await Promise.all([
    connection.call(`get properties of ${name}`, async (service) => service.getContainerClient(name).getProperties()),
    connection.call(`get access policy of ${name}`, async (service) => service.getContainerClient(name).getAccessPolicy()),
  ]);
  if (properties === undefined || policy === undefined) throw new Error(`container "${name}" is missing right after it was written`);
  const spec: JsonObject = {
    ...(target.spec.name === undefined ? {} : { name }),
    publicAccess: policy.blobPublicAccess ?? "none",
    metadata: metadataIn(properties.metadata),
  };
  if (target.spec.accessPolicies !== undefined)
    spec.accessPolicies = livePolicies(policy.signedIdentifiers, target.spec.accessPolicies) as unknown as JsonObject[];
  return { spec, outputs: { name } };
}

/** Azure's container naming rules, so a bad name fails at render time with the rule it breaks. */
export function checkContainerName(name: string): SpecProblem[] {
  const rules: [boolean, string][] = [
    [name.length >= 3 && name.length <= 63, "be 3 to 63 characters"],
    [/^[a-z0-9-]+$/.test(name), "hold only lower-case letters, digits and hyphens"],
    [/^[a-z0-9].*[a-z0-9]$/.test(name), "begin and end with a letter or digit"],
    [!name.includes("--"), "not hold two hyphens in a row"],
  ];
  return rules.filter(([holds]) => !holds).map(([, rule]) => ({ path: "/name", message: `container name ${JSON.stringify(name)} must ${rule}` }));
}

export const containerKind = defineKind<ContainerSpec, AzureBlobConnection>({
  kind: "Container",
  schema: containerSpec,
  dataHolding: true,
  replaceOn: ["name"],
  tagField: "metadata",
  outputs: (spec, name) => ({ name: spec.name ?? name }),
  defaults: () => ({ publicAccess: "none", metadata: {} }),
  validate: (spec, name) => checkContainerName(spec.name ?? name),
  places: (spec, name) => ({ container: [spec.name ?? name] }),
  provides: (spec, name) => [`container:${spec.name ?? name}`],
  list: readContainers,
  async read(connection, target) {
    return (await readContainers(connection, [target])).get(target.address) ?? null;
  },
  async create(connection, target) {
    const name = containerName(target);
    await connection.call(`create container ${name}`, async (service) =>
      service.getContainerClient(name).create({ metadata: metadataOut(target.spec.metadata ?? {}) }),
    );
    if ((target.spec.publicAccess ?? "none") !== "none" || (target.spec.accessPolicies ?? []).length > 0) await setAccess(connection, name, target.spec, []);
    return readBack(connection, target);
  },
  async update(connection, target, live) {
    const name = containerName(target);
    const spec = target.spec;
    if (JSON.stringify(spec.metadata ?? {}) !== JSON.stringify(live.spec.metadata ?? {}))
      await connection.call(`set metadata of ${name}`, async (service) => service.getContainerClient(name).setMetadata(metadataOut(spec.metadata ?? {})));
    const accessChanged =
      spec.publicAccess !== live.spec.publicAccess ||
      (spec.accessPolicies !== undefined && JSON.stringify(spec.accessPolicies) !== JSON.stringify(live.spec.accessPolicies));
    if (accessChanged) {
      // Setting the public access level replaces the stored policies too, so the live ones go along when the spec leaves them out.
      const current =
        spec.accessPolicies === undefined
          ? livePolicies(
              (await connection.call(`get access policy of ${name}`, async (service) => service.getContainerClient(name).getAccessPolicy()))
                ?.signedIdentifiers ?? [],
              undefined,
            )
          : [];
      await setAccess(connection, name, spec, current);
    }
    return readBack(connection, target);
  },
  async delete(connection, target) {
    const name = containerName(target);
    await connection.call(`delete container ${name}`, async (service) => service.getContainerClient(name).delete(), new Set(["ContainerNotFound"]));
  },
});
