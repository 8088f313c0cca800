// Writes src/sdk/kubernetes-kinds.ts: a typed constructor for each common
// Kubernetes kind (k8s.Deployment, k8s.Role, …) and the types of every field
// under it, from the OpenAPI document of the API server in
// ../shared/tools/kube (or of a saved document: `node scripts/kubernetes-kinds.mjs openapi.json`).
// Run it again when that server's version changes; the output is committed.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { format, resolveConfig } from "prettier";

const output = "src/sdk/kubernetes-kinds.ts";
const tools = path.resolve("..", "shared", "tools", "kube");

/** The kinds a team's stack holds most, at the version the server serves as generally available. */
const kinds = [
  ["", "v1", "Namespace"],
  ["", "v1", "ConfigMap"],
  ["", "v1", "Secret"],
  ["", "v1", "Service"],
  ["", "v1", "ServiceAccount"],
  ["", "v1", "PersistentVolumeClaim"],
  ["", "v1", "ResourceQuota"],
  ["", "v1", "LimitRange"],
  ["apps", "v1", "Deployment"],
  ["apps", "v1", "StatefulSet"],
  ["apps", "v1", "DaemonSet"],
  ["batch", "v1", "Job"],
  ["autoscaling", "v1", "HorizontalPodAutoscaler"],
  ["networking.k8s.io", "v1", "Ingress"],
  ["networking.k8s.io", "v1", "NetworkPolicy"],
  ["rbac.authorization.k8s.io", "v1", "Role"],
  ["rbac.authorization.k8s.io", "v1", "RoleBinding"],
  ["rbac.authorization.k8s.io", "v1", "ClusterRole"],
  ["rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"],
];
const clusterScoped = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding"]);

/** Definitions that are one scalar on the wire, whatever their Go type. */
const scalars = {
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "number | string",
  "io.k8s.apimachinery.pkg.api.resource.Quantity": "string | number",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
  "io.k8s.apimachinery.pkg.runtime.RawExtension": "Record<string, unknown>",
  "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "Record<string, unknown>",
};
/** Set by the server or given through the constructor's metadata, never typed here. */
const skippedFields = new Set(["apiVersion", "kind", "metadata", "status"]);

async function openApiDocument() {
  if (process.argv[2] !== undefined) return JSON.parse(readFileSync(process.argv[2], "utf8"));
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-kube-openapi-"));
  try {
    const started = execFileSync(path.join(tools, "start.sh"), [directory], { encoding: "utf8" });
    const values = Object.fromEntries(
      started
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    const text = execFileSync(
      "curl",
      ["-sf", "--cacert", values.KUBE_CA, "-H", `Authorization: Bearer ${values.KUBE_TOKEN}`, `${values.KUBE_SERVER}/openapi/v2`],
      {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return JSON.parse(text);
  } finally {
    execFileSync(path.join(tools, "stop.sh"), [directory]);
    rmSync(directory, { recursive: true, force: true });
  }
}

const document = await openApiDocument();
const definitions = document.definitions;
const version = document.info?.version ?? "unknown";

const kindDefinition = new Map();
for (const [name, definition] of Object.entries(definitions)) {
  for (const gvk of definition["x-kubernetes-group-version-kind"] ?? []) kindDefinition.set(`${gvk.group}/${gvk.version}/${gvk.kind}`, name);
}

const referenced = (ref) => ref.replace("#/definitions/", "");

/** Every definition the chosen kinds reach, status and metadata left out. */
const reached = new Set();
function visit(schema, top = false) {
  if (schema === undefined) return;
  if (schema.$ref !== undefined) {
    const name = referenced(schema.$ref);
    if (reached.has(name) || scalars[name] !== undefined) return;
    reached.add(name);
    visit(definitions[name]);
    return;
  }
  for (const [field, property] of Object.entries(schema.properties ?? {})) if (!(top && skippedFields.has(field))) visit(property);
  visit(schema.items);
  if (typeof schema.additionalProperties === "object") visit(schema.additionalProperties);
}
for (const [group, apiVersion, kind] of kinds) {
  const name = kindDefinition.get(`${group}/${apiVersion}/${kind}`);
  if (name === undefined) throw new Error(`the server does not serve ${group}/${apiVersion} ${kind}`);
  visit(definitions[name], true);
}

// Type names: the definition's last segment, with its group and version in front where two would clash.
const lastSegment = (name) => name.slice(name.lastIndexOf(".") + 1);
const counts = new Map();
for (const name of reached) counts.set(lastSegment(name), (counts.get(lastSegment(name)) ?? 0) + 1);
const typeName = (name) => {
  const last = lastSegment(name);
  if (counts.get(last) === 1) return last;
  const parts = name.split(".");
  return parts
    .slice(-3, -1)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join("")
    .concat(last);
};

/** The first sentence of a description, for a one-line doc comment. */
function summary(description) {
  if (typeof description !== "string") return undefined;
  const sentence = description
    .split(/(?<=[a-z0-9)]\.)\s+(?=[A-Z])/)[0]
    .replace(/\*\//g, "*\u200b/")
    .trim();
  return sentence.length > 240 ? `${sentence.slice(0, 237)}…` : sentence;
}

function typeOf(schema) {
  if (schema.$ref !== undefined) {
    const name = referenced(schema.$ref);
    return scalars[name] ?? typeName(name);
  }
  switch (schema.type) {
    case "string":
      return schema.format === "int-or-string" ? "number | string" : "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return `Array<${typeOf(schema.items ?? {})}>`;
    case "object":
      return typeof schema.additionalProperties === "object" ? `Record<string, ${typeOf(schema.additionalProperties)}>` : "Record<string, unknown>";
    default:
      return "unknown";
  }
}

function fields(schema, top) {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([field]) => !(top && skippedFields.has(field)))
    .map(([field, property]) => {
      const doc = summary(property.description);
      const key = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(field) ? field : JSON.stringify(field);
      return `${doc === undefined ? "" : `/** ${doc} */\n`}${key}${required.has(field) ? "" : "?"}: ${typeOf(property)};`;
    })
    .join("\n");
}

const lines = [
  `// Generated by scripts/kubernetes-kinds.mjs from the OpenAPI document of`,
  `// kube-apiserver ${version}; do not edit. A constructor per common kind, typed`,
  `// field by field; any other kind (and any custom resource) is k8s.Object.`,
  ``,
  `import { KubernetesObject, type ClusterScoped, type KubernetesOptions, type Namespaced } from "./kubernetes-object.js";`,
  `import type { SecretReference } from "./secret-reference.js";`,
  ``,
];
for (const name of [...reached].sort((a, b) => typeName(a).localeCompare(typeName(b)))) {
  const schema = definitions[name];
  const doc = summary(schema.description);
  if (schema.properties === undefined) {
    lines.push(`${doc === undefined ? "" : `/** ${doc} */\n`}export type ${typeName(name)} = ${typeOf({ ...schema, $ref: undefined })};`, "");
    continue;
  }
  lines.push(`${doc === undefined ? "" : `/** ${doc} */\n`}export interface ${typeName(name)} {\n${fields(schema, false)}\n}`, "");
}

lines.push("// eslint-disable-next-line @typescript-eslint/no-namespace", "export namespace k8s {");
lines.push(
  "  /** Any Kubernetes object, as its whole manifest: for kinds without a constructor of their own and for custom resources. */",
  "  export class Object extends KubernetesObject {}",
);
for (const [group, apiVersion, kind] of kinds) {
  const definition = definitions[kindDefinition.get(`${group}/${apiVersion}/${kind}`)];
  const fullVersion = group === "" ? apiVersion : `${group}/${apiVersion}`;
  let body = `{\n${fields(definition, true)}\n}`;
  // A Secret's values may be secret references: resolved only to apply, never in a plan.
  if (kind === "Secret") body = body.replace(/(data|stringData)\?: Record<string, string>;/g, "$1?: Record<string, string | SecretReference>;");
  const wrapper = clusterScoped.has(kind) ? "ClusterScoped" : "Namespaced";
  lines.push(
    `  /** ${fullVersion} ${kind}: ${summary(definition.description) ?? ""} */`,
    `  export class ${kind} extends KubernetesObject {`,
    `    constructor(manifest: ${wrapper}<${body}>, options?: KubernetesOptions) {`,
    `      super({ apiVersion: ${JSON.stringify(fullVersion)}, kind: ${JSON.stringify(kind)}, ...manifest }, options);`,
    `    }`,
    `  }`,
  );
}
lines.push("}", "");

const text = await format(lines.join("\n"), { ...(await resolveConfig(output)), filepath: output });
writeFileSync(output, text);
console.log(`${output}: ${kinds.length} kinds, ${reached.size} types, ${text.split("\n").length} lines, from kube-apiserver ${version}`);
