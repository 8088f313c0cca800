// Secret stores through the real CLI and a real PostgreSQL: age files with two
// recipients, the Vault stand-in (AppRole, token expiry, missing paths),
// `plumb secrets set` from stdin, and a rotation that changes a role's password.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SecretStores, type SecretStoreDocument } from "../src/secrets/stores.js";
import { runCli, runCliAsync } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";
import { startVaultStandIn, type VaultStandIn } from "./vault-standin.js";

const server = usePostgres();
let work: string;
let vault: VaultStandIn;

beforeAll(async () => {
  vault = await startVaultStandIn({ tokenTtlSeconds: 3600 });
});
afterAll(async () => {
  await vault?.stop();
});
afterEach(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function vaultStore(name: string, auth: SecretStoreDocument["spec"]["auth"], extra: Partial<SecretStoreDocument["spec"]> = {}): SecretStoreDocument {
  return {
    apiVersion: "plumb.dev/v1",
    kind: "SecretStore",
    metadata: { name },
    spec: { type: "vault", address: vault.address, mount: "secret", ...extra, ...(auth === undefined ? {} : { auth }) },
  };
}

const localWith = (values: Record<string, string>) => ({
  async resolve(reference: { secretRef: { name: string; key: string } }) {
    const value = values[`${reference.secretRef.name}/${reference.secretRef.key}`];
    if (value === undefined) throw new Error(`no ${reference.secretRef.name}/${reference.secretRef.key}`);
    return value;
  },
});

describe("age-encrypted secrets", () => {
  it("round-trips for two recipients, and a wrong identity gets a clear error", () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-age-"));
    const [team, platform, stranger] = ["team", "platform", "stranger"].map((name) => {
      const file = path.join(work, `${name}.key`);
      const made = runCli(["secrets", "keygen", "--output", file]);
      expect(made.status, made.stderr).toBe(0);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      return { file, recipient: made.stdout.trim() };
    }) as [{ file: string; recipient: string }, { file: string; recipient: string }, { file: string; recipient: string }];
    expect(team.recipient).toMatch(/^age1[0-9a-z]{58}$/);
    expect(runCli(["secrets", "keygen", "--output", team.file]).stderr).toContain("exists; it is not overwritten");

    const plaintext = "password: s3cret-for-two\nusername: orders\n";
    writeFileSync(path.join(work, "orders.yaml"), plaintext);
    const encrypted = runCli([
      "secrets",
      "encrypt",
      "-r",
      team.recipient,
      "-r",
      platform.recipient,
      "-o",
      path.join(work, "orders.age"),
      path.join(work, "orders.yaml"),
    ]);
    expect(encrypted.status, encrypted.stderr).toBe(0);
    const armored = readFileSync(path.join(work, "orders.age"), "utf8");
    expect(armored).toContain("-----BEGIN AGE ENCRYPTED FILE-----");
    expect(armored).not.toContain("s3cret-for-two");
    for (const reader of [team, platform]) {
      const decrypted = runCli(["secrets", "decrypt", "--identity", reader.file, path.join(work, "orders.age")]);
      expect(decrypted.status, decrypted.stderr).toBe(0);
      expect(decrypted.stdout).toBe(plaintext);
    }
    const wrong = runCli(["secrets", "decrypt", "--identity", stranger.file, path.join(work, "orders.age")]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("orders.age was not encrypted for this identity [PLUMB_SECRET_DECRYPT]");
    expect(wrong.stderr).toContain("re-encrypt the file for this identity's recipient");

    // edit: decrypted into $EDITOR (here a sed script), checked, encrypted again for the recipients given.
    const edited = runCli(["secrets", "edit", path.join(work, "orders.age"), "--identity", team.file, "-r", team.recipient, "-r", platform.recipient], {
      env: { EDITOR: "sed -i s/s3cret-for-two/rotated-value/" },
    });
    expect(edited.status, edited.stderr).toBe(0);
    expect(runCli(["secrets", "decrypt", "--identity", platform.file, path.join(work, "orders.age")]).stdout).toBe(
      "password: rotated-value\nusername: orders\n",
    );
    const broken = runCli(["secrets", "edit", path.join(work, "orders.age"), "--identity", team.file, "-r", team.recipient], { env: { EDITOR: "sed -i 1i[" } });
    expect(broken.stderr).toContain("is not YAML");
    expect(runCli(["secrets", "decrypt", "--identity", platform.file, path.join(work, "orders.age")]).stdout).toContain("rotated-value");

    expect(runCli(["secrets", "encrypt", "-r", "age1nope"], { input: "a: b\n" }).stderr).toContain("recipient 1 is not an age X25519 recipient");
    expect(runCli(["secrets", "encrypt", "-r", team.recipient], { input: "- just\n- a list\n" }).stderr).toContain("must be a mapping of keys to values");
  });

  it("an age store in the platform directory gives a role its password, decrypted only by the identity the agent holds", async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-age-store-"));
    const identity = path.join(work, "agent.key");
    const recipient = runCli(["secrets", "keygen", "--output", identity]).stdout.trim();
    const platform = path.join(work, "platform");
    mkdirSync(path.join(platform, "secrets"), { recursive: true });
    writeFileSync(
      path.join(platform, "stores.yaml"),
      `apiVersion: plumb.dev/v1\nkind: SecretStore\nmetadata: { name: git }\nspec: { type: age, directory: secrets, identityFile: ${JSON.stringify(identity)} }\n`,
    );
    expect(
      runCli(["secrets", "encrypt", "-r", recipient, "-o", path.join(platform, "secrets", "ages.age")], { input: "password: from-an-age-file\n" }).status,
    ).toBe(0);
    const stack = path.join(work, "stack");
    mkdirSync(stack);
    writeFileSync(
      path.join(stack, "stack.yaml"),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ages }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } }\n`,
    );
    writeFileSync(
      path.join(stack, "role.yaml"),
      "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: ages_app }\nspec: { login: true, password: { secretRef: { store: git, name: ages, key: password } } }\n",
    );
    const env = { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password };
    const applied = runCli(["apply", stack, "--yes", "--platform", platform, "--data-dir", path.join(work, "data")], { env });
    expect(applied.status, applied.stderr).toBe(0);
    expect(await server.canLogin("ages_app", "from-an-age-file")).toBe(true);
    expect(runCli(["secrets", "set", "git", "ages", "password", "--platform", platform], { input: "x" }).stderr).toContain(
      "store git (age) cannot be written by Plumb",
    );
  });
});

describe("the Vault stand-in", () => {
  it("reads with AppRole and logs in again when the token expires", async () => {
    vault.put("apps/orders", { password: "kv-value-1" });
    const stores = new SecretStores(
      [vaultStore("vault", { appRole: { roleId: vault.roleId, secretId: { secretRef: { name: "vault", key: "secret-id" } } } }, { pathPrefix: "apps/" })],
      { platformDirectory: "." },
      localWith({ "vault/secret-id": vault.secretId }),
    );
    const reference = { secretRef: { store: "vault", name: "orders", key: "password" } };
    expect(await stores.resolve(reference)).toBe("kv-value-1");
    const before = vault.logins();
    vault.expireTokens();
    expect(await stores.resolve(reference)).toBe("kv-value-1");
    expect(vault.logins()).toBe(before + 1);
  });

  it("says a token expired, a path is missing, a key is missing, or Vault is down — without the token", async () => {
    vault.put("apps/orders", { password: "kv-value-1" });
    const token = vault.issueToken();
    const stores = new SecretStores(
      [vaultStore("vault", { token: { secretRef: { name: "vault", key: "token" } } }, { pathPrefix: "apps/" })],
      { platformDirectory: "." },
      localWith({ "vault/token": token }),
    );
    await expect(stores.resolve({ secretRef: { store: "vault", name: "missing", key: "password" } })).rejects.toThrow(
      "vault store vault has no secret at secret/apps/missing",
    );
    await expect(stores.resolve({ secretRef: { store: "vault", name: "orders", key: "username" } })).rejects.toThrow("has no key username");
    await expect(stores.resolve({ secretRef: { store: "nowhere", name: "orders", key: "password" } })).rejects.toThrow(
      'names store "nowhere", which the platform does not declare',
    );
    vault.expireTokens();
    const expired = await stores.resolve({ secretRef: { store: "vault", name: "orders", key: "password" } }).catch((error: Error & { hint?: string }) => error);
    expect((expired as Error).message).toContain("permission denied for secret/data/apps/orders (the token expired or its policy does not allow it)");
    expect((expired as Error).message).not.toContain(token);
    const down = new SecretStores(
      [vaultStore("vault", { token: { secretRef: { name: "vault", key: "token" } } }, { address: "http://127.0.0.1:9" })],
      { platformDirectory: "." },
      localWith({ "vault/token": token }),
    );
    await expect(down.resolve({ secretRef: { store: "vault", name: "orders", key: "password" } })).rejects.toThrow("cannot reach http://127.0.0.1:9");
  });
});

describe("rotation", () => {
  it("a new value in the store changes the role's password: the new one logs in, the old one not, one audit event without the value", async () => {
    work = mkdtempSync(path.join(tmpdir(), "plumb-rotation-"));
    const platform = path.join(work, "platform");
    mkdirSync(platform);
    writeFileSync(
      path.join(platform, "stores.yaml"),
      `apiVersion: plumb.dev/v1\nkind: SecretStore\nmetadata: { name: vault }\nspec:\n  type: vault\n  default: true\n  address: ${vault.address}\n  pathPrefix: rotation/\n  auth: { appRole: { roleId: ${vault.roleId}, secretId: { secretRef: { store: local, name: vault, key: secret-id } } } }\n`,
    );
    const stack = path.join(work, "stack");
    mkdirSync(stack);
    writeFileSync(
      path.join(stack, "stack.yaml"),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: rotation }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { store: local, name: pg-admin, key: password } } } }\n`,
    );
    writeFileSync(
      path.join(stack, "role.yaml"),
      "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: rotating_app }\nspec: { login: true, password: { secretRef: { name: app, key: password } } }\n",
    );
    const env = { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password, PLUMB_SECRET_VAULT_SECRET_ID: vault.secretId };
    const cli = (args: string[], input?: string) =>
      runCliAsync([...args, "--platform", platform, ...(args[0] === "secrets" ? [] : ["--data-dir", path.join(work, "data")])], {
        env,
        ...(input === undefined ? {} : { input }),
      });

    expect((await cli(["secrets", "set", "vault", "app", "password"], "first-password-1\n")).stdout).toContain("wrote app/password to store vault");
    expect((await cli(["secrets", "set", "vault", "app", "password"], "")).stderr).toContain("the value on stdin is empty; nothing was written");
    expect((await cli(["apply", stack, "--yes"])).status).toBe(0);
    expect(await server.canLogin("rotating_app", "first-password-1")).toBe(true);
    expect((await cli(["plan", stack, "--detailed-exitcode"])).status).toBe(0);

    await cli(["secrets", "set", "vault", "app", "password"], "second-password-2");
    const plan = await cli(["plan", stack, "--detailed-exitcode"]);
    expect(plan.status).toBe(2);
    expect(plan.stdout).toContain("postgres.plumb.dev/v1/Role/rotating_app");
    expect(plan.stdout).not.toMatch(/first-password|second-password/);
    expect((await cli(["apply", stack, "--yes"])).status).toBe(0);
    expect(await server.canLogin("rotating_app", "second-password-2")).toBe(true);
    expect(await server.canLogin("rotating_app", "first-password-1")).toBe(false);

    const exported = runCli(["audit", "export", "--format", "jsonl", "--data-dir", path.join(work, "data")]);
    const events = exported.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { kind: string; resource: string; summary: unknown });
    const rotated = events.filter((event) => event.kind === "secret.rotated");
    expect(rotated).toEqual([
      expect.objectContaining({
        resource: "postgres.plumb.dev/v1/Role/rotating_app",
        summary: { field: "/password", secretRef: { name: "app", key: "password" } },
      }),
    ]);
    expect(exported.stdout).not.toMatch(/first-password|second-password/);
    expect(runCli(["audit", "verify", "--data-dir", path.join(work, "data")]).status).toBe(0);
  });
});
