// The drift-prevention webhook's answer, case by case, without a cluster:
// which requests pass, which are refused, and what the refusal says.

import { describe, expect, it } from "vitest";
import { kubernetesProvider } from "../src/providers/kubernetes/index.js";
import type { AdmissionContext } from "../src/sdk/provider.js";
import type { JsonObject } from "../src/sdk/resource.js";

const guard = kubernetesProvider.admission as NonNullable<typeof kubernetesProvider.admission>;

const desiredConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "team" }, data: { level: "info" } };
const desiredSecret = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "db", namespace: "team" },
  stringData: { password: { secretRef: { name: "db", key: "password" } } },
};

function context(overrides: Partial<AdmissionContext> = {}): AdmissionContext {
  const desired = new Map<string, JsonObject>([
    ["v1 ConfigMap team/settings", desiredConfigMap],
    ["v1 Secret team/db", desiredSecret as unknown as JsonObject],
  ]);
  return {
    stack: "team",
    source: "https://git.example.org/team.git#apps",
    revision: "0123456789abcdef0123",
    desired: (apiVersion, kind, name) => desired.get(`${apiVersion} ${kind} ${name}`),
    identity: async () => "plumb-agent",
    ...overrides,
  };
}

const live = (data: Record<string, string>, extra: JsonObject = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", namespace: "team", labels: { "plumb.dev/stack": "team" }, ...extra },
  data,
});

function review(request: JsonObject): JsonObject {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "u-1",
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      name: "settings",
      namespace: "team",
      userInfo: { username: "alice" },
      ...request,
    },
  };
}

async function answer(request: JsonObject, overrides: Partial<AdmissionContext> = {}) {
  const result = (await guard.review(review(request), context(overrides))) as {
    response: { uid: string; allowed: boolean; status?: { message: string }; warnings?: string[] };
  };
  return result.response;
}

describe("the drift-prevention webhook's answer", () => {
  it("refuses a change to a field the stack sets, naming field, stack, source and commit", async () => {
    const response = await answer({ operation: "UPDATE", oldObject: live({ level: "info" }), object: live({ level: "debug" }) });
    expect(response).toMatchObject({ uid: "u-1", allowed: false });
    expect(response.status?.message).toBe(
      "ConfigMap team/settings: /data/level is managed by Plumb stack team (https://git.example.org/team.git#apps at 0123456789ab): change it in Git instead, or set sync.preventDrift: false",
    );
  });

  it("refuses taking the stack's label off, which would hide the object from Plumb", async () => {
    const response = await answer({
      operation: "UPDATE",
      oldObject: live({ level: "info" }),
      object: { ...live({ level: "info" }), metadata: { name: "settings", namespace: "team" } },
    });
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain("/metadata/labels/plumb.dev~1stack");
  });

  it("lets through Plumb's own change, a change back to what Git says, and fields the stack does not set", async () => {
    expect(
      (await answer({ operation: "UPDATE", userInfo: { username: "plumb-agent" }, oldObject: live({ level: "info" }), object: live({ level: "debug" }) }))
        .allowed,
    ).toBe(true);
    expect((await answer({ operation: "UPDATE", oldObject: live({ level: "debug" }), object: live({ level: "info" }) })).allowed).toBe(true);
    expect(
      (await answer({ operation: "UPDATE", oldObject: live({ level: "info" }), object: live({ level: "info", extra: "x" }, { annotations: { note: "x" } }) }))
        .allowed,
    ).toBe(true);
  });

  it("lets through subresources, creations and objects the stack does not declare", async () => {
    expect((await answer({ operation: "UPDATE", subResource: "status", oldObject: live({ level: "info" }), object: live({ level: "debug" }) })).allowed).toBe(
      true,
    );
    expect((await answer({ operation: "CREATE", object: live({ level: "debug" }) })).allowed).toBe(true);
    expect((await answer({ operation: "DELETE", name: "other" })).allowed).toBe(true);
  });

  it("refuses a delete of a declared object", async () => {
    const response = await answer({ operation: "DELETE" });
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain("ConfigMap team/settings is managed by Plumb stack team");
  });

  it("refuses a change to a Secret value set from a secret reference, without saying the value", async () => {
    const secret = (password: string) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db", namespace: "team", labels: { "plumb.dev/stack": "team" } },
      data: { password: Buffer.from(password).toString("base64") },
    });
    const response = await answer({
      kind: { group: "", version: "v1", kind: "Secret" },
      name: "db",
      operation: "UPDATE",
      oldObject: secret("s3cr3t-old"),
      object: secret("s3cr3t-new"),
    });
    expect(response.allowed).toBe(false);
    expect(response.status?.message).toContain("/stringData/password");
    expect(JSON.stringify(response)).not.toMatch(/s3cr3t|czNjcjN0/);
  });

  it("lets a change through with a warning when it cannot tell who Plumb is, rather than locking Plumb out", async () => {
    const response = await answer(
      { operation: "UPDATE", oldObject: live({ level: "info" }), object: live({ level: "debug" }) },
      {
        identity: async () => {
          throw new Error("no TokenReview");
        },
      },
    );
    expect(response.allowed).toBe(true);
    expect(response.warnings?.[0]).toContain("Plumb cannot check this change: no TokenReview");
  });

  it("refuses what is not an AdmissionReview with a clear error", async () => {
    await expect(guard.review({ kind: "Pod" }, context())).rejects.toThrow("not an admission.k8s.io/v1 AdmissionReview: apiVersion or kind");
    await expect(guard.review(review({ operation: "UPDATE", object: live({ level: "x" }) }), context())).rejects.toThrow(
      "an UPDATE without object and oldObject",
    );
  });
});
