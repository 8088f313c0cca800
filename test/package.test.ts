// The npm package as a platform engineer gets it: `npm pack`, then
// `npm install -g` of the tarball into an empty prefix with an empty npm cache
// (every dependency comes from the registry, the native SQLite binding is
// built there), then the installed `plumb` validates, plans and runs an agent
// that renders a program and serves the dashboard, from a copy of the examples.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent } from "./agent-process.js";
import { repositoryRoot, type CliResult } from "./helpers.js";

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

let work: string;
let packed: PackResult;
let plumbBin: string;

/** npm's own settings from `npm test` (npm_config_*, npm_lifecycle_*) would steer the inner npm; it gets a clean environment. */
function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith("npm_")));
  return { ...environment, NO_COLOR: "1", ...extra };
}

function run(command: string, args: readonly string[], cwd: string): CliResult {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: cleanEnvironment(), maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function plumb(args: readonly string[]): CliResult {
  return run(plumbBin, args, path.join(work, "examples"));
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-package-"));
  // `npm test` has built dist/; packing must not rebuild it under the other test files' feet.
  const pack = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], repositoryRoot);
  expect(pack.status, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout) as PackResult[])[0] as PackResult;
  const prefix = path.join(work, "global");
  const install = run(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--cache",
      path.join(work, "npm-cache"),
      "--no-audit",
      "--no-fund",
      "--loglevel",
      "error",
      path.join(work, packed.filename),
    ],
    work,
  );
  expect(install.status, install.stderr).toBe(0);
  plumbBin = path.join(prefix, "bin", "plumb");
  cpSync(path.join(repositoryRoot, "examples"), path.join(work, "examples"), { recursive: true });
}, 600_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe("the npm package", () => {
  it("holds what runs and nothing else", () => {
    const paths = packed.files.map((file) => file.path);
    expect(paths).toContain("dist/cli/main.js");
    expect(paths).toContain("dist/web/index.html");
    expect(paths).toContain("src/sdk/program.ts");
    expect(paths).toContain("schemas/plumb.schema.json");
    expect(paths.filter((file) => /^(test|bench|web|scripts|docs|examples)\//.test(file) || file.endsWith(".map"))).toEqual([]);
    const manifest = JSON.parse(readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as { private?: boolean };
    expect(manifest.private).toBeUndefined();
    // The tarball was 10.7 MB with tests, benchmarks and source maps in it.
    expect(packed.size).toBeLessThan(4 * 1024 * 1024);
  });

  it("installs a plumb command that reports its version", () => {
    const version = (JSON.parse(readFileSync(path.join(repositoryRoot, "package.json"), "utf8")) as { version: string }).version;
    const result = plumb(["--version"]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it("validates YAML, a program and composites from the copied examples", () => {
    const hello = plumb(["validate", "hello", "--env", "prod"]);
    expect(hello.status, hello.stderr).toBe(0);
    // A program is bundled with the SDK shipped in the package, type-checked, and run in the sandbox.
    const program = plumb(["validate", "inventory", "--platform", "platform"]);
    expect(program.status, program.stderr + program.stdout).toBe(0);
    const composites = plumb(["validate", "teams/payments", "--platform", "platform"]);
    expect(composites.status, composites.stderr + composites.stdout).toBe(0);
    const broken = path.join(work, "examples", "broken");
    mkdirSync(broken);
    writeFileSync(path.join(broken, "main.ts"), 'import { file } from "plumb/sdk";\nexport default function () {\n  new file.File("x", { path: 1 });\n}\n');
    const typeError = plumb(["validate", "broken"]);
    expect(typeError.status).toBe(1);
    expect(typeError.stderr).toMatch(/main\.ts:3/);
  });

  it.skipIf(spawnSync("systemd-analyze", ["--version"]).status !== 0)("comes with a systemd unit that systemd-analyze verifies", () => {
    // The unit names /usr/local/bin/plumb, where `npm install -g` puts it; here it is in the test's prefix.
    const unit = readFileSync(path.join(repositoryRoot, "deploy", "systemd", "plumb-agent.service"), "utf8");
    expect(unit).toContain("ExecStart=/usr/local/bin/plumb agent");
    const installedUnit = path.join(work, "plumb-agent.service");
    writeFileSync(installedUnit, unit.replace("/usr/local/bin/plumb", plumbBin));
    const verify = run("systemd-analyze", ["verify", installedUnit], work);
    expect(verify.stderr).toBe("");
    expect(verify.status).toBe(0);
    for (const setting of ["DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=plumb", "NoNewPrivileges=yes", "EnvironmentFile=/etc/plumb/plumb.env"])
      expect(unit).toContain(setting);
    // Every variable the environment file sets is one the agent reads.
    const help = plumb(["agent", "--help"]).stdout.replace(/\s+/g, " ");
    const environment = readFileSync(path.join(repositoryRoot, "deploy", "systemd", "plumb.env"), "utf8");
    const variables = [...environment.matchAll(/^#?(PLUMB_[A-Z_]+)=/gm)].map((match) => match[1] as string).filter((name) => !name.startsWith("PLUMB_SECRET_"));
    expect(variables.length).toBeGreaterThan(8);
    for (const name of variables) expect(help).toContain(name);
  });

  it("plans the hello example with a store of its own", () => {
    const result = plumb(["plan", "hello", "--data-dir", path.join(work, "plan-data"), "--detailed-exitcode"]);
    expect(result.status, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/file\.plumb\.dev\/v1\/File\/readme/);
    expect(existsSync(path.join(work, "examples", "out"))).toBe(false);
  });

  it("runs an agent that applies a program's resources and serves the dashboard without source maps", async () => {
    const platform = path.join(work, "platform");
    mkdirSync(path.join(platform, "stacks"), { recursive: true });
    mkdirSync(path.join(platform, "apps", "notes"), { recursive: true });
    const out = path.join(work, "agent-out");
    writeFileSync(
      path.join(platform, "stacks", "notes.yaml"),
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: notes }\nspec:\n  source: { path: apps/notes }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(out)} } } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n`,
    );
    writeFileSync(
      path.join(platform, "apps", "notes", "main.ts"),
      'import { file } from "plumb/sdk";\nexport default function () {\n  new file.File("note", { path: "note.txt", content: "from the installed package" });\n}\n',
    );
    const agent = await startAgent(["--platform", platform, "--path", "stacks", "--data-dir", path.join(work, "agent-data")], {
      tokenFile: path.join(work, "token"),
      command: [plumbBin],
      env: cleanEnvironment() as Record<string, string>,
    });
    try {
      await eventually(
        async () => {
          const response = await agent.api<StackSummary>("GET", "/api/v1/stacks/notes");
          return response.status === 200 && response.body.conditions.find((item) => item.type === "Ready")?.status === "True" ? true : undefined;
        },
        60_000,
        "notes Ready",
      );
      expect(readFileSync(path.join(out, "note.txt"), "utf8")).toBe("from the installed package");
      const page = await fetch(`${agent.url}/`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      expect(script).toBeDefined();
      const bundle = await fetch(`${agent.url}${script}`);
      expect(bundle.status).toBe(200);
      expect((await bundle.text()).length).toBeGreaterThan(10_000);
      const sourceMap = await fetch(`${agent.url}${script}.map`);
      expect(sourceMap.status).toBe(404);
      await sourceMap.body?.cancel();
    } finally {
      await agent.stop();
    }
  }, 120_000);
});
