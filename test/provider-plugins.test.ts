// Provider plug-ins: the example plug-in in examples/platform plans, applies
// and heals drift from the CLI and from a real agent reading a git platform;
// a module that differs from its declared hash, one that imports anything but
// node: built-ins, a symbolic link, a provider that claims Plumb's group or a
// built-in's type, and a team stack that declares a plug-in are each refused
// with the reason — and nothing of a refused module runs.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent } from "./agent-process.js";
import { createTestRepository } from "./git-repository.js";
import { repositoryRoot, runCli } from "./helpers.js";

let work: string;
const examplePlugin = path.join(repositoryRoot, "examples", "platform", "providers", "hosts.ts");
const sha256 = (text: string | Buffer) => createHash("sha256").update(text).digest("hex");

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-plugins-test-"));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** A stack of the hosts plug-in's kind, writing its inventory to `inventory`. */
function hostsStack(directory: string, inventory: string, address = "10.0.4.11"): string {
  mkdirSync(directory, { recursive: true });
  writeFileSync(
    path.join(directory, "stack.yaml"),
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${path.basename(directory)} }\nspec:\n  providers: { default: { type: hosts, config: { file: ${JSON.stringify(inventory)} } } }\n  metadata: { owner: infra@example.org }\n---\napiVersion: hosts.example.org/v1\nkind: Host\nmetadata: { name: build-01 }\nspec: { address: ${address}, owner: infra@example.org }\n`,
  );
  return directory;
}

/** A platform directory holding one plug-in module with `text`, declared with `declaredHash` (default: its own). */
function platformWith(name: string, text: string, declaredHash = sha256(text), module = "providers/plugin.ts"): string {
  const directory = path.join(work, name);
  mkdirSync(path.join(directory, "providers"), { recursive: true });
  writeFileSync(path.join(directory, module), text);
  writeFileSync(
    path.join(directory, "plugins.yaml"),
    `apiVersion: plumb.dev/v1\nkind: ProviderPlugin\nmetadata: { name: ${name} }\nspec: { module: ${module}, sha256: "${declaredHash}" }\n`,
  );
  return directory;
}

describe("provider plug-ins", () => {
  it("the example plug-in plans, applies, writes the compliance tags, and heals drift", () => {
    const inventory = path.join(work, "cli", "inventory.json");
    const stack = hostsStack(path.join(work, "cli-hosts"), inventory);
    const flags = ["--platform", "examples/platform", "--data-dir", path.join(work, "cli-data"), "--policy", "examples/platform/compliance.yaml"];
    const planned = runCli(["plan", stack, ...flags]);
    expect(planned.stderr).toBe("");
    expect(planned.stdout).toMatch(/\+\s+hosts\.example\.org\/v1\/Host\/build-01\s+create/);
    expect(runCli(["apply", stack, ...flags, "--yes"]).status).toBe(0);
    const written = JSON.parse(readFileSync(inventory, "utf8")) as Record<string, { address: string; tags: Record<string, string> }>;
    expect(written["build-01"]?.address).toBe("10.0.4.11");
    expect(written["build-01"]?.tags).toMatchObject({ "managed-by": "plumb", stack: "cli-hosts", owner: "infra@example.org" });
    expect(runCli(["plan", stack, ...flags, "--detailed-exitcode"]).status).toBe(0);
    // A change by hand in the inventory is drift, and apply puts it back.
    writeFileSync(inventory, JSON.stringify({ ...written, "build-01": { ...written["build-01"], address: "10.9.9.9" } }));
    const drifted = runCli(["plan", stack, ...flags, "--detailed-exitcode"]);
    expect(drifted.status).toBe(2);
    expect(drifted.stdout).toContain('address: "10.9.9.9" → "10.0.4.11"');
    expect(runCli(["apply", stack, ...flags, "--yes"]).status).toBe(0);
    expect((JSON.parse(readFileSync(inventory, "utf8")) as Record<string, { address: string }>)["build-01"]?.address).toBe("10.0.4.11");
  });

  it("is loaded by an agent from the platform repository, and its stacks apply", async () => {
    const repository = createTestRepository();
    const inventory = path.join(work, "agent", "inventory.json");
    repository.write("platform/providers/hosts.ts", readFileSync(examplePlugin, "utf8"));
    repository.write("platform/plugins.yaml", readFileSync(path.join(repositoryRoot, "examples", "platform", "plugins.yaml"), "utf8"));
    repository.write(
      "platform/hosts.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: fleet-hosts }\nspec:\n  source: { path: hosts }\n  sync: { auto: true, interval: 1s }\n`,
    );
    hostsStack(path.join(repository.directory, "hosts"), inventory, "10.0.5.1");
    repository.commit("the hosts plug-in and a stack of it");
    const agent = await startAgent(
      ["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "agent-data"), "--platform-interval", "1s"],
      {
        tokenFile: path.join(work, "agent-token"),
      },
    );
    try {
      await eventually(
        async () => ((await agent.api<StackSummary>("GET", "/api/v1/stacks/fleet-hosts")).body.lastAppliedRevision !== null ? true : undefined),
        30_000,
        "fleet-hosts applied",
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}\n${agent.output().slice(-3000)}`);
      });
      expect((JSON.parse(readFileSync(inventory, "utf8")) as Record<string, { address: string }>)["build-01"]?.address).toBe("10.0.5.1");
      // A module changed without its hash: refused, named among the platform's problems; the version loaded before keeps running.
      repository.write("platform/providers/hosts.ts", `${readFileSync(examplePlugin, "utf8")}\n// changed\n`);
      repository.commit("an unreviewed change to the plug-in");
      const problems = await eventually(async () => {
        const list = (await agent.api<{ problems: string[] }>("GET", "/api/v1/stacks")).body.problems;
        return list.some((problem) => problem.includes("PLUMB_PROVIDER_PLUGIN")) ? list : undefined;
      }, 30_000);
      expect(problems.join("\n")).toMatch(
        /plugins\.yaml:\d+: ProviderPlugin hosts: module "providers\/hosts\.ts" has SHA-256 [0-9a-f]{64}, not the [0-9a-f]{64} declared; it is not loaded/,
      );
      // The stack keeps working on the version loaded before (it may be reconciling the new commit for a moment).
      await eventually(
        async () => ((await agent.api<StackSummary>("GET", "/api/v1/stacks/fleet-hosts")).body.state === "Ready" ? true : undefined),
        20_000,
        "fleet-hosts Ready",
      );
    } finally {
      await agent.stop();
      repository.cleanup();
    }
  }, 90_000);

  it("refuses a module that differs from its hash, imports more than node: built-ins, is a link, or claims what is not its own — and runs none of it", () => {
    const marker = path.join(work, "ran.txt");
    // Each module would leave a trace if any of it ran.
    const leaves = `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\n`;
    const body = (group: string, type: string) =>
      `${leaves}export default (sdk: any) => sdk.defineProvider({ type: "${type}", group: "${group}", version: "v1", configSchema: sdk.Type.Object({}), connect: async () => ({}), kinds: [{ kind: "Thing", schema: sdk.Type.Object({}), read: async () => null, create: async () => ({ spec: {} }), update: async () => ({ spec: {} }), delete: async () => undefined }] });\n`;
    const stack = hostsStack(path.join(work, "refusals-stack"), path.join(work, "never.json"));
    const plan = (platform: string) => runCli(["plan", stack, "--platform", platform, "--data-dir", path.join(work, "refusals-data")]);

    const tampered = plan(platformWith("tampered", body("things.example.org", "things"), "0".repeat(64)));
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toMatch(
      /plugins\.yaml:1: ProviderPlugin tampered: module "providers\/plugin\.ts" has SHA-256 [0-9a-f]{64}, not the 0{64} declared; it is not loaded \[PLUMB_PROVIDER_PLUGIN\]/,
    );

    const importing = plan(platformWith("importing", `import { helper } from "./helper.js";\nhelper();\n${body("things.example.org", "things")}`));
    expect(importing.stderr).toContain('imports "./helper.js": a plug-in is one file that imports only node: built-ins');

    const ownGroup = plan(platformWith("own-group", body("evil.plumb.dev", "evil")));
    expect(ownGroup.stderr).toContain("group evil.plumb.dev is Plumb's own");
    const builtIn = plan(platformWith("built-in", body("files.example.org", "file")));
    expect(builtIn.stderr).toContain("provider type file is taken already");

    const linked = platformWith("linked", body("things.example.org", "things"));
    rmSync(path.join(linked, "providers", "plugin.ts"));
    writeFileSync(path.join(work, "outside.ts"), body("things.example.org", "things"));
    symlinkSync(path.join(work, "outside.ts"), path.join(linked, "providers", "plugin.ts"));
    expect(plan(linked).stderr).toContain('module "providers/plugin.ts" is a symbolic link');

    const escaping = platformWith("escaping", body("things.example.org", "things"), undefined, "providers/plugin.ts");
    writeFileSync(
      path.join(escaping, "plugins.yaml"),
      `apiVersion: plumb.dev/v1\nkind: ProviderPlugin\nmetadata: { name: escaping }\nspec: { module: ../outside.ts, sha256: "${sha256(readFileSync(path.join(work, "outside.ts")))}" }\n`,
    );
    expect(plan(escaping).stderr).toContain('module "../outside.ts" is outside the platform directory');
    // The built-in and own-group modules did run their factory's file (they were loaded, then refused by what they returned);
    // none of the others ran at all.
    rmSync(marker, { force: true });
    for (const refused of ["tampered", "importing", "linked", "escaping"]) plan(path.join(work, refused));
    expect(existsSync(marker)).toBe(false);
  });

  it("loads a plug-in packed as an npm package, pinned by the tarball's integrity, and runs nothing of one that differs", () => {
    const marker = path.join(work, "package-ran.txt");
    /** A package directory holding the example plug-in (with a line that leaves a trace when it runs), packed by npm into `destination`. */
    const pack = (name: string, destination: string, extra = "") => {
      const directory = path.join(work, name);
      mkdirSync(directory, { recursive: true });
      writeFileSync(
        path.join(directory, "package.json"),
        JSON.stringify({ name: `@acme/${name}`, version: "1.2.0", type: "module", exports: { ".": { import: "./dist/index.ts" } }, files: ["dist"] }),
      );
      mkdirSync(path.join(directory, "dist"), { recursive: true });
      writeFileSync(
        path.join(directory, "dist", "index.ts"),
        `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(marker)}, "ran\\n");\n${readFileSync(examplePlugin, "utf8")}${extra}`,
      );
      mkdirSync(destination, { recursive: true });
      const packed = spawnSync("npm", ["pack", directory, "--pack-destination", destination, "--json", "--ignore-scripts", "--silent"], { encoding: "utf8" });
      expect(packed.status).toBe(0);
      const file = (JSON.parse(packed.stdout) as { filename: string }[])[0]?.filename ?? "";
      return {
        directory,
        file,
        integrity: `sha512-${createHash("sha512")
          .update(readFileSync(path.join(destination, file)))
          .digest("base64")}`,
      };
    };
    const platform = path.join(work, "package-platform");
    const packed = pack("plumb-provider-hosts", path.join(platform, "vendor"));
    const declare = (spec: string, integrity: string) =>
      writeFileSync(
        path.join(platform, "plugins.yaml"),
        `apiVersion: plumb.dev/v1\nkind: ProviderPlugin\nmetadata: { name: hosts }\nspec: { package: ${JSON.stringify(spec)}, integrity: "${integrity}" }\n`,
      );
    const stack = hostsStack(path.join(work, "package-stack"), path.join(work, "package.json-inventory"));
    const plan = () => runCli(["plan", stack, "--platform", platform, "--data-dir", path.join(work, "package-data")]);

    // A tarball kept in the platform repository.
    declare(`file:vendor/${packed.file}`, packed.integrity);
    const fromTarball = plan();
    expect(fromTarball.stderr).toBe("");
    expect(fromTarball.stdout).toMatch(/\+\s+hosts\.example\.org\/v1\/Host\/build-01\s+create/);
    // Anything npm pack takes (here the package's directory, as a registry name@version would be): npm fetches it, the integrity pins it.
    declare(packed.directory, packed.integrity);
    const fromNpm = plan();
    expect(fromNpm.stderr).toBe("");
    expect(fromNpm.stdout).toContain("hosts.example.org/v1/Host/build-01");

    // The same package with one byte changed is refused, and nothing of it runs.
    writeFileSync(path.join(packed.directory, "dist", "index.ts"), `${readFileSync(path.join(packed.directory, "dist", "index.ts"), "utf8")}\n`);
    rmSync(marker, { force: true });
    const changed = plan();
    expect(changed.status).toBe(1);
    expect(changed.stderr).toMatch(
      /ProviderPlugin hosts: package ".*plumb-provider-hosts" has integrity sha512-\S+, not the sha512-\S+ declared; it is not loaded/,
    );
    const tampered = pack("plumb-provider-hosts", path.join(work, "tampered-vendor"), "\n// one more line\n");
    cpSync(path.join(work, "tampered-vendor", tampered.file), path.join(platform, "vendor", packed.file));
    declare(`file:vendor/${packed.file}`, packed.integrity);
    expect(plan().stderr).toContain("not loaded");
    expect(existsSync(marker)).toBe(false);

    declare("file:../outside.tgz", packed.integrity);
    expect(plan().stderr).toContain('package "file:../outside.tgz" is outside the platform directory');
    writeFileSync(
      path.join(platform, "plugins.yaml"),
      `apiVersion: plumb.dev/v1\nkind: ProviderPlugin\nmetadata: { name: hosts }\nspec: { package: "x@1", sha256: "${"0".repeat(64)}" }\n`,
    );
    expect(plan().stderr).toContain("ProviderPlugin hosts: spec needs module and sha256, or package and integrity");
  });

  it("refuses a team stack that declares a plug-in", () => {
    const stack = hostsStack(path.join(work, "team-stack"), path.join(work, "team.json"));
    cpSync(examplePlugin, path.join(stack, "hosts.ts"));
    writeFileSync(
      path.join(stack, "plugin.yaml"),
      `apiVersion: plumb.dev/v1\nkind: ProviderPlugin\nmetadata: { name: smuggled }\nspec: { module: hosts.ts, sha256: "${sha256(readFileSync(examplePlugin))}" }\n`,
    );
    const refused = runCli(["plan", stack, "--data-dir", path.join(work, "team-data")]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      "plugin.yaml:1:1: a ProviderPlugin belongs in the platform repository; a stack may not declare one [PLUMB_PROJECT_DENIED]",
    );
  });
});
