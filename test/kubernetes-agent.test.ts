// The agent with Kubernetes stacks, against a real kube-apiserver: a stack is
// Ready only once its objects are healthy (a Deployment's rollout, reported
// here by the test as the missing controller would), a rollout that never
// finishes stalls it after its healthTimeout, a field the stack is told to
// ignore is left as another client set it, and a stack whose cluster is
// unreachable is degraded while its neighbour stays Ready.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { useKube } from "./kube-server.js";

const kube = useKube();
let work: string;
let repository: TestRepository;
let agent: RunningAgent;

const stack = (name: string, config: string, healthTimeout = "1h") =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  providers: { cluster: { type: kubernetes, config: ${config} } }\n  sync: { auto: true, prune: true, selfHeal: true, interval: 1s, driftInterval: 1s, healthTimeout: ${healthTimeout} }\n`;
const deployment = (ns: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: ${ns} }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: web } }\n  template: { metadata: { labels: { app: web } }, spec: { containers: [ { name: web, image: "nginx:1.25" } ] } }\n`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-kube-agent-"));
  repository = createTestRepository();
  const kubeconfig = `{ kubeconfig: ${JSON.stringify(kube.kubeconfig)} }`;
  repository.write("platform/rollout.yaml", stack("rollout", kubeconfig));
  repository.write("apps/rollout/app.yaml", deployment("rollout"));
  repository.write("platform/stuck.yaml", stack("stuck", kubeconfig, "3s"));
  repository.write("apps/stuck/app.yaml", deployment("stuck"));
  repository.write("platform/offline.yaml", stack("offline", `{ server: "https://127.0.0.1:1", ca: ${JSON.stringify(kube.caFile)} }`));
  repository.write("apps/offline/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c, namespace: default }\ndata: { a: b }\n");
  // Fields another writer owns: one by the resource's annotation, one by the stack's rule for its kind.
  repository.write(
    "platform/ignoring.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ignoring }\nspec:\n  source: { path: apps/ignoring }\n  providers: { cluster: { type: kubernetes, config: ${kubeconfig} } }\n  sync: { auto: true, prune: true, selfHeal: true, interval: 1s, driftInterval: 1s, ignoreDifferences: [ { kind: ConfigMap, pointers: [/data/size] }, { kind: ConfigMap, name: ignoring/scaled, managers: [autoscaler] } ] }\n`,
  );
  repository.write(
    "apps/ignoring/app.yaml",
    'apiVersion: v1\nkind: Namespace\nmetadata: { name: ignoring }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: ignoring, annotations: { plumb.dev/ignore-differences: /data/mode } }\ndata: { mode: blue, size: small, other: kept }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: scaled, namespace: ignoring }\ndata: { replicas: "1", note: kept }\n',
  );
  // Three sync waves: a ConfigMap, then a Deployment that must become healthy, then another ConfigMap.
  repository.write("platform/waves.yaml", stack("waves", kubeconfig));
  repository.write(
    "apps/waves/app.yaml",
    [
      "apiVersion: v1\nkind: Namespace\nmetadata: { name: waves }\n",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: first, namespace: waves }\ndata: { wave: '0' }\n",
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: db, namespace: waves, annotations: { plumb.dev/sync-wave: "1" } }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: db } }\n  template: { metadata: { labels: { app: db } }, spec: { containers: [ { name: db, image: "postgres:17" } ] } }\n',
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: last, namespace: waves, annotations: { plumb.dev/sync-wave: '2' } }\ndata: { wave: '2' }\n",
    ].join("---\n"),
  );
  repository.commit("five stacks on two clusters");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
  });
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

async function condition(name: string, type: string): Promise<StackSummary["conditions"][number] | undefined> {
  const { body } = await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`);
  return body.conditions?.find((item) => item.type === type);
}

describe("the agent with Kubernetes stacks", () => {
  it("holds Ready until the Deployment has rolled out, then says Ready", async () => {
    const waiting = await eventually(async () => {
      const ready = await condition("rollout", "Ready");
      return ready?.reason === "Progressing" ? ready : undefined;
    });
    expect(waiting.status).toBe("False");
    expect(waiting.message).toContain("apps/v1/Deployment/rollout/web");
    // Written as the deployment controller would, once its pods are available.
    const live = await kube.call<Record<string, unknown>>("GET", "/apis/apps/v1/namespaces/rollout/deployments/web");
    const reported = await kube.call("PUT", "/apis/apps/v1/namespaces/rollout/deployments/web/status", {
      ...live.body,
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 },
    });
    expect(reported.status).toBe(200);
    const ready = await eventually(async () => {
      const current = await condition("rollout", "Ready");
      return current?.status === "True" ? current : undefined;
    });
    expect(ready.reason).toBe("Succeeded");
  });

  it("stalls a stack whose rollout outlasts its healthTimeout", async () => {
    const stalled = await eventually(async () => {
      const current = await condition("stuck", "Stalled");
      return current?.status === "True" ? current : undefined;
    });
    expect(stalled.reason).toBe("HealthTimeout");
    expect(stalled.message).toContain("still not healthy after 3s");
  });

  it("leaves a field it is told to ignore as another client set it — not drift, not healed — while it heals the others", async () => {
    const settings = "/api/v1/namespaces/ignoring/configmaps/settings";
    await eventually(async () => ((await condition("ignoring", "Ready"))?.status === "True" ? true : undefined), 60_000, "ignoring applied");
    const changed = await kube.call(
      "PATCH",
      `${settings}?fieldManager=mutating-webhook`,
      { data: { mode: "set-by-webhook", size: "large", other: "changed" } },
      "application/merge-patch+json",
    );
    expect(changed.status).toBe(200);
    // The field nothing ignores is put back by the drift loop; the two ignored ones keep what the other client wrote.
    await eventually(
      async () => ((await kube.call<{ data: Record<string, string> }>("GET", settings)).body.data.other === "kept" ? true : undefined),
      30_000,
      "other healed",
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await kube.call<{ data: Record<string, string> }>("GET", settings)).body.data).toEqual({ mode: "set-by-webhook", size: "large", other: "kept" });
    const events = await agent.api<{ items: { type: string; message: string }[] }>("GET", "/api/v1/stacks/ignoring/events?limit=100");
    const drift = events.body.items.filter((event) => event.type === "drift.detected").map((event) => event.message);
    expect(drift.length).toBeGreaterThan(0);
    expect(drift.join("\n")).toContain("/data/other");
    expect(drift.join("\n")).not.toMatch(/\/data\/(mode|size)/);
    // By field manager: what the autoscaler wrote stays; what another client wrote in the same object is healed.
    const scaled = "/api/v1/namespaces/ignoring/configmaps/scaled";
    for (const [manager, data] of [
      ["autoscaler", { replicas: "5" }],
      ["someone", { note: "changed" }],
    ] as const)
      expect((await kube.call("PATCH", `${scaled}?fieldManager=${manager}`, { data }, "application/merge-patch+json")).status).toBe(200);
    await eventually(
      async () => ((await kube.call<{ data: Record<string, string> }>("GET", scaled)).body.data.note === "kept" ? true : undefined),
      30_000,
      "note healed",
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await kube.call<{ data: Record<string, string> }>("GET", scaled)).body.data).toEqual({ replicas: "5", note: "kept" });
    const scaledEvents = await agent.api<{ items: { type: string; message: string; address: string | null }[] }>(
      "GET",
      "/api/v1/stacks/ignoring/events?limit=200",
    );
    const scaledDrift = scaledEvents.body.items.filter((event) => event.type === "drift.detected" && event.message.includes("scaled"));
    expect(scaledDrift.map((event) => event.message).join("\n")).toContain("/data/note");
    expect(scaledDrift.map((event) => event.message).join("\n")).not.toContain("/data/replicas");
    // The plan says what it ignores and why.
    const plan = await agent.api<{ changes: unknown[] }>("GET", "/api/v1/stacks/ignoring/plan");
    expect(plan.body.changes).toEqual([]);
    expect((await condition("ignoring", "Ready"))?.status).toBe("True");
  });

  it("applies sync waves in order, each healthy before the next starts", async () => {
    const exists = async (apiPath: string) => (await kube.call("GET", apiPath)).status === 200;
    const db = "/apis/apps/v1/namespaces/waves/deployments/db";
    await eventually(async () => ((await exists(db)) ? true : undefined), 60_000, "wave 1 applied");
    expect(await exists("/api/v1/namespaces/waves/configmaps/first")).toBe(true);
    // The Deployment has not rolled out: wave 2 waits for it.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await exists("/api/v1/namespaces/waves/configmaps/last")).toBe(false);
    // Written as the deployment controller would, once its pods are available.
    const live = await kube.call<Record<string, unknown>>("GET", db);
    const reported = await kube.call("PUT", `${db}/status`, {
      ...live.body,
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1, readyReplicas: 1 },
    });
    expect(reported.status).toBe(200);
    await eventually(async () => ((await exists("/api/v1/namespaces/waves/configmaps/last")) ? true : undefined), 30_000, "wave 2 applied");
    await eventually(async () => ((await condition("waves", "Ready"))?.status === "True" ? true : undefined), 30_000, "waves Ready");
    // The API (and the stack page's list) say each resource's wave.
    const resources = await agent.api<{ items: { name: string; wave?: number }[] }>("GET", "/api/v1/stacks/waves/resources");
    expect(Object.fromEntries(resources.body.items.map((item) => [item.name, item.wave ?? 0]))).toEqual({
      waves: 0,
      "waves/first": 0,
      "waves/db": 1,
      "waves/last": 2,
    });
  });

  it("degrades only the stack whose cluster cannot be reached", async () => {
    const degraded = await eventually(async () => {
      const current = await condition("offline", "Degraded");
      return current?.status === "True" ? current : undefined;
    });
    expect(degraded.message).toContain("cannot reach the Kubernetes API server https://127.0.0.1:1");
    expect((await condition("rollout", "Degraded"))?.status).not.toBe("True");
  });
});
