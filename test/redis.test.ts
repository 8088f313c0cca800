// The Redis provider against a real redis-server: ACL users created, drift made
// by hand and healed, rule spellings the server rewrites taken as no change,
// in-place update, replacement, prune and retain, hostile names, an unreachable
// server, and passwords that never leave the agent.

import { afterEach, describe, expect, it } from "vitest";
import { providerWorkspace, resourceWriter, expectNowhere, runCli, type CliResult, type Workspace } from "./helpers.js";
import { freePort } from "./postgres-server.js";
import { useRedis } from "./redis-server.js";

const server = useRedis();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const adminSecret = () => ({ PLUMB_SECRET_REDIS_ADMIN_PASSWORD: server.password });

function stack(name: string, resources: string, options: { port?: number } = {}): void {
  workspace = providerWorkspace(
    name,
    `cache: { type: redis, config: { host: 127.0.0.1, port: ${options.port ?? server.port}, password: { secretRef: { name: redis-admin, key: password } }, connectTimeoutSeconds: 2 } }`,
    "users.yaml",
    resources,
  );
}

function plumb(args: string[], env: Record<string, string> = {}): CliResult {
  return runCli([...args, "--data-dir", workspace.dataDir], { env: { ...adminSecret(), ...env } });
}

const user = resourceWriter("redis.plumb.dev/v1", "cache")("User");

async function aclUser(name: string): Promise<Record<string, string> | null> {
  const reply = (await server.command(["ACL", "GETUSER", name])) as (string | string[])[] | null;
  if (reply === null) return null;
  const fields: Record<string, string> = {};
  for (let index = 0; index < reply.length; index += 2) {
    const value = reply[index + 1];
    fields[String(reply[index])] = Array.isArray(value) ? value.join(" ") : String(value);
  }
  return fields;
}

const appPassword = "app-Password-canary-7f3a";
const secrets = { PLUMB_SECRET_APP_CACHE_PASSWORD: appPassword };

describe("redis provider", () => {
  it("creates ACL users with passwords, keys, channels and commands, then has nothing to do, though the server rewrites the rules", async () => {
    stack(
      "redis-create",
      user(
        "orders-app",
        "{ passwords: [{ secretRef: { name: app-cache, key: password } }], keys: ['orders:*'], readKeys: ['catalog:*'], channels: ['orders.*'], commands: ['-@all', '+@read', '+get', '+SET', '-keys'] }",
      ) + user("orders-monitor", "{ enabled: false, nopass: true, commands: ['+@all', '-@dangerous'] }"),
    );
    const applied = plumb(["apply", workspace.stackDir, "--yes"], secrets);
    expect(applied.stderr).toBe("");
    expect(applied.stdout).toContain("2 created");
    const app = await aclUser("orders-app");
    expect(app).toMatchObject({ flags: expect.stringContaining("on"), keys: "~orders:* %R~catalog:*", channels: "&orders.*" });
    // The server keeps its own spelling: +get is in @read already, +SET is lower-cased, the order is its own.
    expect(app?.commands?.split(" ").sort()).toEqual(["+@read", "+set", "-@all", "-keys"]);
    expect(await server.canLogin("orders-app", appPassword)).toBe(true);
    expect(await server.canLogin("orders-monitor", "anything")).toBe(false);
    const again = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(again.stdout).toContain("Plan: no changes; 2 unchanged.");
    expect(again.status).toBe(0);
  });

  it("finds rules, passwords and the on flag changed by hand, and puts them back", async () => {
    stack(
      "redis-drift",
      user("drift-app", "{ passwords: [{ secretRef: { name: app-cache, key: password } }], keys: ['drift:*'], commands: ['-@all', '+@read'] }"),
    );
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    await server.command(["ACL", "SETUSER", "drift-app", "off", "+flushall", "~*", ">a-password-set-by-hand", "(+@all ~secret:*)"]);
    const planned = plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets);
    expect(planned.status).toBe(2);
    expect(planned.stdout).toContain("redis.plumb.dev/v1/User/drift-app");
    for (const field of ["enabled", "keys", "commands", "passwords"]) expect(planned.stdout).toContain(field);
    expect(planned.stdout).not.toContain("a-password-set-by-hand");
    const detail = plumb(["plan", workspace.stackDir, "--format", "json"], secrets).stdout;
    expect(detail).toContain("(a password Plumb did not set)");
    expect(detail).not.toContain("a-password-set-by-hand");
    expect(plumb(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(await aclUser("drift-app")).toMatchObject({ keys: "~drift:*", commands: "-@all +@read", selectors: "" });
    expect(await server.canLogin("drift-app", appPassword)).toBe(true);
    expect(await server.canLogin("drift-app", "a-password-set-by-hand")).toBe(false);
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"], secrets).status).toBe(0);
  });

  it("updates rules in place and replaces a user whose name changes", async () => {
    stack("redis-update", user("update-app", "{ nopass: true, keys: ['a:*'], commands: ['+get'] }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("users.yaml", user("update-app", "{ nopass: true, keys: ['a:*', 'b:*'], commands: ['+get', '+set'] }"));
    const updated = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(updated.stdout).toContain("1 updated");
    expect(await aclUser("update-app")).toMatchObject({ keys: "~a:* ~b:*" });
    expect((await aclUser("update-app"))?.commands?.split(" ").sort()).toEqual(["+get", "+set", "-@all"]);
    workspace.write("users.yaml", user("update-app", "{ name: renamed-app, nopass: true, keys: ['a:*'] }"));
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.stdout).toMatch(/replace.*name/);
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(await aclUser("update-app")).toBeNull();
    expect(await aclUser("renamed-app")).toMatchObject({ keys: "~a:*" });
  });

  it("deletes a user that left the stack, and keeps one whose deletion policy is Retain", async () => {
    stack("redis-prune", user("pruned-user", "{ commands: ['+ping'] }") + user("kept-user", "{ commands: ['+ping'] }", ", plumb.dev/deletion-policy: Retain"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("users.yaml", user("other-user", "{ commands: ['+ping'] }"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.status).toBe(0);
    expect(await aclUser("pruned-user")).toBeNull();
    expect(await aclUser("kept-user")).not.toBeNull();
    expect(await aclUser("other-user")).not.toBeNull();
  });

  it("creates a user with a hostile name exactly, and refuses a name or pattern with a space at render time", async () => {
    const hostile = `x";FLUSHALL;--'\\*`;
    await server.command(["SET", "survivor", "1"]);
    stack("redis-hostile", user(hostile, "{ keys: ['we\"ird:*'], commands: ['+get'] }"));
    const applied = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applied.stderr).toBe("");
    expect(await aclUser(hostile)).toMatchObject({ keys: '~we"ird:*' });
    expect(await server.command(["GET", "survivor"])).toBe("1");
    expect(plumb(["plan", workspace.stackDir, "--detailed-exitcode"]).status).toBe(0);

    workspace.write("users.yaml", user("two words", "{ keys: ['a b'], commands: ['+get; FLUSHALL'] }"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('ACL user name "two words" holds a space');
    expect(refused.stderr).toContain('pattern "a b" holds a space');
    expect(refused.stderr).toContain('"+get; FLUSHALL" is not a command rule');
  });

  it("names a rule the server refuses, and the user stays as it was", async () => {
    stack("redis-badrule", user("badrule-app", "{ commands: ['+get'] }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    workspace.write("users.yaml", user("badrule-app", "{ commands: ['+get', '+nosuchcommand'] }"));
    const failed = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain("+nosuchcommand");
    expect(failed.stderr).toContain("redis.plumb.dev/v1/User/badrule-app");
    expect(await aclUser("badrule-app")).toMatchObject({ commands: "-@all +get" });
  });

  it("rotates a password, keeps only digests, and never shows a password anywhere", async () => {
    const rotated = "rotated-Password-canary-91b2";
    stack("redis-secret", user("secret-app", "{ passwords: [{ secretRef: { name: app-cache, key: password } }], commands: ['+ping'] }"));
    const outputs: string[] = [];
    const run = (args: string[], env: Record<string, string>) => {
      const result = plumb(args, env);
      outputs.push(result.stdout, result.stderr);
      return result;
    };
    expect(run(["apply", workspace.stackDir, "--yes"], secrets).status).toBe(0);
    expect(run(["plan", workspace.stackDir, "--detailed-exitcode"], { PLUMB_SECRET_APP_CACHE_PASSWORD: rotated }).status).toBe(2);
    expect(run(["apply", workspace.stackDir, "--yes"], { PLUMB_SECRET_APP_CACHE_PASSWORD: rotated }).status).toBe(0);
    expect(await server.canLogin("secret-app", rotated)).toBe(true);
    expect(await server.canLogin("secret-app", appPassword)).toBe(false);
    const shown = run(["state", "show", "redis.plumb.dev/v1/User/secret-app"], {});
    expect(shown.stdout).toContain("digest: hmac-sha256:");
    run(["history"], {});
    expectNowhere([appPassword, rotated, server.password], outputs, workspace.dataDir);
  });

  it("reports a wrong admin password and an unreachable server by address, and another stack still applies", async () => {
    stack("redis-wrongpw", user("wrongpw-app", "{ commands: ['+ping'] }"));
    const wrong = plumb(["plan", workspace.stackDir], { PLUMB_SECRET_REDIS_ADMIN_PASSWORD: "not-the-admin-password-3c" });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain(`Redis at 127.0.0.1:${server.port}`);
    expect(wrong.stderr).toContain("refused Plumb");
    expect(wrong.stderr).not.toContain("not-the-admin-password-3c");
    const closedPort = await freePort();
    const sharedData = workspace.dataDir;
    workspace.cleanup();
    stack("redis-unreachable", user("unreachable-app", "{ commands: ['+ping'] }"), { port: closedPort });
    const unreachable = runCli(["plan", workspace.stackDir, "--data-dir", sharedData], { env: adminSecret() });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach Redis at 127.0.0.1:${closedPort}`);
    workspace.cleanup();
    stack("redis-healthy", user("healthy-app", "{ commands: ['+ping'] }"));
    expect(runCli(["apply", workspace.stackDir, "--yes", "--data-dir", sharedData], { env: adminSecret() }).status).toBe(0);
    expect(await aclUser("healthy-app")).not.toBeNull();
  });

  it("leaves users it does not manage alone", async () => {
    await server.command(["ACL", "SETUSER", "hand-made", "on", "nopass", "+ping"]);
    stack("redis-unmanaged", user("managed-one", "{ commands: ['+ping'] }"));
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(plumb(["plan", workspace.stackDir, "--show-unchanged"]).stdout).not.toContain("hand-made");
    expect(await aclUser("hand-made")).toMatchObject({ commands: "-@all +ping" });
  });
});
