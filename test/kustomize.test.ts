// Kustomize as a render step, with the machine's kubectl, against a real
// kube-apiserver: a base with dev and prod overlays built and applied per
// environment (values and compliance metadata applied to the build's output),
// remote bases refused at their line unless the project lists the repository
// (then fetched through Plumb's git source), nothing outside the stack
// readable, and Kustomize's own errors named by kustomization file.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PlumbError, PlumbErrorList } from "../src/errors.js";
import type { Project } from "../src/project-definition.js";
import { defaultRegistry } from "../src/providers/registry.js";
import { renderStack } from "../src/render/load-stack.js";
import { GitMirrors } from "../src/source/git.js";
import { createTestRepository } from "./git-repository.js";
import { createWorkspace, runCli, type Workspace } from "./helpers.js";
import { useKube } from "./kube-server.js";

const kube = useKube();
const registry = defaultRegistry();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

/** A stack of a Namespace, a base (a Deployment and a ConfigMap) and dev and prod overlays built from it. */
function overlayStack(name: string, overlays: Record<string, string> = {}): void {
  workspace = createWorkspace({ name });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1
kind: Stack
metadata: { name: ${name} }
spec:
  environment: dev
  kustomize: { path: "overlays/\${values.environment}" }
  providers:
    cluster: { type: kubernetes, config: { kubeconfig: ${kube.kubeconfig} } }
  sync: { prune: true }
`,
  );
  workspace.write("namespace.yaml", 'apiVersion: v1\nkind: Namespace\nmetadata: { name: "kz-${values.environment}" }\n');
  workspace.write("values.dev.yaml", "level: debug\n");
  workspace.write("values.prod.yaml", "level: warn\n");
  workspace.write("base/kustomization.yaml", "resources:\n  - deployment.yaml\n  - settings.yaml\n");
  workspace.write(
    "base/deployment.yaml",
    `apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: kz }
spec:
  replicas: 2
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [ { name: web, image: "nginx:1.25" } ] }
`,
  );
  workspace.write("base/settings.yaml", 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: kz }\ndata: { level: "${values.level}" }\n');
  for (const [environment, replicas] of [
    ["dev", 1],
    ["prod", 3],
  ] as const) {
    workspace.write(
      `overlays/${environment}/kustomization.yaml`,
      overlays[environment] ??
        `bases:\n  - ../../base\nnamespace: kz-${environment}\nnamePrefix: ${environment}-\ncommonLabels: { env: ${environment} }\npatchesStrategicMerge:\n  - replicas.yaml\n`,
    );
    workspace.write(
      `overlays/${environment}/replicas.yaml`,
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: kz }\nspec: { replicas: ${replicas} }\n`,
    );
  }
}

interface KubeObject {
  metadata: { labels: Record<string, string> };
  spec: { replicas?: number };
  data?: Record<string, string>;
}

async function get(apiPath: string): Promise<KubeObject | undefined> {
  const answer = await kube.call("GET", apiPath);
  return answer.status === 404 ? undefined : (answer.body as unknown as KubeObject);
}

/** The render's problems, one line each. */
async function renderProblems(directory: string, options: { project?: Project; fetch?: GitMirrors } = {}): Promise<string> {
  try {
    await renderStack(directory, {
      registry,
      ...(options.project === undefined ? {} : { project: options.project }),
      ...(options.fetch === undefined ? {} : { fetchRemoteBase: (base) => (options.fetch as GitMirrors).checkoutRef(base.repository, base.ref) }),
    });
    return "";
  } catch (error) {
    if (error instanceof PlumbErrorList) return error.errors.map((problem) => problem.describe()).join("\n");
    if (error instanceof PlumbError) return error.describe();
    throw error;
  }
}

/** A privileged project (no other fences), so only its remote-base list is in question. */
const project = (remoteBases: string[]): Project => ({ name: "team-a", privileged: true, kustomizeRemoteBases: remoteBases }) as Project;

describe("kustomize overlays", () => {
  it("builds each environment's overlay, applies values and compliance metadata to its output, and applies it", async () => {
    overlayStack("kz");
    for (const environment of ["dev", "prod"]) {
      const applied = runCli(["apply", workspace.stackDir, "--env", environment, "--yes", "--data-dir", workspace.dataDir]);
      expect(applied.status, applied.stderr + applied.stdout).toBe(0);
    }
    const dev = await get("/apis/apps/v1/namespaces/kz-dev/deployments/dev-web");
    const prod = await get("/apis/apps/v1/namespaces/kz-prod/deployments/prod-web");
    expect([dev?.spec.replicas, prod?.spec.replicas]).toEqual([1, 3]);
    expect(prod?.metadata.labels.env).toBe("prod");
    // Compliance metadata reaches what Kustomize built, as any other resource: the stack it belongs to.
    expect(prod?.metadata.labels["plumb.dev/stack"]).toBe("kz-prod");
    expect((await get("/api/v1/namespaces/kz-dev/configmaps/dev-settings"))?.data).toEqual({ level: "debug" });
    expect((await get("/api/v1/namespaces/kz-prod/configmaps/prod-settings"))?.data).toEqual({ level: "warn" });
    // The base itself is Kustomize's input, never a resource of its own.
    expect(await get("/api/v1/namespaces/kz")).toBeUndefined();
    const plan = runCli(["plan", workspace.stackDir, "--env", "prod", "--detailed-exitcode", "--data-dir", workspace.dataDir]);
    expect(plan.status, plan.stdout + plan.stderr).toBe(0);
  });

  it("refuses a remote base at its line, and builds one from a repository the project lists, fetched by Plumb", async () => {
    const remote = createTestRepository();
    const cache = mkdtempSync(path.join(tmpdir(), "plumb-kz-git-"));
    try {
      remote.write("shared/kustomization.yaml", "resources:\n  - limits.yaml\n");
      remote.write("shared/limits.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: limits, namespace: kz }\ndata: { cpu: '2' }\n");
      remote.commit("shared base");
      remote.git("tag", "v1");
      const overlay = `bases:\n  - ../../base\n  - ${remote.url}//shared?ref=v1\nnamePrefix: dev-\n`;
      overlayStack("kz-remote", { dev: overlay });
      const refused = await renderProblems(workspace.stackDir);
      expect(refused).toContain("overlays/dev/kustomization.yaml:3");
      expect(refused).toContain(`remote base ${remote.url}//shared?ref=v1 is not allowed`);
      expect(await renderProblems(workspace.stackDir, { project: project(["https://git.example.org/*"]) })).toContain("is not allowed");

      const rendered = await renderStack(workspace.stackDir, {
        registry,
        project: project([`${remote.url}*`]),
        fetchRemoteBase: (base) => new GitMirrors(cache).checkoutRef(base.repository, base.ref),
      });
      const names = rendered.resources.map((resource) => resource.address).sort();
      expect(names).toContain("v1/ConfigMap/kz/dev-limits");
      expect(names).toContain("apps/v1/Deployment/kz/dev-web");

      workspace.write("overlays/dev/kustomization.yaml", `bases:\n  - ${remote.url}//shared\n`);
      expect(await renderProblems(workspace.stackDir, { project: project([`${remote.url}*`]) })).toContain("names no ref");
    } finally {
      remote.cleanup();
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("reads nothing outside the stack: a base out of it is refused, and a linked file out of it cannot be read", async () => {
    const outside = mkdtempSync(path.join(tmpdir(), "plumb-kz-outside-"));
    try {
      mkdirSync(path.join(outside, "base"));
      writeFileSync(path.join(outside, "base", "kustomization.yaml"), "resources: []\n");
      writeFileSync(path.join(outside, "canary.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: canary-7f3a, namespace: kz }\n");
      overlayStack("kz-escape");
      const outsideBase = path.relative(path.join(workspace.stackDir, "overlays/dev"), path.join(outside, "base"));
      workspace.write("overlays/dev/kustomization.yaml", `bases:\n  - ../../base\n  - ${outsideBase}\n`);
      const escaped = await renderProblems(workspace.stackDir);
      expect(escaped).toContain("overlays/dev/kustomization.yaml:3");
      expect(escaped).toContain("lies outside the stack");

      // A linked YAML file out of the stack is refused before any build; a linked file Kustomize reads is not there for it.
      symlinkSync(path.join(outside, "canary.yaml"), path.join(workspace.stackDir, "overlays/dev/linked.yaml"));
      expect(await renderProblems(workspace.stackDir)).toContain("symlink to a place outside the stack");
      rmSync(path.join(workspace.stackDir, "overlays/dev/linked.yaml"));
      symlinkSync(path.join(outside, "canary.yaml"), path.join(workspace.stackDir, "overlays/dev/linked.txt"));
      workspace.write(
        "overlays/dev/kustomization.yaml",
        "bases:\n  - ../../base\nconfigMapGenerator:\n  - name: leak\n    namespace: kz\n    files: [linked.txt]\n",
      );
      const linked = await renderProblems(workspace.stackDir);
      expect(linked).toContain("kustomize build overlays/dev failed");
      expect(linked).toContain("overlays/dev/kustomization.yaml");
      expect(linked).not.toContain("canary-7f3a");
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("names the kustomization for Kustomize's own errors, and one that is never built", async () => {
    overlayStack("kz-errors", { dev: "bases:\n  - ../../base\nresources:\n  - missing.yaml\n" });
    const missing = await renderProblems(workspace.stackDir);
    expect(missing).toContain("overlays/dev/kustomization.yaml");
    expect(missing).toContain("missing.yaml");
    expect(missing).not.toContain("/plumb/stack");

    // A path that leads nowhere is named where the Stack says it.
    workspace.write(
      "stack.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: kz-errors }\nspec:\n  kustomize: { path: overlays/qa }\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: ${kube.kubeconfig} } }\n`,
    );
    expect(await renderProblems(workspace.stackDir)).toMatch(/stack\.yaml:5:\d+: spec\.kustomize\.path overlays\/qa is not a directory of the stack/);

    workspace.write(
      "stack.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: kz-errors }\nspec:\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: ${kube.kubeconfig} } }\n`,
    );
    const unbuilt = await renderProblems(workspace.stackDir);
    expect(unbuilt).toContain("base/kustomization.yaml:1");
    expect(unbuilt).toContain("this kustomization is never built");
  });
});
