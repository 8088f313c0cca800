// Drift prevention against a real kube-apiserver: a stack with
// sync.preventDrift gets a ValidatingWebhookConfiguration pointing at the
// agent's HTTPS webhook; a person (alice, given the built-in `edit` role)
// cannot change a field the stack sets nor delete its object, may change what
// the stack does not set, and Plumb's own changes from Git pass. Turning the
// option off prunes the webhook configuration.

import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
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
let firstCommit: string;

const webhookPath = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/plumb-prevent-drift.guarded.cluster";
const configMapPath = "/api/v1/namespaces/guarded/configmaps/settings";
const mergePatch = "application/merge-patch+json";

const stackDocument = (preventDrift: boolean) =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: guarded }\nspec:\n  source: { path: apps/guarded }\n  providers: { cluster: { type: kubernetes, config: { kubeconfig: ${JSON.stringify(kube.kubeconfig)} } } }\n  sync: { auto: true, prune: true, selfHeal: true, preventDrift: ${preventDrift}, interval: 1s, driftInterval: 1s }\n`;
const objects = (level: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: guarded }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: guarded }\ndata: { level: ${level} }\n`;

interface ConfigMap {
  data?: Record<string, string>;
  metadata?: { annotations?: Record<string, string> };
}

interface WebhookConfiguration {
  webhooks?: { clientConfig?: { url?: string; caBundle?: string }; failurePolicy?: string }[];
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-kube-admission-"));
  // alice may edit ConfigMaps, as a team member would (the built-in `edit` role is filled by a controller that is not running).
  const role = await kube.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    metadata: { name: "configmap-editor" },
    rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "patch", "update", "delete"] }],
  });
  expect(role.status).toBe(201);
  const granted = await kube.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    metadata: { name: "alice-configmap-editor" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "configmap-editor" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "alice" }],
  });
  expect(granted.status).toBe(201);
  repository = createTestRepository();
  repository.write("platform/guarded.yaml", stackDocument(true));
  repository.write("apps/guarded/objects.yaml", objects("info"));
  firstCommit = repository.commit("a guarded stack");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data"), "--admission-listen", "127.0.0.1:0"], {
    tokenFile: path.join(work, "token"),
  });
  await eventually(async () => {
    const { body } = await agent.api<StackSummary>("GET", "/api/v1/stacks/guarded");
    return body.conditions?.find((condition) => condition.type === "Ready")?.status === "True" ? true : undefined;
  }, 60_000);
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/**
 * One POST to the agent's webhook, as the API server would send it (its CA
 * bundle is the one written into the cluster). A number instead of a body
 * announces that many bytes and sends none: the refusal must come first.
 */
function postToWebhook(url: string, caBundle: string, body: string | number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const length = typeof body === "number" ? body : Buffer.byteLength(body);
    const outgoing = request(
      url,
      { method: "POST", ca: caBundle, headers: { "content-type": "application/json", "content-length": String(length) } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    outgoing.on("error", reject);
    if (typeof body === "number") outgoing.flushHeaders();
    else outgoing.end(body);
  });
}

describe("drift prevention (sync.preventDrift) on a real kube-apiserver", () => {
  it("writes a webhook configuration that trusts the agent's CA and calls the stack's own path", async () => {
    const { status, body } = await kube.call<WebhookConfiguration>("GET", webhookPath);
    expect(status).toBe(200);
    const webhook = body.webhooks?.[0];
    expect(webhook?.clientConfig?.url).toMatch(/^https:\/\/127\.0\.0\.1:[0-9]+\/admission\/v1\/guarded\/cluster$/);
    expect(Buffer.from(webhook?.clientConfig?.caBundle ?? "", "base64").toString("utf8")).toContain("BEGIN CERTIFICATE");
    expect(webhook?.failurePolicy).toBe("Ignore");
  });

  it("refuses a person's change to a field the stack sets, naming the stack, the field and the commit", async () => {
    const refused = await kube.callAsAlice<{ message?: string }>("PATCH", configMapPath, { data: { level: "debug" } }, mergePatch);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('admission webhook "prevent-drift.plumb.dev" denied the request');
    expect(refused.body.message).toContain("/data/level is managed by Plumb stack guarded");
    expect(refused.body.message).toContain(firstCommit.slice(0, 12));
    expect((await kube.call<ConfigMap>("GET", configMapPath)).body.data?.level).toBe("info");
  });

  it("lets a person change what the stack does not set", async () => {
    const allowed = await kube.callAsAlice<ConfigMap>(
      "PATCH",
      configMapPath,
      { metadata: { annotations: { "team.example.org/note": "on call: bob" } } },
      mergePatch,
    );
    expect(allowed.status).toBe(200);
    expect(allowed.body.metadata?.annotations?.["team.example.org/note"]).toBe("on call: bob");
  });

  it("refuses a person's delete of an object the stack declares", async () => {
    const refused = await kube.callAsAlice<{ message?: string }>("DELETE", configMapPath);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain("ConfigMap guarded/settings is managed by Plumb stack guarded");
    expect(refused.body.message).toContain("remove it from the stack in Git");
    expect((await kube.call("GET", configMapPath)).status).toBe(200);
  });

  it("answers a malformed or oversized request with a clear error and keeps serving", async () => {
    const { body } = await kube.call<WebhookConfiguration>("GET", webhookPath);
    const url = body.webhooks?.[0]?.clientConfig?.url ?? "";
    const caBundle = Buffer.from(body.webhooks?.[0]?.clientConfig?.caBundle ?? "", "base64").toString("utf8");
    const malformed = await postToWebhook(url, caBundle, JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: 7 } }));
    expect(malformed.status).toBe(400);
    expect(malformed.text).toContain("not an admission.k8s.io/v1 AdmissionReview: request.uid");
    const notJson = await postToWebhook(url, caBundle, "{ not json");
    expect(notJson.status).toBe(400);
    const oversized = await postToWebhook(url, caBundle, 9 * 1024 * 1024);
    expect(oversized.status).toBe(413);
    const unknownStack = await postToWebhook(
      url.replace("/guarded/", "/nobody/"),
      caBundle,
      JSON.stringify({
        apiVersion: "admission.k8s.io/v1",
        kind: "AdmissionReview",
        request: {
          uid: "u1",
          kind: { group: "", version: "v1", kind: "ConfigMap" },
          operation: "DELETE",
          name: "settings",
          namespace: "guarded",
          userInfo: { username: "mallory" },
        },
      }),
    );
    expect(unknownStack.status).toBe(200);
    expect(JSON.parse(unknownStack.text)).toMatchObject({ response: { uid: "u1", allowed: true } });
  });

  it("lets Plumb's own change from Git through", async () => {
    repository.write("apps/guarded/objects.yaml", objects("warn"));
    repository.commit("level warn");
    await eventually(async () => ((await kube.call<ConfigMap>("GET", configMapPath)).body.data?.level === "warn" ? true : undefined), 60_000);
  });

  it("prunes the webhook configuration when preventDrift is turned off; a hand edit is then drift, and healed", async () => {
    repository.write("platform/guarded.yaml", stackDocument(false));
    repository.commit("drift prevention off");
    await eventually(async () => ((await kube.call("GET", webhookPath)).status === 404 ? true : undefined), 60_000);
    const edited = await kube.callAsAlice<ConfigMap>("PATCH", configMapPath, { data: { level: "debug" } }, mergePatch);
    expect(edited.status).toBe(200);
    await eventually(async () => ((await kube.call<ConfigMap>("GET", configMapPath)).body.data?.level === "warn" ? true : undefined), 60_000);
  });
});
