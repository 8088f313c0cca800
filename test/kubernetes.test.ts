// Kubernetes as a target, against a real kube-apiserver (1.20, with etcd):
// plain manifests applied with server-side apply, a CRD and its custom
// resource in one stack, drift judged only on fields the manifest sets,
// prune, health from statuses a test writes as the missing controllers would,
// a Secret from a secret reference that leaks nowhere, and bad input.

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, repositoryRoot, runCli, type CliResult, type Workspace } from "./helpers.js";
import { useKube } from "./kube-server.js";

const kube = useKube();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

function stack(name: string, files: Record<string, string>, sync = "prune: true"): void {
  workspace = createWorkspace({ name });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name} }
spec:
  providers:
    cluster: { type: kubernetes, config: { kubeconfig: ${kube.kubeconfig} } }
  sync: { ${sync} }
`,
  );
  for (const [file, text] of Object.entries(files)) workspace.write(file, text);
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env });
}

async function get(apiPath: string): Promise<Record<string, unknown> | undefined> {
  const answer = await kube.call("GET", apiPath);
  return answer.status === 404 ? undefined : answer.body;
}

/** A namespaced CRD in example.org/v1 whose objects have one integer field, spec.size. */
const sizedCrd = (singular: string, kind: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: ${singular}s.example.org }
spec:
  group: example.org
  scope: Namespaced
  names: { plural: ${singular}s, singular: ${singular}, kind: ${kind} }
  versions:
    - name: v1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, properties: { spec: { type: object, properties: { size: { type: integer } } } } } }
`;
const namespace = (name: string) => `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`;
const configMap = (ns: string, name: string, data: string) =>
  `---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: ${ns} }\ndata: ${data}\n`;
const deployment = (ns: string, name: string, replicas: number | undefined) => `---
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${name}, namespace: ${ns}, labels: { app: ${name} } }
spec:
${replicas === undefined ? "" : `  replicas: ${replicas}\n`}  selector: { matchLabels: { app: ${name} } }
  template:
    metadata: { labels: { app: ${name} } }
    spec:
      containers:
        - name: web
          image: nginx:1.25
          ports: [ { containerPort: 8080 } ]
          resources: { requests: { cpu: "0.5", memory: 64Mi } }
`;

describe("kubernetes provider", () => {
  it("applies a folder of plain manifests in dependency order, then plans nothing", async () => {
    stack("kube-plain", {
      "app.yaml": deployment("shop", "web", 2) + configMap("shop", "settings", "{ mode: blue }"),
      "ns.yaml": namespace("shop"),
      "svc.yaml": `apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: shop }\nspec: { selector: { app: web }, ports: [ { port: 80, targetPort: 8080 } ] }\n`,
    });
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("v1/Namespace/shop");
    const web = await get("/apis/apps/v1/namespaces/shop/deployments/web");
    expect(web?.spec).toMatchObject({ replicas: 2 });
    expect((web?.metadata as { labels: Record<string, string> }).labels["plumb.dev/stack"]).toBe("kube-plain");
    const managers = ((web?.metadata as { managedFields: { manager: string; operation: string }[] }).managedFields ?? []).map(
      (entry) => `${entry.manager}:${entry.operation}`,
    );
    expect(managers).toContain("plumb:Apply");
    expect((await get("/api/v1/namespaces/shop/configmaps/settings"))?.data).toEqual({ mode: "blue" });
    // Quantities ("0.5" is kept as "500m"), defaulted fields and the port's protocol are no change.
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(again.stdout).toContain("Plan: no changes; 4 unchanged.");
    expect(again.status).toBe(0);
  });

  it("treats a field another manager set as theirs, and a field Plumb set and a person changed as drift it heals", async () => {
    stack("kube-drift", { "all.yaml": namespace("drift") + deployment("drift", "api", undefined) + configMap("drift", "flags", "{ beta: 'off' }") });
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    // An autoscaler owns replicas (the manifest leaves it out): its change is not drift.
    const scaled = await kube.call(
      "PATCH",
      "/apis/apps/v1/namespaces/drift/deployments/api/scale?fieldManager=hpa",
      { spec: { replicas: 5 } },
      "application/merge-patch+json",
    );
    expect(scaled.status).toBe(200);
    // A controller adds an annotation: not drift either.
    await kube.call(
      "PATCH",
      "/api/v1/namespaces/drift/configmaps/flags?fieldManager=controller",
      { metadata: { annotations: { "example.org/seen": "yes" } } },
      "application/merge-patch+json",
    );
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
    // A person flips a value Plumb applied: drift, shown with the field, and healed by apply.
    await kube.call("PATCH", "/api/v1/namespaces/drift/configmaps/flags?fieldManager=kubectl-edit", { data: { beta: "on" } }, "application/merge-patch+json");
    const drifted = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toMatch(/v1\/ConfigMap\/drift\/flags\s+update: drift/);
    expect(drifted.stdout).toContain('data.beta: "on" → "off"');
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect((await get("/api/v1/namespaces/drift/configmaps/flags"))?.data).toEqual({ beta: "off" });
    expect(((await get("/apis/apps/v1/namespaces/drift/deployments/api"))?.spec as { replicas: number }).replicas).toBe(5);
  });

  it("refuses to take over an object someone else made until the manifest asks to adopt it", async () => {
    await kube.call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "adopt" } });
    const made = await kube.call("POST", "/api/v1/namespaces/adopt/configmaps?fieldManager=kubectl-create", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings" },
      data: { owner: "someone else" },
    });
    expect(made.status).toBe(201);
    stack("kube-adopt", { "all.yaml": configMap("adopt", "settings", "{ owner: plumb }") });
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("PLUMB_ADOPTION_REQUIRED");
    expect(refused.stderr).toContain("v1/ConfigMap/adopt/settings");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(1);
    expect((await get("/api/v1/namespaces/adopt/configmaps/settings"))?.data).toEqual({ owner: "someone else" });
    workspace.write(
      "all.yaml",
      `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: adopt, annotations: { plumb.dev/adopt: "true" } }\ndata: { owner: plumb }\n`,
    );
    const adopting = plumb(["plan", workspace.stackDir]);
    expect(adopting.stdout).toMatch(/v1\/ConfigMap\/adopt\/settings\s+adopt/);
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    const adopted = await get("/api/v1/namespaces/adopt/configmaps/settings");
    expect(adopted?.data).toEqual({ owner: "plumb" });
    expect((adopted?.metadata as { labels?: Record<string, string> }).labels?.["plumb.dev/stack"]).toBe("kube-adopt");
  });

  it("orders a custom resource after its CRD and namespace, waits for the CRD to be served, and prunes what leaves the folder", async () => {
    const crd = sizedCrd("widget", "Widget");
    const widget = `apiVersion: example.org/v1\nkind: Widget\nmetadata: { name: small, namespace: crd }\nspec: { size: 3 }\n`;
    stack("kube-crd", { "a-widget.yaml": widget, "crd.yaml": crd, "ns.yaml": namespace("crd"), "extra.yaml": configMap("crd", "extra", "{ a: b }") });
    // Before the CRD exists its kind is not served: the plan says create, after the CRD and the namespace.
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.stderr).toBe("");
    expect(planned.status).toBe(0);
    const order = (address: string) => planned.stdout.indexOf(address);
    expect(order("example.org/v1/Widget/crd/small")).toBeGreaterThan(order("apiextensions.k8s.io/v1/CustomResourceDefinition/widgets.example.org"));
    expect(order("example.org/v1/Widget/crd/small")).toBeGreaterThan(order("v1/Namespace/crd"));
    // This kube-apiserver build crashes (SIGSEGV in reflect2 under Go 1.19) on any write of a custom
    // resource, so the custom resource itself is not applied here; its CRD is, and must be served.
    workspace.remove("a-widget.yaml");
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    const established = await get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.org");
    expect((established?.status as { conditions: { type: string; status: string }[] }).conditions).toContainEqual(
      expect.objectContaining({ type: "Established", status: "True" }),
    );
    expect(((await get("/apis/example.org/v1"))?.resources as { kind: string }[]).map((resource) => resource.kind)).toContain("Widget");
    workspace.remove("extra.yaml");
    const pruned = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(pruned.status).toBe(0);
    expect(pruned.stdout).toContain("v1/ConfigMap/crd/extra");
    expect(await get("/api/v1/namespaces/crd/configmaps/extra")).toBeUndefined();
  });

  // The API server in ../shared/tools/kube crashes on custom resource writes (reflect2 under Go 1.19); with a
  // build that does not (PLUMB_KUBE_CACHE pointing at one), PLUMB_KUBE_CUSTOM_RESOURCES=1 runs this part too.
  it.runIf(process.env.PLUMB_KUBE_CUSTOM_RESOURCES === "1")("applies a CRD and its custom resource in one run, finds drift in it and prunes it", async () => {
    const crd = sizedCrd("gadget", "Gadget");
    const gadget = `apiVersion: example.org/v1\nkind: Gadget\nmetadata: { name: small, namespace: gadgets }\nspec: { size: 3 }\n`;
    stack("kube-gadgets", { "a-gadget.yaml": gadget, "crd.yaml": crd, "ns.yaml": namespace("gadgets") });
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    const live = await get("/apis/example.org/v1/namespaces/gadgets/gadgets/small");
    expect(live?.spec).toEqual({ size: 3 });
    expect((live?.metadata as { labels: Record<string, string> }).labels["plumb.dev/stack"]).toBe("kube-gadgets");
    await kube.call(
      "PATCH",
      "/apis/example.org/v1/namespaces/gadgets/gadgets/small?fieldManager=kubectl-edit",
      { spec: { size: 9 } },
      "application/merge-patch+json",
    );
    const drifted = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toContain("spec.size: 9 → 3");
    workspace.remove("a-gadget.yaml");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(await get("/apis/example.org/v1/namespaces/gadgets/gadgets/small")).toBeUndefined();
  });

  it("reports health from the statuses controllers write: a Deployment rolls out, a Job fails", async () => {
    stack("kube-health", {
      "all.yaml":
        namespace("health") +
        deployment("health", "web", 2) +
        `---\napiVersion: batch/v1\nkind: Job\nmetadata: { name: once, namespace: health }\nspec: { template: { spec: { restartPolicy: Never, containers: [ { name: run, image: busybox } ] } } }\n`,
    });
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    const health = () =>
      Object.fromEntries(
        plumb(["state", "list", "--stack", "kube-health"])
          .stdout.split("\n")
          .filter((line) => line.startsWith("  "))
          .map((line) => line.trim().split("\t"))
          .map(([address, , state]) => [address, state]),
      );
    // No controller runs here: nothing has reported, so nothing is Healthy yet.
    expect(health()["apps/v1/Deployment/health/web"]).toBe("Progressing");
    // Written as the deployment and job controllers would.
    await kube.call("PUT", "/apis/apps/v1/namespaces/health/deployments/web/status", {
      ...(await get("/apis/apps/v1/namespaces/health/deployments/web")),
      status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 },
    });
    const job = await get("/apis/batch/v1/namespaces/health/jobs/once");
    await kube.call("PUT", "/apis/batch/v1/namespaces/health/jobs/once/status", {
      ...job,
      status: {
        failed: 1,
        conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }],
      },
    });
    // A plan re-reads live state, and the record stage keeps what it says about health.
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
    expect(health()).toMatchObject({ "apps/v1/Deployment/health/web": "Healthy", "batch/v1/Job/health/once": "Degraded" });
  });

  it("takes a Secret's value from a secret reference and shows it nowhere", async () => {
    const value = "kube-canary-value-7f3a9c1e";
    stack("kube-secret", {
      "all.yaml":
        namespace("vault") +
        `---\napiVersion: v1\nkind: Secret\nmetadata: { name: db, namespace: vault }\ndata: { password: { secretRef: { name: db, key: password } } }\n`,
    });
    const env = { PLUMB_SECRET_DB_PASSWORD: value };
    const planned = plumb(["plan", workspace.stackDir, "--format", "json"], env);
    const applied = plumb(["apply", workspace.stackDir, "--yes"], env);
    expect(applied.status).toBe(0);
    const secret = await get("/api/v1/namespaces/vault/secrets/db");
    expect(Buffer.from((secret?.data as { password: string }).password, "base64").toString()).toBe(value);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], env).status).toBe(0);
    const state = plumb(["state", "show", "v1/Secret/vault/db", "--stack", "kube-secret"], env);
    for (const output of [planned.stdout, planned.stderr, applied.stdout, applied.stderr, state.stdout]) {
      expect(output).not.toContain(value);
      expect(output).not.toContain(Buffer.from(value).toString("base64"));
    }
    const store = readFileSync(path.join(workspace.dataDir, "plumb.db"));
    expect(store.includes(Buffer.from(value))).toBe(false);
    // Changed in the cluster by hand: a changed digest, still no value.
    await kube.call(
      "PATCH",
      "/api/v1/namespaces/vault/secrets/db",
      { data: { password: Buffer.from("other").toString("base64") } },
      "application/merge-patch+json",
    );
    const drifted = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], env);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toContain("data/password/digest changed outside Plumb");
    expect(drifted.stdout).not.toContain("other");
  });

  it("refuses bad manifests with the file, line and what to do, and an unreachable server fails only that stack's plan", async () => {
    stack("kube-bad", {
      "bad.yaml":
        `apiVersion: example.org/v9\nkind: Gadget\nmetadata: { name: g, namespace: default }\n` +
        `---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: loose }\nspec: { selector: { matchLabels: { a: b } }, template: { metadata: { labels: { a: b } }, spec: { containers: [ { name: c, image: x } ] } } }\n`,
    });
    const result = plumb(["plan", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("does not serve kind Gadget in example.org/v9");
    expect(result.stderr).toContain("Deployment loose is namespaced but names no metadata.namespace");
    const stackFile = path.join(workspace.stackDir, "stack.yaml");
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace(`kubeconfig: ${kube.kubeconfig}`, "server: https://127.0.0.1:1, ca: x"));
    workspace.write("bad.yaml", configMap("default", "c", "{ a: b }"));
    const offline = plumb(["plan", workspace.stackDir]);
    expect(offline.status).toBe(1);
    expect(offline.stderr).toMatch(/cannot (read the CA file|reach the Kubernetes API server)/);
  });

  it("writes the compliance metadata on every object: annotations, and labels where the value fits one", async () => {
    stack("kube-tags", { "all.yaml": namespace("tags") + configMap("tags", "owned", "{ a: b }") });
    workspace.write(
      "stack.yaml",
      readFileSync(path.join(workspace.stackDir, "stack.yaml"), "utf8") + "  metadata: { owner: payments@example.org, complianceLevel: high }\n",
    );
    const policyFile = path.join(workspace.root, "policy.yaml");
    writeFileSync(
      policyFile,
      "apiVersion: plumb.dev/v1\nkind: CompliancePolicy\nmetadata: { name: platform }\nspec:\n  tagPrefix: compliance.example.org/\n  keys:\n    owner: { pattern: '^[^@]+@[^@]+$' }\n    complianceLevel: { enum: [low, moderate, high] }\n",
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes", "--policy", policyFile]);
    expect(applied.stderr).toBe("");
    const metadata = (await get("/api/v1/namespaces/tags/configmaps/owned"))?.metadata as {
      labels: Record<string, string>;
      annotations: Record<string, string>;
    };
    expect(metadata.annotations).toMatchObject({
      "compliance.example.org/owner": "payments@example.org",
      "compliance.example.org/complianceLevel": "high",
      "compliance.example.org/stack": "kube-tags",
    });
    // An e-mail address cannot be a label value; the level and the stack can.
    expect(metadata.labels["compliance.example.org/owner"]).toBeUndefined();
    expect(metadata.labels).toMatchObject({ "compliance.example.org/complianceLevel": "high", "compliance.example.org/managed-by": "plumb" });
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode", "--policy", policyFile]);
    expect(again.stdout).toContain("Plan: no changes");
    expect(again.status).toBe(0);
  });

  it("refuses hostile folders with a clear error, and takes a large one in stride", async () => {
    stack("kube-hostile", { "huge.yaml": configMap("a", "huge", `{ blob: "${"x".repeat(9 * 1024 * 1024)}" }`) });
    const huge = runCli(["validate", workspace.stackDir]);
    expect(huge.status).toBe(1);
    expect(huge.stderr).toContain("huge.yaml: file is 9.0 MiB, over the 8.0 MiB limit");
    workspace.remove("huge.yaml");
    workspace.write("slash.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a/b, namespace: x }\n");
    const slash = runCli(["validate", workspace.stackDir]);
    expect(slash.status).toBe(1);
    expect(slash.stderr).toMatch(/slash\.yaml:3:\d+.*metadata\.name/);
    workspace.remove("slash.yaml");
    for (let file = 0; file < 3; file++) {
      let text = "";
      for (let index = file * 16_667; index < Math.min(50_000, (file + 1) * 16_667); index++)
        text += configMap(`ns${index % 20}`, `c${index}`, `{ k: v${index} }`);
      workspace.write(`many-${file}.yaml`, text);
    }
    const many = runCli(["validate", workspace.stackDir]);
    expect(many.stderr).toBe("");
    expect(many.stdout).toContain("valid: stack kube-hostile, 50000 resource(s)");
  });

  it("applies Kubernetes objects a program declares with the SDK, in the order their references and namespaces give", async () => {
    stack("kube-program", {
      "main.ts": `import { k8s } from "plumb/sdk";

export default function space(): void {
  const namespace = new k8s.Namespace({ metadata: { name: "prog", labels: { team: "prog" } } });
  new k8s.ConfigMap({ metadata: { name: "settings", namespace: "prog" }, data: { mode: "blue" } });
  new k8s.Role(
    { metadata: { name: "reader", namespace: "prog" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }] },
    { dependsOn: [namespace] },
  );
  new k8s.Object({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "robot", namespace: "prog" } });
}
`,
    });
    // The constructors are typed from the API server's OpenAPI: a misspelt field fails validate at its line.
    writeFileSync(
      path.join(workspace.stackDir, "typo.ts"),
      'import { k8s } from "plumb/sdk";\n\nexport const web = new k8s.Deployment({\n  metadata: { name: "web", namespace: "prog" },\n  spec: { replica: 2, selector: {}, template: {} },\n});\n',
    );
    writeFileSync(path.join(workspace.stackDir, "main.ts"), 'import "./typo.ts";\n' + readFileSync(path.join(workspace.stackDir, "main.ts"), "utf8"));
    const mistyped = runCli(["validate", workspace.stackDir]);
    expect(mistyped.status).toBe(1);
    expect(mistyped.stderr).toContain("typo.ts:5");
    expect(mistyped.stderr).toMatch(/'replica' does not exist in type 'DeploymentSpec'/);
    rmSync(path.join(workspace.stackDir, "typo.ts"));
    writeFileSync(
      path.join(workspace.stackDir, "main.ts"),
      readFileSync(path.join(workspace.stackDir, "main.ts"), "utf8").replace('import "./typo.ts";\n', ""),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    expect(applied.stdout.indexOf("v1/Namespace/prog")).toBeLessThan(applied.stdout.indexOf("v1/ConfigMap/prog/settings"));
    expect((await get("/api/v1/namespaces/prog/configmaps/settings"))?.data).toEqual({ mode: "blue" });
    expect((await get("/apis/rbac.authorization.k8s.io/v1/namespaces/prog/roles/reader"))?.rules).toEqual([
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"] },
    ]);
    expect(await get("/api/v1/namespaces/prog/serviceaccounts/robot")).toBeDefined();
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("expands a platform composite into Kubernetes objects: a TeamSpace claim becomes a namespace, a quota and a role binding", async () => {
    stack("kube-composite", {
      "blue.yaml": "apiVersion: platform.example.org/v1\nkind: TeamSpace\nmetadata: { name: blue }\nspec: { team: blue, cpu: '3' }\n",
    });
    const platform = path.join(workspace.root, "platform");
    mkdirSync(path.join(platform, "composites"), { recursive: true });
    writeFileSync(
      path.join(platform, "composites", "team-space.composite.ts"),
      `import { Type, defineComposite, k8s } from "plumb/sdk";

export default defineComposite({
  apiVersion: "platform.example.org/v1",
  kind: "TeamSpace",
  description: "A team's namespace, its CPU quota and its group's edit rights there.",
  schema: Type.Object(
    { team: Type.String({ pattern: "^[a-z][a-z0-9-]{0,40}$" }), cpu: Type.String({ default: "2" }) },
    { additionalProperties: false },
  ),
  compose(claim) {
    const { team, cpu } = claim.spec;
    const namespace = new k8s.Namespace({ metadata: { name: team, labels: { team } } });
    new k8s.ResourceQuota({ metadata: { name: "compute", namespace: team }, spec: { hard: { "requests.cpu": cpu } } });
    new k8s.RoleBinding(
      {
        metadata: { name: team + "-edit", namespace: team },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edit" },
        subjects: [{ kind: "Group", name: team, apiGroup: "rbac.authorization.k8s.io" }],
      },
      { dependsOn: [namespace] },
    );
  },
});
`,
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes", "--platform", platform]);
    expect(applied.stderr).toBe("");
    expect(applied.status).toBe(0);
    expect((await get("/api/v1/namespaces/blue"))?.metadata).toMatchObject({
      labels: expect.objectContaining({ team: "blue", "plumb.dev/stack": "kube-composite" }),
    });
    expect(((await get("/api/v1/namespaces/blue/resourcequotas/compute"))?.spec as { hard: Record<string, string> }).hard).toEqual({ "requests.cpu": "3" });
    expect((await get("/apis/rbac.authorization.k8s.io/v1/namespaces/blue/rolebindings/blue-edit"))?.subjects).toEqual([
      { kind: "Group", name: "blue", apiGroup: "rbac.authorization.k8s.io" },
    ]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode", "--platform", platform]).status).toBe(0);
  });
});

describe("the cluster install (deploy/kubernetes)", () => {
  interface Item {
    kind: string;
    metadata: { name: string; namespace?: string };
    spec?: Record<string, unknown>;
    data?: Record<string, string>;
  }
  const kubectl = (args: readonly string[]) => {
    const result = spawnSync("kubectl", ["--kubeconfig", kube.kubeconfig, "--context", "test", ...args], { encoding: "utf8" });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const dryRun = (overlay: string): Item[] => {
    const result = kubectl(["apply", "--dry-run=server", "-o", "json", "-k", path.join(repositoryRoot, "deploy", "kubernetes", overlay)]);
    expect(result.status, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { items: Item[] }).items;
  };
  const agentContainer = (items: Item[]) => {
    const deployment = items.find((item) => item.kind === "Deployment");
    const pod = (deployment?.spec?.template as { spec: { serviceAccountName: string; containers: Record<string, unknown>[] } }).spec;
    return { deployment, pod, container: pod.containers[0] as Record<string, { httpGet?: { path: string } }> };
  };

  it("is accepted by the API server as it stands, with probes on /healthz and /readyz and the SQLite store on a volume", async () => {
    // Objects in a namespace the same apply creates cannot be dry-run before it exists.
    expect((await kube.call("POST", "/api/v1/namespaces", { metadata: { name: "plumb-system" } })).status).toBe(201);
    const items = dryRun("base");
    expect(items.map((item) => item.kind).sort()).toEqual(
      ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "Namespace", "PersistentVolumeClaim", "Secret", "Service", "ServiceAccount"].sort(),
    );
    const { deployment, pod, container } = agentContainer(items);
    expect(deployment?.spec?.replicas).toBe(1);
    expect(pod.serviceAccountName).toBe("plumb-agent");
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(JSON.stringify(pod)).toContain('"claimName":"plumb-data"');
  });

  it("runs three agents on a PostgreSQL store in the postgres overlay, without the volume", () => {
    const items = dryRun("postgres");
    expect(items.some((item) => item.kind === "PersistentVolumeClaim")).toBe(false);
    const { deployment, pod } = agentContainer(items);
    expect(deployment?.spec?.replicas).toBe(3);
    expect(JSON.stringify(pod)).not.toContain("claimName");
    expect(items.find((item) => item.kind === "ConfigMap")?.data?.PLUMB_STORE).toMatch(/^postgres:\/\//);
  });

  it("lets the agent's service account manage objects in any namespace, and nobody else through it", () => {
    const applied = kubectl(["apply", "-f", path.join(repositoryRoot, "deploy", "kubernetes", "base", "rbac.yaml"), "-n", "plumb-system"]);
    expect(applied.status, applied.stderr).toBe(0);
    const canI = (who: string, verb: string, resource: string, namespace: string) =>
      kubectl(["auth", "can-i", verb, resource, "-n", namespace, "--as", who]).stdout.trim();
    expect(canI("system:serviceaccount:plumb-system:plumb-agent", "create", "configmaps", "payments")).toBe("yes");
    expect(canI("system:serviceaccount:plumb-system:plumb-agent", "patch", "deployments.apps", "search")).toBe("yes");
    expect(canI("system:serviceaccount:plumb-system:default", "create", "configmaps", "payments")).toBe("no");
  });
});
