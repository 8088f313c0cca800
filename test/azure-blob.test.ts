// The Azure Blob provider against Azurite, Microsoft's storage emulator:
// containers with metadata (compliance tags included), public access and
// stored access policies; drift by hand, in-place update, replacement and
// prune under the deletion policy, names Azure refuses, a wrong account key
// and an unreachable endpoint.

import { afterEach, describe, expect, it } from "vitest";
import { useAzurite } from "./azurite-server.js";
import { providerWorkspace, resourceWriter, runCli, type CliResult, type Workspace } from "./helpers.js";
import { freePort } from "./postgres-server.js";

const azurite = useAzurite();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const keySecret = () => ({ PLUMB_SECRET_AZURE_KEY: azurite.accountKey });

function stack(name: string, resources: string, options: { endpoint?: string } = {}): void {
  workspace = providerWorkspace(
    name,
    `blobs: { type: azure-blob, config: { account: ${azurite.account}, accountKey: { secretRef: { name: azure, key: key } }, endpoint: "${options.endpoint ?? azurite.endpoint}" } }`,
    "containers.yaml",
    resources,
  );
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env: { ...keySecret(), ...env } });
}

const container = resourceWriter("azure-blob.plumb.dev/v1", "blobs")("Container");

const policies =
  '[{ id: readers, permissions: rl, expiry: "2027-06-30T00:00:00Z" }, { id: uploader, permissions: acw, start: "2026-12-01T00:00:00Z", expiry: "2027-01-01T00:00:00Z" }]';
const client = (name: string) => azurite.service.getContainerClient(name);

describe("azure-blob provider", () => {
  it("creates a container with metadata, public access and stored access policies, then has nothing to do", async () => {
    stack(
      "az-create",
      container("create-box", `{ publicAccess: blob, metadata: { team: data, managed-by: plumb, Owner: "data@example.org" }, accessPolicies: ${policies} }`),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("1 created");
    const properties = await client("create-box").getProperties();
    expect(properties.metadata).toEqual({ team: "data", managed_x2d_by: "plumb", _x4f_wner: "data@example.org" });
    const access = await client("create-box").getAccessPolicy();
    expect(access.blobPublicAccess).toBe("blob");
    expect(access.signedIdentifiers.map((identifier) => [identifier.id, identifier.accessPolicy.permissions])).toEqual([
      ["readers", "rl"],
      ["uploader", "acw"],
    ]);
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(again.stdout).toContain("Plan: no changes; 1 unchanged.");
    expect(again.status).toBe(0);
  });

  it("finds metadata, public access and a stored policy changed by hand, and puts them back", async () => {
    stack("az-drift", container("drift-box", `{ metadata: { team: data }, accessPolicies: ${policies} }`));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await client("drift-box").setMetadata({ team: "someone-else" });
    await client("drift-box").setAccessPolicy("container", [
      { id: "readers", accessPolicy: { permissions: "rwdl", expiresOn: new Date("2030-01-01T00:00:00Z") } },
    ]);
    const planned = plumb(["plan", workspace.stackDir, "--detailed-exitcode"]);
    expect(planned.status).toBe(2);
    expect(planned.stdout).toContain('metadata.team: "someone-else" → "data"  # drift');
    expect(planned.stdout).toContain('publicAccess: "container" → "none"  # drift');
    expect(planned.stdout).toContain("accessPolicies:");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect((await client("drift-box").getProperties()).metadata).toEqual({ team: "data" });
    const access = await client("drift-box").getAccessPolicy();
    expect(access.blobPublicAccess).toBeUndefined();
    expect(access.signedIdentifiers.map((identifier) => identifier.accessPolicy.permissions)).toEqual(["rl", "acw"]);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);
  });

  it("updates in place, and replaces a container only with deletion-policy Delete", async () => {
    stack("az-update", container("update-box", "{ metadata: { stage: one } }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    await client("update-box").getBlockBlobClient("kept.txt").upload("data", 4);
    workspace.write("containers.yaml", container("update-box", "{ metadata: { stage: two }, publicAccess: container }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).stdout).toContain("1 updated");
    expect((await client("update-box").getProperties()).metadata).toEqual({ stage: "two" });
    expect(await client("update-box").getBlockBlobClient("kept.txt").exists()).toBe(true);
    workspace.write("containers.yaml", container("update-box", "{ name: renamed-box }"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("would replace azure-blob.plumb.dev/v1/Container/update-box, destroying the data it holds");
  });

  it("keeps a container that left the stack, and deletes one with deletion-policy Delete", async () => {
    stack("az-prune", container("kept-box", "{}") + container("dropped-box", "{}", ", plumb.dev/deletion-policy: Delete"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("containers.yaml", container("other-box", "{}"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stdout).toContain("1 no longer managed");
    expect(await client("kept-box").exists()).toBe(true);
    expect(await client("dropped-box").exists()).toBe(false);
  });

  it("refuses container names Azure refuses, at render time", () => {
    stack("az-names", container("Bad_Name", "{}") + container("a--b", "{}"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.status).toBe(1);
    expect(planned.stderr).toContain('container name "Bad_Name" must hold only lower-case letters, digits and hyphens');
    expect(planned.stderr).toContain('container name "a--b" must not hold two hyphens in a row');
  });

  it("reports a wrong account key without showing it, an unreachable endpoint by address, and another stack still applies", async () => {
    stack("az-badkey", container("badkey-box", "{}"));
    const wrongKey = Buffer.from("not-the-account-key-canary-5f").toString("base64");
    const wrong = plumb(["plan", workspace.stackDir], { PLUMB_SECRET_AZURE_KEY: wrongKey });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`Azure Blob account "${azurite.account}" at ${new URL(azurite.endpoint).host} refused Plumb's key`);
    expect(wrong.stderr + wrong.stdout).not.toContain(wrongKey);
    const closedPort = await freePort();
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("az-unreachable", container("unreachable-box", "{}"), { endpoint: `http://127.0.0.1:${closedPort}/${azurite.account}` });
    const unreachable = runCli(["plan", workspace.stackDir, "--data-dir", sharedData], { env: keySecret() });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach Azure Blob account "${azurite.account}" at 127.0.0.1:${closedPort}`);
    workspace.cleanup();
    stack("az-healthy", container("healthy-box", "{}"));
    expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: keySecret() }).status).toBe(0);
    expect(await client("healthy-box").exists()).toBe(true);
  });
});
