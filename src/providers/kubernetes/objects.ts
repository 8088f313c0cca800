// Any Kubernetes object, as one kind handler: a resource's spec is the whole
// manifest. Objects are applied with server-side apply (field manager
// `plumb`), labelled with their stack so they are read back with one LIST per
// kind and namespace, compared only on the fields the manifest sets, deleted
// with the propagation their kind needs, and judged healthy as kstatus does.

import { fieldOwners } from "./field-owners.js";
import { Type } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import { annotations, type JsonObject } from "../../sdk/resource.js";
import { KubeApiError } from "./client.js";
import { projectLive, secretLiveView } from "./compare.js";
import { objectPath, type KindInfo } from "./discovery.js";
import { objectHealth } from "./health.js";
import type { KubeConnection } from "./connection.js";

/** The label every object Plumb applies carries: which stack manages it. */
export const stackLabel = "plumb.dev/stack";
/** Takes over fields another field manager owns, for this object. */
export const forceConflictsAnnotation = annotations.forceConflicts;
const fieldManager = "plumb";

/**
 * A Kubernetes object, written as its manifest. Render checks a plain manifest
 * against this before anything else: its name becomes part of the address
 * (`<namespace>/<name>`), so it may not hold a slash.
 */
export const manifestSchema = Type.Object(
  {
    apiVersion: Type.String({ minLength: 1, description: "group/version, or v1 for the core group" }),
    kind: Type.String({ pattern: "^[A-Z][A-Za-z0-9]{0,62}$", description: "A kind such as Deployment." }),
    metadata: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 253, pattern: "^[^\\u0000-\\u001f\\u007f/]+$", description: "The object's name." }),
        namespace: Type.Optional(Type.String({ minLength: 1, maxLength: 63, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" })),
        labels: Type.Optional(Type.Record(Type.String(), Type.String())),
        annotations: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: true },
    ),
    tags: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: "Compliance metadata Plumb writes as annotations (and as labels where the value fits one)." }),
    ),
  },
  { additionalProperties: true, description: "A Kubernetes object, written as its manifest." },
);

interface Manifest extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The body server-side apply is sent: the manifest, its stack label and tags, and ports with their protocol. */
export function applyBody(manifest: Manifest, stack: string): JsonObject {
  const { tags, status: _status, ...rest } = manifest;
  const labels: Record<string, string> = { ...(manifest.metadata.labels ?? {}), [stackLabel]: stack };
  const annotations: Record<string, string> = { ...(manifest.metadata.annotations ?? {}) };
  if (typeof tags === "object" && tags !== null && !Array.isArray(tags)) {
    for (const [key, value] of Object.entries(tags)) {
      if (typeof value !== "string") continue;
      annotations[key] = value;
      if (value.length <= 63 && labelValue.test(value)) labels[key] = value;
    }
  }
  const body: JsonObject = {
    ...rest,
    metadata: { ...manifest.metadata, labels, ...(Object.keys(annotations).length === 0 ? {} : { annotations }) },
  };
  return withPortProtocols(body) as JsonObject;
}

/** 1.20 servers refuse port list items without a protocol (it is part of their key); newer ones default it to TCP, as Plumb does. */
function withPortProtocols(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => {
      if (
        key === "ports" &&
        typeof item === "object" &&
        item !== null &&
        !Array.isArray(item) &&
        ("containerPort" in item || "port" in item) &&
        !("protocol" in item)
      )
        return withPortProtocols({ ...item, protocol: "TCP" });
      return withPortProtocols(item);
    });
  }
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, withPortProtocols(item, name)]));
}

/** The live object as the plan compares it: the manifest's fields, tags read back from annotations. */
export function liveView(connection: KubeConnection, address: string, object: JsonObject, desired: Manifest): LiveObject {
  const metadata = (object.metadata ?? {}) as JsonObject;
  let view: JsonObject = object;
  if (desired.kind === "Secret" && desired.apiVersion === "v1") view = secretLiveView(desired, view);
  const tags = desired.tags;
  if (typeof tags === "object" && tags !== null && !Array.isArray(tags)) {
    const annotations = (metadata.annotations ?? {}) as Record<string, string>;
    view = { ...view, tags: Object.fromEntries(Object.keys(tags).flatMap((key) => (annotations[key] === undefined ? [] : [[key, annotations[key]]]))) };
  }
  const health = objectHealth(object);
  const projected = connection.secretView(desired, address, object, (projectLive(desired, view) ?? {}) as JsonObject);
  const owner = ((metadata.labels ?? {}) as Record<string, unknown>)[stackLabel];
  const fieldManagers = fieldOwners(metadata.managedFields, projected);
  return {
    spec: projected,
    ...(typeof owner === "string" ? { ownedBy: owner } : {}),
    ...(Object.keys(fieldManagers).length === 0 ? {} : { fieldManagers }),
    outputs: {
      uid: String(metadata.uid ?? ""),
      health: health.status,
      ...(health.message === undefined ? {} : { healthMessage: health.message }),
    },
  };
}

/** The kind's info, refusing a namespaced kind without a namespace (never defaulted: a GitOps repository says where things go). */
export async function placement(connection: KubeConnection, manifest: Manifest): Promise<{ info: KindInfo; namespace: string | undefined }> {
  const info = await connection.discovery.kind(manifest.apiVersion, manifest.kind);
  const namespace = manifest.metadata.namespace;
  if (info.namespaced && namespace === undefined)
    throw new PlumbError("PLUMB_SCHEMA", `${manifest.kind} ${manifest.metadata.name} is namespaced but names no metadata.namespace`, {
      hint: "add metadata.namespace: every namespaced object says where it goes",
    });
  if (!info.namespaced && namespace !== undefined)
    throw new PlumbError("PLUMB_SCHEMA", `${manifest.kind} ${manifest.metadata.name} is cluster-scoped but names namespace ${namespace}`, {
      hint: "remove metadata.namespace",
    });
  return { info, namespace };
}

async function apply(connection: KubeConnection, target: Target<Manifest>): Promise<LiveObject> {
  const manifest = target.spec;
  const { info, namespace } = await placement(connection, manifest);
  // Reverting drift takes back fields Plumb applied and a person changed (kubectl edit made them theirs);
  // adopting an object takes the fields the manifest declares from whoever set them.
  const force = target.corrective === true || target.adopting === true || manifest.metadata.annotations?.[forceConflictsAnnotation] === "true";
  const body = applyBody(await connection.resolveSecretData(manifest, target.address), connection.stack);
  let object: JsonObject;
  try {
    object = await connection.client.request<JsonObject>("PATCH", objectPath(info, namespace, manifest.metadata.name), {
      query: { fieldManager, ...(force ? { force: "true" } : {}) },
      body,
      contentType: "application/apply-patch+yaml",
      what: `apply ${target.address}`,
    });
  } catch (error) {
    if (error instanceof KubeApiError && error.httpStatus === 409) throw conflictError(error, target.address);
    throw error;
  }
  if (info.kind === "CustomResourceDefinition") object = await connection.waitForEstablished(object, target.address);
  return liveView(connection, target.address, object, manifest);
}

/** A field-manager conflict, naming the managers and fields the server listed. */
function conflictError(error: KubeApiError, address: string): PlumbError {
  const causes = (error.kubeStatus.details?.causes ?? []).map((cause) => `${cause.field ?? "?"} (${cause.message ?? ""})`);
  return new PlumbError(
    "PLUMB_PROVIDER_OPERATION",
    `${address}: fields are owned by another field manager: ${causes.join("; ") || (error.kubeStatus.message ?? "")}`,
    {
      hint: 'change them where that manager is configured, or set the annotation plumb.dev/force-conflicts: "true" on this resource to take them over',
    },
  );
}

export const objectKind = defineKind<Manifest, KubeConnection>({
  kind: "Object",
  schema: manifestSchema,
  tagField: "tags",
  provides(spec) {
    if (spec.apiVersion === "v1" && spec.kind === "Namespace") return [`namespace:${spec.metadata.name}`];
    if (spec.kind === "CustomResourceDefinition") {
      const crd = (spec.spec ?? {}) as { group?: string; names?: { kind?: string } };
      return [`kind:${crd.group ?? ""}/${crd.names?.kind ?? ""}`];
    }
    return [];
  },
  requires(spec) {
    const group = spec.apiVersion.includes("/") ? spec.apiVersion.split("/")[0] : "";
    return [
      ...(spec.metadata.namespace === undefined ? [] : [`namespace:${spec.metadata.namespace}`]),
      ...(group === undefined || group === "" ? [] : [`kind:${group}/${spec.kind}`]),
    ];
  },
  places(spec) {
    // A Namespace is the place itself; an object without a namespace is cluster-scoped and reaches every one.
    if (spec.apiVersion === "v1" && spec.kind === "Namespace") return { namespace: [spec.metadata.name] };
    return { namespace: spec.metadata.namespace === undefined ? [] : [spec.metadata.namespace] };
  },
  async read(connection, target) {
    const manifest = target.desired ?? target.spec;
    const { info, namespace } = await placement(connection, target.spec);
    const object = await connection.client.request<JsonObject>("GET", objectPath(info, namespace, target.spec.metadata.name), {
      what: `read ${target.address}`,
      allowMissing: true,
    });
    return object === null ? null : liveView(connection, target.address, object, manifest);
  },
  create: apply,
  async update(connection, target) {
    return apply(connection, target);
  },
  async delete(connection, target) {
    const manifest = target.spec;
    const { info, namespace } = await placement(connection, manifest);
    await connection.client.request("DELETE", objectPath(info, namespace, manifest.metadata.name), {
      // A Namespace goes only after what is in it; other objects leave their dependents to the garbage collector.
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: manifest.kind === "Namespace" ? "Foreground" : "Background" },
      what: `delete ${target.address}`,
      allowMissing: true,
    });
  },
  health(live) {
    const status = live.outputs?.health;
    const message = live.outputs?.healthMessage;
    return {
      status: status === "Healthy" || status === "Progressing" || status === "Degraded" ? status : "Unknown",
      ...(typeof message === "string" ? { message } : {}),
    };
  },
});

export type { Manifest };
