// Render stage: YAML loading, values, patches, and every kind of bad input a
// user can hand it, each with a message that says where and what.

import { mkdirSync, symlinkSync, writeFileSync, openSync, ftruncateSync, closeSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PlumbError, PlumbErrorList } from "../src/errors.js";
import { defaultRegistry } from "../src/providers/registry.js";
import { renderStack } from "../src/render/load-stack.js";
import { createWorkspace, fileResource, type Workspace } from "./helpers.js";

const registry = defaultRegistry();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

async function renderErrors(directory: string, environment?: string): Promise<PlumbError[]> {
  try {
    await renderStack(directory, { registry, ...(environment === undefined ? {} : { environment }) });
  } catch (error) {
    if (error instanceof PlumbErrorList) return [...error.errors];
    if (error instanceof PlumbError) return [error];
    throw error;
  }
  throw new Error("render succeeded but errors were expected");
}

describe("render", () => {
  it("takes plain Kubernetes manifests as they are when the stack has a kubernetes instance, and keeps Plumb's groups strict", async () => {
    workspace = createWorkspace();
    workspace.write(
      "stack.yaml",
      "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: team }\nspec:\n  providers:\n    cluster: { type: kubernetes, config: { kubeconfig: /nonexistent } }\n",
    );
    workspace.write(
      "k8s.yaml",
      "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: team-a }\ndata: { mode: blue }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: team-a }\n",
    );
    const rendered = await renderStack(workspace.stackDir, { registry });
    const settings = rendered.resources.find((resource) => resource.kind === "ConfigMap");
    expect(settings).toMatchObject({
      address: "v1/ConfigMap/team-a/settings",
      name: "team-a/settings",
      provider: "cluster",
      dependsOn: ["v1/Namespace/team-a"],
      spec: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "team-a" }, data: { mode: "blue" } },
    });
    workspace.write("typo.yaml", "apiVersion: file.plumb.dev/v9\nkind: File\nmetadata: { name: x }\nspec: { path: x, content: x }\n");
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_UNKNOWN_KIND");
  });

  it("refuses a plumb.dev/ignore-differences that is not a list of JSON pointers, or a sync wave that is not a number, naming the file and line", async () => {
    workspace = createWorkspace();
    workspace.write(
      "files.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: good, annotations: { plumb.dev/ignore-differences: '/content, /mode' } }\nspec: { path: good, content: x }\n---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: bad, annotations: { plumb.dev/ignore-differences: '/content, mode' } }\nspec: { path: bad, content: x }\n",
    );
    const [error, ...rest] = await renderErrors(workspace.stackDir);
    expect(rest).toEqual([]);
    expect(error?.code).toBe("PLUMB_RESOURCE_SHAPE");
    expect(error?.describe()).toMatch(/files\.yaml:8:\d+.*holds "mode", which is not a JSON pointer/s);
    workspace.write(
      "files.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: good, annotations: { plumb.dev/ignore-differences: '/content, /mode' } }\nspec: { path: good, content: x }\n",
    );
    expect((await renderStack(workspace.stackDir, { registry })).resources[0]?.annotations["plumb.dev/ignore-differences"]).toBe("/content, /mode");
    // A sync wave is a whole number.
    workspace.write(
      "wave.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: waved, annotations: { plumb.dev/sync-wave: soon } }\nspec: { path: waved, content: x }\n",
    );
    const [wave] = await renderErrors(workspace.stackDir);
    expect(wave?.describe()).toMatch(/wave\.yaml:3:\d+.*plumb\.dev\/sync-wave must be a whole number, not "soon"/s);
    workspace.remove("wave.yaml");
    // A stack rule that names neither pointers nor field managers ignores nothing, and says so.
    workspace.write(
      "stack.yaml",
      "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: test }\nspec:\n  sync:\n    ignoreDifferences:\n      - { kind: File }\n",
    );
    const [rule] = await renderErrors(workspace.stackDir);
    expect(rule?.describe()).toMatch(/stack\.yaml:7:\d+.*names neither pointers nor managers/s);
  });

  it("records the line each YAML document's content starts on, past comments, separators and empty documents, with or without aliases", async () => {
    workspace = createWorkspace();
    const body = (name: string, path: string): string =>
      `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name} }\nspec: { path: ${path}, content: x }\n`;
    workspace.write("lines.yaml", `# a comment\n\n${body("one", "1.txt")}---\n---\n# only a comment\n\n${body("two", "2.txt")}--- \n${body("three", "3.txt")}`);
    workspace.write("alias.yaml", `---\n# anchors take the positioned parser\n${body("four", "&p 4.txt")}`);
    const rendered = await renderStack(workspace.stackDir, { registry });
    const lineOf = (name: string) => rendered.resources.find((resource) => resource.name === name)?.origin;
    expect(lineOf("one")).toEqual({ file: "lines.yaml", document: 0, line: 3 });
    expect(lineOf("two")).toEqual({ file: "lines.yaml", document: 2, line: 11 });
    expect(lineOf("three")).toEqual({ file: "lines.yaml", document: 3, line: 16 });
    expect(lineOf("four")).toEqual({ file: "alias.yaml", document: 0, line: 3 });
  });

  it("loads multi-document YAML in path order with dependency order on top", async () => {
    workspace = createWorkspace();
    workspace.write("b.yaml", fileResource("second", "b.txt", "b") + fileResource("third", "sub/c.txt", "c"));
    workspace.write("a.yml", fileResource("first", "a.txt", "a", { annotations: { "plumb.dev/depends-on": "file.plumb.dev/v1/File/second" } }));
    workspace.write("sub/dir.yaml", "apiVersion: file.plumb.dev/v1\nkind: Directory\nmetadata: { name: sub }\nspec: { path: sub }\n");
    const rendered = await renderStack(workspace.stackDir, { registry });
    const order = rendered.resources.map((resource) => resource.name);
    expect(rendered.files).toEqual(["a.yml", "b.yaml", "stack.yaml", "sub/dir.yaml"]);
    expect(order.indexOf("second")).toBeLessThan(order.indexOf("first"));
    expect(order.indexOf("sub")).toBeLessThan(order.indexOf("third"));
    expect(rendered.resources.find((resource) => resource.name === "third")?.dependsOn).toEqual(["file.plumb.dev/v1/Directory/sub"]);
    const again = await renderStack(workspace.stackDir, { registry });
    expect(again.digest).toBe(rendered.digest);
  });

  it("merges values per environment, keeps types of whole references, and applies patches", async () => {
    workspace = createWorkspace();
    workspace.write("values.yaml", "greeting: hello\nfile: { name: a.txt, mode: '0644' }\n");
    workspace.write("values.prod.yaml", "greeting: welcome\n");
    workspace.write("patches.prod.yaml", "- target: file.plumb.dev/v1/File/app\n  patch: { spec: { mode: '0600' }, metadata: { labels: { tier: gold } } }\n");
    workspace.write(
      "app.yaml",
      'apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: app }\nspec:\n  path: ${values.file.name}\n  content: "${values.greeting} world, not $${values.greeting}"\n  mode: ${values.file.mode}\n',
    );
    const dev = await renderStack(workspace.stackDir, { registry });
    expect(dev.resources[0]?.spec).toEqual({ path: "a.txt", content: "hello world, not ${values.greeting}", mode: "0644" });
    const prod = await renderStack(workspace.stackDir, { registry, environment: "prod" });
    expect(prod.resources[0]?.spec).toEqual({ path: "a.txt", content: "welcome world, not ${values.greeting}", mode: "0600" });
    expect(prod.resources[0]?.labels).toEqual({ tier: "gold" });
    expect(prod.definition.name).toBe("test-prod");
  });

  it("reports invalid YAML with file:line:column", async () => {
    workspace = createWorkspace();
    workspace.write("broken.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata:\n  name: x\nspec: a: b\n");
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_YAML_SYNTAX");
    expect(error?.describe()).toMatch(/^broken\.yaml:5:7: invalid YAML/);
  });

  it("names the known kinds when a kind is unknown", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", "apiVersion: file.plumb.dev/v1\nkind: Fiel\nmetadata: { name: x }\nspec: {}\n");
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_UNKNOWN_KIND");
    expect(error?.describe()).toContain("x.yaml:2:");
    expect(error?.hint).toContain("file.plumb.dev/v1 File");
    expect(error?.hint).toContain("file.plumb.dev/v1 Directory");
  });

  it("points schema violations at the field, and reports all problems at once", async () => {
    workspace = createWorkspace();
    workspace.write(
      "x.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: x }\nspec:\n  path: x.txt\n  content: hi\n  mode: 0644\n  colour: red\n",
    );
    const errors = await renderErrors(workspace.stackDir);
    const messages = errors.map((error) => error.describe());
    expect(messages.some((message) => message.startsWith("x.yaml:7:3 (file.plumb.dev/v1/File/x): spec.mode: must be string"))).toBe(true);
    expect(messages.some((message) => message.startsWith('x.yaml:8:3 (file.plumb.dev/v1/File/x): spec.colour: unknown field "colour"'))).toBe(true);
    expect(errors.every((error) => error.code === "PLUMB_SCHEMA")).toBe(true);
  });

  it("rejects a duplicate address, pointing at both places", async () => {
    workspace = createWorkspace();
    workspace.write("one.yaml", fileResource("same", "a.txt", "a"));
    workspace.write("two.yaml", fileResource("same", "b.txt", "b"));
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_DUPLICATE_ADDRESS");
    expect(error?.describe()).toMatch(/^two\.yaml:5:\d+ .*declared twice; the first is at one\.yaml:2/);
  });

  it("names every resource in a dependency cycle", async () => {
    workspace = createWorkspace();
    const dependsOn = (target: string) => ({ annotations: { "plumb.dev/depends-on": `file.plumb.dev/v1/File/${target}` } });
    workspace.write(
      "cycle.yaml",
      fileResource("a", "a", "a", dependsOn("b")) +
        fileResource("b", "b", "b", dependsOn("c")) +
        fileResource("c", "c", "c", dependsOn("a")) +
        fileResource("d", "d", "d"),
    );
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_DEPENDENCY_CYCLE");
    for (const name of ["a", "b", "c"]) expect(error?.message).toContain(`file.plumb.dev/v1/File/${name}`);
    expect(error?.message).not.toContain("File/d");
  });

  it("rejects a dependency on a resource that is not in the stack", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", fileResource("a", "a", "a", { annotations: { "plumb.dev/depends-on": "file.plumb.dev/v1/File/ghost" } }));
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_UNKNOWN_DEPENDENCY");
    expect(error?.message).toContain("file.plumb.dev/v1/File/ghost");
  });

  it("refuses absolute paths and paths that climb out of the root, at render time", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", fileResource("abs", "/etc/passwd", "x") + fileResource("up", "a/../../escape.txt", "x"));
    const errors = await renderErrors(workspace.stackDir);
    expect(errors.map((error) => error.code)).toEqual(["PLUMB_SCHEMA", "PLUMB_SCHEMA"]);
    expect(errors[0]?.message).toContain('"/etc/passwd" is absolute');
    expect(errors[1]?.message).toContain("resolves outside the provider's root");
  });

  it("rejects a YAML alias bomb quickly", async () => {
    workspace = createWorkspace();
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const current = String.fromCharCode(97 + level);
      levels.push(
        `${current}: &${current} [*${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}, *${previous}]`,
      );
    }
    workspace.write("bomb.yaml", `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: bomb }\nspec:\n  ${levels.join("\n  ")}\n`);
    const started = Date.now();
    const heapBefore = process.memoryUsage().heapUsed;
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_YAML_ALIAS");
    expect(error?.describe()).toContain("bomb.yaml:");
    // A billion expansions would take minutes and gigabytes; the cap stops it at once.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
  });

  it("refuses a 50 MB file by its size, before reading it", async () => {
    workspace = createWorkspace();
    const file = path.join(workspace.stackDir, "huge.yaml");
    const descriptor = openSync(file, "w");
    ftruncateSync(descriptor, 50 * 1024 * 1024);
    closeSync(descriptor);
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_FILE_TOO_LARGE");
    expect(error?.describe()).toContain("huge.yaml: file is 50.0 MiB, over the 8.0 MiB limit");
  });

  it("does not follow a symlink that leads out of the stack directory", async () => {
    workspace = createWorkspace();
    writeFileSync(path.join(workspace.root, "outside.yaml"), fileResource("outside", "o.txt", "o"));
    symlinkSync(path.join(workspace.root, "outside.yaml"), path.join(workspace.stackDir, "link.yaml"));
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_PATH_ESCAPE");
    expect(error?.describe()).toContain("link.yaml");
  });

  it("says how to declare a provider when a stack has none", async () => {
    workspace = createWorkspace();
    workspace.remove("stack.yaml");
    mkdirSync(path.join(workspace.stackDir, "more"));
    workspace.write("x.yaml", fileResource("a", "a", "a"));
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_PROVIDER_INSTANCE");
    expect(error?.hint).toContain("kind: Stack");
  });

  it("reports an undefined value reference where it is written", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: a }\nspec:\n  path: a\n  content: ${values.missing}\n");
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_VALUES");
    expect(error?.describe()).toMatch(/^x\.yaml:6:3: spec\.content: .*values\.missing/);
  });

  it("expands a few ordinary YAML aliases", async () => {
    workspace = createWorkspace();
    workspace.write(
      "x.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: a, labels: &labels { team: core }, annotations: *labels }\nspec: { path: a, content: shared }\n",
    );
    const rendered = await renderStack(workspace.stackDir, { registry });
    expect(rendered.resources[0]?.labels).toEqual({ team: "core" });
    expect(rendered.resources[0]?.annotations).toEqual({ team: "core" });
  });

  it("reports an alias to an anchor of another document as a YAML error, not a bomb", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", "a: &anchor 1\n---\nb: *anchor\n");
    const [error] = await renderErrors(workspace.stackDir);
    expect(error?.code).toBe("PLUMB_YAML_SYNTAX");
    expect(error?.describe()).toMatch(/^x\.yaml:3:\d+: /);
  });

  it("rejects a patch whose target is not in the stack", async () => {
    workspace = createWorkspace();
    workspace.write("x.yaml", fileResource("a", "a", "a"));
    workspace.write("patches.prod.yaml", "- target: file.plumb.dev/v1/File/b\n  patch: { spec: { content: b } }\n");
    const [error] = await renderErrors(workspace.stackDir, "prod");
    expect(error?.code).toBe("PLUMB_PATCH");
    expect(error?.describe()).toMatch(/^patches\.prod\.yaml:1:3: patch target file\.plumb\.dev\/v1\/File\/b/);
  });
});
