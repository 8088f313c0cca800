// Stacks written as TypeScript programs and platform composites, through the
// real CLI: the sandbox process, the type checker, references, claims, docs.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, fileResource, runCli, type Workspace } from "./helpers.js";

const workspaces: Workspace[] = [];
afterEach(() => {
  for (const workspace of workspaces.splice(0)) workspace.cleanup();
});

function workspaceWith(options: { prune?: boolean; name?: string } = {}): Workspace {
  const workspace = createWorkspace(options);
  workspaces.push(workspace);
  return workspace;
}

function plumb(workspace: Workspace, ...args: string[]) {
  return runCli([...args, "--data-dir", workspace.dataDir]);
}

/** A platform directory (beside the stack) holding composites that compose files. */
function writeComposites(workspace: Workspace, files: Record<string, string>): string {
  const directory = path.join(workspace.root, "platform");
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
    writeFileSync(path.join(directory, name), text);
  }
  return directory;
}

const noteComposite = `
import { Claim, Type, defineComposite, file } from "plumb/sdk";
export default defineComposite({
  apiVersion: "platform.test/v1",
  kind: "Notes",
  description: "A folder of notes.",
  schema: Type.Object({
    folder: Type.String({ pattern: "^[a-z]+$", description: "Folder name." }),
    count: Type.Integer({ minimum: 1, maximum: 5, default: 2, description: "How many notes." }),
    withIndex: Type.Boolean({ default: false }),
  }, { additionalProperties: false }),
  examples: [{ title: "Two notes", name: "ideas", spec: { folder: "ideas", count: 2, withIndex: false } }],
  compose(claim) {
    const folder = new file.Directory(claim.name + "-dir", { path: claim.spec.folder });
    for (let index = 1; index <= claim.spec.count; index += 1) {
      new file.File(claim.name + "-" + index, { path: claim.spec.folder + "/note-" + index + ".txt", content: "note " + index + "\\n" }, { dependsOn: [folder] });
    }
    if (claim.spec.withIndex) new Claim("platform.test/v1", "Index", claim.name + "-index", { folder: claim.spec.folder, count: claim.spec.count });
  },
});
`;

const indexComposite = `
import { Type, defineComposite, file } from "plumb/sdk";
export default defineComposite({
  apiVersion: "platform.test/v1",
  kind: "Index",
  description: "An index file listing notes.",
  schema: Type.Object({ folder: Type.String(), count: Type.Integer() }),
  compose(claim) {
    const lines = Array.from({ length: claim.spec.count }, (_, index) => "note-" + (index + 1) + ".txt");
    new file.File(claim.name, { path: claim.spec.folder + "/INDEX", content: lines.join("\\n") + "\\n" });
  },
});
`;

describe("programs", () => {
  it("a program and a YAML file declaring the same resources produce the same plan", () => {
    const yaml = workspaceWith({ name: "same" });
    yaml.write(
      "files.yaml",
      [
        "apiVersion: file.plumb.dev/v1\nkind: Directory\nmetadata: { name: docs }\nspec: { path: docs }\n",
        fileResource("readme", "docs/README.md", "docs"),
      ].join("---\n"),
    );
    const program = workspaceWith({ name: "same" });
    program.write(
      "main.ts",
      [
        'import { file } from "plumb/sdk";',
        "export default function () {",
        '  const docs = new file.Directory("docs", { path: "docs" });',
        '  new file.File("readme", { path: "docs/README.md", content: docs.path });',
        "}",
        "",
      ].join("\n"),
    );
    const plans = [yaml, program].map((workspace) => {
      const result = plumb(workspace, "plan", workspace.stackDir, "--format", "json");
      expect(result.stderr).toBe("");
      return JSON.parse(result.stdout) as { changes: { address: string; action: string; diffs: unknown }[]; summary: unknown };
    });
    const [fromYaml, fromProgram] = plans as [NonNullable<(typeof plans)[0]>, NonNullable<(typeof plans)[0]>];
    expect(fromProgram.changes.map((change) => change.address)).toEqual(["file.plumb.dev/v1/Directory/docs", "file.plumb.dev/v1/File/readme"]);
    expect(fromProgram.changes).toEqual(fromYaml.changes);
    expect(fromProgram.summary).toEqual(fromYaml.summary);
  });

  it("a reference orders the resources and is resolved to the referenced output when applied", () => {
    const workspace = workspaceWith();
    workspace.write("values.yaml", "greeting: hello\n");
    workspace.write(
      "main.ts",
      [
        'import { file, type StackContext } from "plumb/sdk";',
        "export default function (context: StackContext) {",
        '  const target = new file.File("zz-target", { path: "target.txt", content: String(context.values.greeting) });',
        '  new file.File("aa-pointer", { path: "pointer.txt", content: target.path });',
        "}",
        "",
      ].join("\n"),
    );
    const plan = plumb(workspace, "plan", workspace.stackDir, "--format", "json");
    const changes = (JSON.parse(plan.stdout) as { changes: { address: string }[] }).changes.map((change) => change.address);
    expect(changes.indexOf("file.plumb.dev/v1/File/zz-target")).toBeLessThan(changes.indexOf("file.plumb.dev/v1/File/aa-pointer"));
    expect(plumb(workspace, "apply", workspace.stackDir, "--yes").status).toBe(0);
    expect(readFileSync(path.join(workspace.outputDir, "pointer.txt"), "utf8")).toBe("target.txt");
    expect(readFileSync(path.join(workspace.outputDir, "target.txt"), "utf8")).toBe("hello");
    const state = plumb(workspace, "state", "show", "file.plumb.dev/v1/File/aa-pointer", "--stack", "test");
    expect(state.stdout).toContain("file.plumb.dev/v1/File/zz-target");
  });

  it("type errors fail plumb validate with file:line; schema errors name the program's line without the type check", () => {
    const workspace = workspaceWith();
    workspace.write(
      "main.ts",
      [
        'import { file } from "plumb/sdk";',
        "export default function () {",
        '  new file.File("a", { path: "a.txt", content: 42 });',
        '  const count: number = "three";',
        "  return count;",
        "}",
        "",
      ].join("\n"),
    );
    const checked = runCli(["validate", workspace.stackDir]);
    expect(checked.status).toBe(1);
    expect(checked.stderr).toMatch(/error: main\.ts:3:\d+: Type 'number' is not assignable to type 'string \| Output<string>'/);
    expect(checked.stderr).toMatch(/error: main\.ts:4:9: Type 'string' is not assignable to type 'number'/);
    const unchecked = runCli(["validate", workspace.stackDir, "--no-type-check"]);
    expect(unchecked.status).toBe(1);
    expect(unchecked.stderr).toContain("error: main.ts:3:3 (file.plumb.dev/v1/File/a): spec.content: must be string, not number 42 [PLUMB_SCHEMA]");
  });

  it("a reference to a resource the stack does not have is named at its line", () => {
    const workspace = workspaceWith();
    workspace.write(
      "main.ts",
      [
        'import { Output, file } from "plumb/sdk";',
        "export default function () {",
        '  new file.File("a", { path: "a.txt", content: new Output("file.plumb.dev/v1/File/missing", "path") });',
        "}",
        "",
      ].join("\n"),
    );
    const result = runCli(["validate", workspace.stackDir, "--no-type-check"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'main.ts:3:3 (file.plumb.dev/v1/File/a): spec.content takes output "path" of file.plumb.dev/v1/File/missing, which is not in this stack [PLUMB_REFERENCE]',
    );
  });
});

describe("the sandbox", () => {
  const cases: { title: string; body: string; imports?: string; expected: RegExp; flags?: string[] }[] = [
    { title: "reads process.env", body: "const home = process.env.HOME;", expected: /main\.ts:3:\d+: .*process\.env is not available to programs/ },
    {
      title: "reads /etc",
      imports: 'import { readFileSync } from "node:fs";',
      body: 'readFileSync("/etc/hostname", "utf8");',
      expected: /reading \/etc\/hostname is not allowed: a program may read files only inside its own stack directory/,
    },
    {
      title: "reads the data directory",
      imports: 'import { readdirSync } from "node:fs";',
      body: "readdirSync(DATA_DIR);",
      expected: /reading .*\/data is not allowed/,
    },
    {
      title: "starts a process",
      imports: 'import { execSync } from "node:child_process";',
      body: 'execSync("id");',
      expected: /imports "node:child_process": programs and composites may not use the network, processes or workers/,
    },
    {
      title: "imports a file outside its directory",
      imports: 'import secret from "../data/plumb.db";',
      body: "void secret;",
      expected: /imports "\.\.\/data\/plumb\.db", which is outside the stack directory/,
    },
    {
      title: "loops forever",
      body: "for (;;) {}",
      expected: /program main\.ts did not finish within 1\.5 s and was stopped \[PLUMB_PROGRAM_LIMIT\]/,
      flags: ["--program-timeout", "1500ms"],
    },
    {
      title: "allocates without bound",
      body: "const kept: number[][] = []; for (;;) kept.push(new Array(1e6).fill(7));",
      expected: /program main\.ts used more than 96 MiB of memory and was stopped/,
      flags: ["--program-memory", "96", "--program-timeout", "20s"],
    },
    {
      title: "throws",
      body: 'throw new Error("no database for you");',
      expected: /error: main\.ts:3:\d+: program main\.ts: running the program: no database for you \[PLUMB_PROGRAM\]/,
    },
    {
      title: "writes junk into the answer channel",
      imports: 'import { writeSync } from "node:fs";',
      body: 'writeSync(3, "{ not json\\n");',
      expected: /the sandbox answered with something that is not JSON/,
    },
  ];
  for (const testCase of cases) {
    it(`a program that ${testCase.title} fails with a clear error`, () => {
      const workspace = workspaceWith();
      mkdirSync(workspace.dataDir, { recursive: true });
      writeFileSync(path.join(workspace.dataDir, "plumb.db"), "state");
      workspace.write(
        "main.ts",
        [
          `import { file } from "plumb/sdk";${testCase.imports ?? ""}`,
          "export default function () {",
          `  ${testCase.body.replace("DATA_DIR", JSON.stringify(workspace.dataDir))}`,
          '  new file.File("a", { path: "a.txt", content: "a" });',
          "}",
          "",
        ].join("\n"),
      );
      const result = runCli(["validate", workspace.stackDir, "--no-type-check", ...(testCase.flags ?? [])]);
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(testCase.expected);
      expect(result.stderr).not.toContain("    at ");
    });
  }

  it("output a program prints is not mistaken for its answer", () => {
    const workspace = workspaceWith();
    workspace.write(
      "main.ts",
      'import { file } from "plumb/sdk";\nexport default function () {\n  console.log("{\\"protocol\\": \\"plumb.sandbox/v1\\", \\"ok\\": true}");\n  console.error("junk");\n  new file.File("a", { path: "a.txt", content: "a" });\n}\n',
    );
    const result = runCli(["validate", workspace.stackDir]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("valid: stack test, 1 resource(s) from 2 file(s)");
  });
});

describe("composites", () => {
  it("expands YAML claims, nested composites included, and plumb docs documents them", () => {
    const workspace = workspaceWith();
    const platform = writeComposites(workspace, { "notes.composite.ts": noteComposite, "lib/index.composite.ts": indexComposite });
    workspace.write("notes.yaml", "apiVersion: platform.test/v1\nkind: Notes\nmetadata: { name: ideas }\nspec: { folder: ideas, count: 3, withIndex: true }\n");
    const applied = plumb(workspace, "apply", workspace.stackDir, "--yes", "--platform", platform);
    expect(applied.stderr).toBe("");
    expect(readFileSync(path.join(workspace.outputDir, "ideas/note-3.txt"), "utf8")).toBe("note 3\n");
    expect(readFileSync(path.join(workspace.outputDir, "ideas/INDEX"), "utf8")).toBe("note-1.txt\nnote-2.txt\nnote-3.txt\n");

    const docs = runCli(["docs", platform]);
    expect(docs.status).toBe(0);
    expect(docs.stdout).toContain("## Notes");
    expect(docs.stdout).toContain("| `spec.count` | integer | no | `2` | How many notes. (at least 1) (at most 5) |");
    expect(docs.stdout).toContain("| `spec.folder` | string | yes |  | Folder name. (matches `^[a-z]+$`) |");
    expect(docs.stdout).toContain("kind: Notes\nmetadata:\n  name: ideas\nspec:\n  folder: ideas");
    const json = JSON.parse(runCli(["docs", platform, "--format", "json"]).stdout) as { items: { kind: string }[] };
    expect(json.items.map((item) => item.kind)).toEqual(["Index", "Notes"]);
  });

  it("a claim that violates its schema names the field and its line", () => {
    const workspace = workspaceWith();
    const platform = writeComposites(workspace, { "notes.composite.ts": noteComposite });
    workspace.write("notes.yaml", "apiVersion: platform.test/v1\nkind: Notes\nmetadata: { name: ideas }\nspec:\n  folder: ideas\n  count: 9\n  colour: blue\n");
    const result = runCli(["validate", workspace.stackDir, "--platform", platform]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("error: notes.yaml:6:3 (platform.test/v1/Notes/ideas): spec.count: must be <= 5");
    expect(result.stderr).toContain('error: notes.yaml:7:3 (platform.test/v1/Notes/ideas): spec.colour: unknown field "colour" [PLUMB_CLAIM]');
  });

  it("deleting a claim prunes its children when prune is on", () => {
    const workspace = workspaceWith({ prune: true });
    const platform = writeComposites(workspace, { "notes.composite.ts": noteComposite });
    workspace.write("notes.yaml", "apiVersion: platform.test/v1\nkind: Notes\nmetadata: { name: ideas }\nspec: { folder: ideas }\n");
    workspace.write("keep.yaml", fileResource("keep", "keep.txt", "kept\n"));
    expect(plumb(workspace, "apply", workspace.stackDir, "--yes", "--platform", platform).status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "ideas/note-2.txt"))).toBe(true);
    workspace.remove("notes.yaml");
    const plan = plumb(workspace, "plan", workspace.stackDir, "--platform", platform);
    expect(plan.stdout).toContain("Plan: 0 to create, 0 to update, 0 to replace, 3 to delete; 1 unchanged.");
    expect(plumb(workspace, "apply", workspace.stackDir, "--yes", "--platform", platform).status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "ideas"))).toBe(false);
    expect(readFileSync(path.join(workspace.outputDir, "keep.txt"), "utf8")).toBe("kept\n");
  });

  it("a claim of a kind no composite defines says how to load composites", () => {
    const workspace = workspaceWith();
    workspace.write("notes.yaml", "apiVersion: platform.test/v1\nkind: Notes\nmetadata: { name: ideas }\nspec: { folder: ideas }\n");
    const result = runCli(["validate", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('notes.yaml:2:1 (platform.test/v1/Notes/ideas): unknown kind "Notes" in apiVersion "platform.test/v1"');
    expect(result.stderr).toContain("--platform <dir>");
  });
});

describe("TypeScript policy rules", () => {
  const rules = {
    "rules/mode.rule.ts": `
import { defineRule } from "plumb/sdk";
export default defineRule({
  name: "private-files", description: "files are not world-readable", level: "remediate", kinds: ["File"],
  check(file) { return file.spec.mode === "0600" ? undefined : { message: "mode is " + String(file.spec.mode ?? "unset"), fix: { "/mode": "0600" } }; },
});`,
    "rules/naming.rule.ts": `
import { defineRule } from "plumb/sdk";
export default [
  defineRule({ name: "no-tmp", description: "nothing is written below tmp/", level: "deny", kinds: ["file.plumb.dev/v1/File"],
    check(file) { return String(file.spec.path).startsWith("tmp/") ? "path " + String(file.spec.path) + " is below tmp/" : undefined; } }),
  defineRule({ name: "short-content", description: "content stays short", level: "warn",
    check(resource) { return String(resource.spec.content ?? "").length > 10 ? "content is long" : undefined; } }),
  defineRule({ name: "few-files", description: "at most two files per stack", level: "deny", scope: "stack", kinds: ["File"],
    check(files) { return files.length > 2 ? files.length + " files" : undefined; } }),
];`,
  };

  it("remediate fixes show in the plan, warn is reported, deny stops with the rule, the resource and its line", () => {
    const workspace = workspaceWith();
    const platform = writeComposites(workspace, rules);
    workspace.write("files.yaml", fileResource("a", "a.txt", "a") + fileResource("b", "b.txt", "a long content"));
    const plan = plumb(workspace, "plan", workspace.stackDir, "--platform", platform);
    expect(plan.status, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('mode: "0600"');
    expect(plan.stdout).toContain(
      'policy rule rule/private-files (remediate): file.plumb.dev/v1/File/a does not meet rule private-files (files are not world-readable): mode is unset; fixed: /mode = "0600"',
    );
    expect(plan.stdout).toContain(
      "policy rule rule/short-content (warn): file.plumb.dev/v1/File/b does not meet rule short-content (content stays short): content is long",
    );
    expect(plumb(workspace, "apply", workspace.stackDir, "--yes", "--platform", platform).status).toBe(0);
    expect(statSync(path.join(workspace.outputDir, "a.txt")).mode & 0o777).toBe(0o600);

    workspace.write("more.yaml", fileResource("c", "tmp/c.txt", "c"));
    const denied = runCli(["validate", workspace.stackDir, "--platform", platform]);
    expect(denied.status).toBe(1);
    expect(denied.stderr).toContain(
      "error: more.yaml:2 (file.plumb.dev/v1/File/c): policy rule rule/no-tmp denies the sync: file.plumb.dev/v1/File/c does not meet rule no-tmp (nothing is written below tmp/): path tmp/c.txt is below tmp/ [PLUMB_POLICY_DENIED]",
    );
    expect(denied.stderr).toContain(
      "policy rule rule/few-files denies the sync: stack test does not meet rule few-files (at most two files per stack): 3 files",
    );
  });

  it("a rule that throws counts as not met and says why; a malformed rule module is named", () => {
    const workspace = workspaceWith();
    const platform = writeComposites(workspace, {
      "boom.rule.ts":
        'import { defineRule } from "plumb/sdk";\nexport default defineRule({ name: "boom", description: "explodes", level: "deny", check() { throw new Error("kaboom"); } });\n',
    });
    workspace.write("files.yaml", fileResource("a", "a.txt", "a"));
    const result = runCli(["validate", workspace.stackDir, "--platform", platform]);
    expect(result.stderr).toContain("does not meet rule boom (explodes): the rule failed: kaboom");
    writeFileSync(path.join(platform, "boom.rule.ts"), "export default { name: 42 };\n");
    const malformed = runCli(["validate", workspace.stackDir, "--platform", platform]);
    expect(malformed.status).toBe(1);
    expect(malformed.stderr).toContain("boom.rule.ts: the default export must be defineComposite");
  });
});
