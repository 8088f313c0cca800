// Sync hooks against a real kube-apiserver, with the job controller's part
// played by the test (it writes each Job's status): a pre-sync Job that fails
// stops the sync before any change and runs the sync-failed hook; one that
// succeeds is deleted by its policy, the changes follow and the post-sync
// hook runs; each hook's create and delete is on the audit trail; a sync with
// nothing to change runs no hook.

import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace, runCli, runCliAsync, type CliResult, type Workspace } from "./helpers.js";
import { useKube } from "./kube-server.js";

const kube = useKube();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

beforeAll(async () => {
  // Hooks run before any change of the stack, so the namespace they run in is there already, as with any pre-sync hook.
  await kube.call("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "hooks" } });
});

const job = (name: string, annotations: string) => `---
apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  namespace: hooks
  annotations: { ${annotations} }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [ { name: migrate, image: "busybox:1.36", command: [sh, -c, "echo migrating"] } ]
`;
const configMap = (name: string, annotations = "") =>
  `---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: ${name}, namespace: hooks${annotations === "" ? "" : `, annotations: { ${annotations} }`} }\ndata: { from: git }\n`;

function stack(name: string, resources: string): void {
  workspace = createWorkspace({ name });
  workspace.write(
    "stack.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: ${kube.kubeconfig} } }\n  sync: { prune: true, healthTimeout: 1m }\n`,
  );
  workspace.write("app.yaml", resources);
}

const exists = async (apiPath: string) => (await kube.call("GET", apiPath)).status === 200;

/** Applies while playing the job controller: once `jobName` appears, its status says `condition`. */
async function applyWithJob(jobName: string, condition: "Complete" | "Failed"): Promise<CliResult> {
  const applied = runCliAsync(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
  const jobPath = `/apis/batch/v1/namespaces/hooks/jobs/${jobName}`;
  for (let attempt = 0; attempt < 200 && !(await exists(jobPath)); attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
  const created = (await kube.call("GET", jobPath)).body;
  const written = await kube.call("PUT", `${jobPath}/status`, {
    ...created,
    status:
      condition === "Complete"
        ? { succeeded: 1, conditions: [{ type: "Complete", status: "True" }] }
        : {
            failed: 1,
            conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit" }],
          },
  });
  expect(written.status).toBe(200);
  return applied;
}

describe("sync hooks", () => {
  it("stops the sync when a pre-sync Job fails, applies nothing else, and runs the sync-failed hook", async () => {
    stack("hooks-fail", job("migrate-fail", '"plumb.dev/hook": pre-sync') + configMap("app-fail") + configMap("alert", '"plumb.dev/hook": sync-failed'));
    const applied = await applyWithJob("migrate-fail", "Failed");
    expect(applied.status, applied.stdout + applied.stderr).not.toBe(0);
    expect(applied.stdout + applied.stderr).toContain(
      "pre-sync hook failed: batch/v1/Job/hooks/migrate-fail is Degraded: Job has reached the specified backoff limit",
    );
    expect(await exists("/api/v1/namespaces/hooks/configmaps/app-fail")).toBe(false);
    expect(await exists("/api/v1/namespaces/hooks/configmaps/alert")).toBe(true);
    // The default policy (before-creation) leaves the failed Job to be read until the next sync replaces it.
    expect(await exists("/apis/batch/v1/namespaces/hooks/jobs/migrate-fail")).toBe(true);
    // Hooks are not resources the stack keeps: no record, so no drift, no health, no prune.
    const state = runCli(["state", "list", "--stack", "hooks-fail", "--data-dir", workspace.dataDir]).stdout;
    expect(state).not.toContain("migrate-fail");
    expect(state).not.toContain("alert");
  });

  it("deletes a pre-sync Job that succeeded by its policy, then applies the changes and the post-sync hook, and records the hooks", async () => {
    stack(
      "hooks-pass",
      job("migrate", '"plumb.dev/hook": pre-sync, "plumb.dev/hook-delete-policy": on-success') +
        configMap("app") +
        configMap("done", '"plumb.dev/hook": post-sync') +
        configMap("alert-pass", '"plumb.dev/hook": sync-failed'),
    );
    const planned = runCli(["plan", workspace.stackDir, "--data-dir", workspace.dataDir]).stdout;
    expect(planned).toContain("batch/v1/Job/hooks/migrate  hook: pre-sync");
    expect(planned).toContain("v1/ConfigMap/hooks/done  hook: post-sync");
    const applied = await applyWithJob("migrate", "Complete");
    expect(applied.status, applied.stdout + applied.stderr).toBe(0);
    expect(await exists("/apis/batch/v1/namespaces/hooks/jobs/migrate")).toBe(false);
    expect(await exists("/api/v1/namespaces/hooks/configmaps/app")).toBe(true);
    expect(await exists("/api/v1/namespaces/hooks/configmaps/done")).toBe(true);
    expect(await exists("/api/v1/namespaces/hooks/configmaps/alert-pass")).toBe(false);
    const audit = runCli(["audit", "export", "--resource", "batch/v1/Job/hooks/migrate", "--data-dir", workspace.dataDir]).stdout;
    expect(audit).toContain('"reason":"pre-sync hook"');
    expect(audit.match(/"action":"(create|delete)"/g)).toEqual(['"action":"create"', '"action":"delete"']);

    // Nothing to change: no hook runs, so the Job is not created again.
    const again = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(await exists("/apis/batch/v1/namespaces/hooks/jobs/migrate")).toBe(false);
  });

  it("refuses a hook phase or delete policy it does not know, at its line", () => {
    stack("hooks-typo", configMap("typo", '"plumb.dev/hook": presync, "plumb.dev/hook-delete-policy": "on-success, always"'));
    const validated = runCli(["validate", workspace.stackDir]);
    expect(validated.status).toBe(1);
    expect(validated.stderr).toContain('app.yaml:4:58 (v1/ConfigMap/hooks/typo): plumb.dev/hook holds "presync"; it takes pre-sync, post-sync, sync-failed');
    expect(validated.stderr).toContain('plumb.dev/hook-delete-policy holds "always"; it takes before-creation, on-success, on-failure');
  });
});
