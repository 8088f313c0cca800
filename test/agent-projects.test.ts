// Projects in the agent: a platform repository with Project and
// ProviderInstance documents. A team stack using the platform's instance by
// name is applied; one that declares its own connection, or names a project
// the platform does not declare, is refused with PLUMB_PROJECT_DENIED, applies
// nothing, leaves one audit event, and leaves the other stacks running.

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";

let repository: TestRepository;
let work: string;
let output: string;
let agent: RunningAgent;

const greeting = `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: greeting, annotations: { plumb.dev/provider: files } }\nspec: { path: greeting.txt, content: hello }\n`;

interface Audit {
  items: { kind: string; stack: string; summary: { message?: string; file?: string } }[];
}

async function stalled(name: string): Promise<string> {
  return eventually(async () => {
    const { body } = await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`);
    const condition = body.conditions?.find((item) => item.type === "Stalled");
    return condition?.status === "True" ? condition.message : undefined;
  }, 30_000);
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-projects-"));
  output = path.join(work, "out");
  repository = createTestRepository();
  repository.write(
    "platform/projects.yaml",
    [
      `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: web-files }\nspec: { type: file, config: { root: ${JSON.stringify(path.join(output, "web"))} } }`,
      `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: ops-files }\nspec: { type: file, config: { root: ${JSON.stringify(path.join(output, "ops"))} } }`,
      "apiVersion: plumb.dev/v1\nkind: Project\nmetadata: { name: web }\nspec: { providers: [web-files], kinds: { allow: [file.plumb.dev/v1/*] } }",
    ].join("\n---\n") + "\n",
  );
  const stack = (name: string, spec: string) =>
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  sync: { auto: true, interval: 1s }\n${spec}`;
  repository.write("platform/site.yaml", stack("site", "  project: web\n  providers: { files: { instance: web-files } }\n"));
  repository.write("platform/sneaky.yaml", stack("sneaky", "  project: web\n  providers: { files: { instance: ops-files } }\n"));
  repository.write("platform/homeless.yaml", stack("homeless", "  providers: { files: { instance: web-files } }\n"));
  repository.write("apps/site/greeting.yaml", greeting);
  repository.write("apps/sneaky/greeting.yaml", greeting);
  repository.write("apps/homeless/greeting.yaml", greeting);
  // The team's own folder tries to bring a connection of its own.
  repository.write(
    "apps/sneaky/stack.yaml",
    `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: sneaky }\nspec:\n  providers:\n    mine: { type: file, config: { root: ${JSON.stringify(path.join(output, "mine"))} } }\n`,
  );
  repository.commit("three stacks, one project");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
  });
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe("projects in the agent", () => {
  it("applies a stack that uses the platform's provider instance by name", async () => {
    await eventually(async () => (existsSync(path.join(output, "web", "greeting.txt")) ? true : undefined), 30_000);
    expect(readFileSync(path.join(output, "web", "greeting.txt"), "utf8")).toBe("hello");
  });

  it("refuses a stack that reaches outside its project, applies nothing of it, and puts it on the audit trail", async () => {
    const message = await stalled("sneaky");
    expect(message).toContain("stack.yaml:6:5: provider instance mine declares its own connection (type file)");
    expect(message).toContain("sneaky.yaml:1:1: provider instance ops-files is not among project web's providers");
    expect(message).toContain("PLUMB_PROJECT_DENIED");
    expect(existsSync(path.join(output, "ops"))).toBe(false);
    expect(existsSync(path.join(output, "mine"))).toBe(false);
    const audit = await eventually(async () => {
      const { body } = await agent.api<Audit>("GET", "/api/v1/audit?stack=sneaky&kind=project.denied");
      return body.items.length > 0 ? body.items : undefined;
    });
    expect(audit.map((item) => item.summary.message)).toEqual(
      expect.arrayContaining([expect.stringContaining("provider instance ops-files is not among project web's providers")]),
    );
  });

  it("refuses a stack whose project the platform does not declare", async () => {
    expect(await stalled("homeless")).toContain("stack homeless names no project and the platform declares no project named default");
  });
});
