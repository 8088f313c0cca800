// The `kubernetes` provider: any object a Kubernetes API server serves,
// written as a plain manifest. Its resources are every apiVersion outside
// Plumb's own groups; one instance is one cluster. Observing costs one LIST
// per kind and namespace (objects carry their stack's label), never one GET
// per object.

import { Type, type Static } from "@sinclair/typebox";
import { mapWithConcurrency } from "../../sdk/concurrency.js";
import { groupBy } from "../../sdk/group-by.js";
import { defineProvider, type KindTarget, type LiveObject } from "../../sdk/provider.js";
import type { JsonObject } from "../../sdk/resource.js";
import { secretReferenceSchema } from "../../secrets/references.js";
import { kubernetesAdmission } from "./admission.js";
import { KubeConnection } from "./connection.js";
import { objectPath } from "./discovery.js";
import { clusterAccess } from "./kubeconfig.js";
import { liveView, objectKind, placement, stackLabel, type Manifest } from "./objects.js";

export const kubernetesGroup = "kubernetes.plumb.dev";

export const kubernetesProviderConfig = Type.Object(
  {
    kubeconfig: Type.Optional(Type.String({ minLength: 1, description: "A kubeconfig file, as kubectl reads it." })),
    context: Type.Optional(Type.String({ minLength: 1, description: "The kubeconfig's context; default its current-context." })),
    server: Type.Optional(Type.String({ minLength: 1, description: "The API server's URL, instead of a kubeconfig." })),
    token: Type.Optional(secretReferenceSchema),
    ca: Type.Optional(
      Type.String({ minLength: 1, description: "The CA certificate (a PEM file's path, or the PEM itself) that signs the server's certificate." }),
    ),
    inCluster: Type.Optional(Type.Boolean({ description: "Use the service account of the pod the agent runs in." })),
    username: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "The user these credentials act as, for sync.preventDrift's webhook to let Plumb's own changes through; default: asked of the server (TokenReview) or read from the client certificate.",
      }),
    ),
  },
  { additionalProperties: false },
);

export type KubernetesProviderConfig = Static<typeof kubernetesProviderConfig>;

/** LISTs in flight at once against one API server. */
const listConcurrency = 8;

interface ObjectList {
  items?: JsonObject[];
  metadata?: { continue?: string };
}

/** Custom kinds that a CRD among the same targets defines: absent until that CRD is applied, not unknown. */
function kindsDefinedBy(targets: readonly KindTarget[]): Set<string> {
  const defined = new Set<string>();
  for (const { target } of targets) {
    const manifest = target.spec as Manifest;
    if (manifest.kind !== "CustomResourceDefinition") continue;
    const crd = (manifest.spec ?? {}) as { group?: string; names?: { kind?: string }; versions?: { name?: string }[] };
    for (const version of crd.versions ?? []) defined.add(`${crd.group ?? ""}/${version.name ?? ""} ${crd.names?.kind ?? ""}`);
  }
  return defined;
}

export const kubernetesProvider = defineProvider<KubernetesProviderConfig, KubeConnection>({
  type: "kubernetes",
  group: kubernetesGroup,
  version: "v1",
  configSchema: kubernetesProviderConfig,
  foreignObjects: true,
  async connect(config, context) {
    return new KubeConnection(await clusterAccess(config, context.secrets), context.stack, context.secrets);
  },
  async close(connection) {
    connection.close();
  },
  async observe(connection, targets) {
    const observed = new Map<string, LiveObject | Error>();
    const pending = kindsDefinedBy(targets);
    const groups = groupBy(targets, ({ target }) => {
      const manifest = target.spec as Manifest;
      return `${manifest.apiVersion} ${manifest.kind} ${manifest.metadata.namespace ?? ""}`;
    });
    await mapWithConcurrency([...groups.values()], listConcurrency, async (group) => {
      const first = group[0]?.target.spec as Manifest;
      try {
        if (pending.has(`${first.apiVersion} ${first.kind}`)) {
          // Its CRD is in this stack: the kind may not exist yet, so ask discovery without failing.
          const served = await connection.discovery.kind(first.apiVersion, first.kind).catch(() => undefined);
          if (served === undefined) return;
        }
        const { info, namespace } = await placement(connection, first);
        const byName = new Map<string, JsonObject>();
        let next: string | undefined;
        do {
          const page: ObjectList = await connection.client.request<ObjectList>("GET", objectPath(info, namespace), {
            query: { labelSelector: `${stackLabel}=${connection.stack}`, limit: "500", continue: next },
            what: `list ${info.apiVersion} ${info.kind}${namespace === undefined ? "" : ` in ${namespace}`}`,
          });
          // List items leave out their apiVersion and kind; the comparison and health need them.
          for (const item of page.items ?? [])
            byName.set(String((item.metadata as JsonObject | undefined)?.name ?? ""), { apiVersion: info.apiVersion, kind: info.kind, ...item });
          next = page.metadata?.continue || undefined;
        } while (next !== undefined);
        // An object the list leaves out carries no label of this stack: it may still exist, made by a person or another
        // tool. Asked for by name, it is seen as existing and not this stack's, so the plan refuses to take it over unasked.
        const unlabeled = group.filter(({ target }) => !byName.has((target.spec as Manifest).metadata.name));
        await mapWithConcurrency(unlabeled, listConcurrency, async ({ target }) => {
          const name = (target.spec as Manifest).metadata.name;
          const object = await connection.client.request<JsonObject>("GET", objectPath(info, namespace, name), {
            allowMissing: true,
            what: `read ${info.kind} ${name}${namespace === undefined ? "" : ` in ${namespace}`}`,
          });
          if (object !== null) byName.set(name, { apiVersion: info.apiVersion, kind: info.kind, ...object });
        });
        for (const { target } of group) {
          const object = byName.get((target.spec as Manifest).metadata.name);
          if (object !== undefined) observed.set(target.address, liveView(connection, target.address, object, (target.desired ?? target.spec) as Manifest));
        }
      } catch (error) {
        for (const { target } of group) observed.set(target.address, error instanceof Error ? error : new Error(String(error)));
      }
    });
    return observed;
  },
  kinds: [objectKind],
  admission: kubernetesAdmission,
});
