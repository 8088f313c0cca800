// States the agent used to keep silent, or to repeat on every poll: an empty
// render holding its resources, a broken commit, a platform source that lost
// its Stack documents.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "../agent-process.js";
import { createTestRepository, type TestRepository } from "../git-repository.js";

let repository: TestRepository;
let work: string;
let agent: RunningAgent;

const stack = (name: string) =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  source: { path: apps/${name} }\n  providers: { default: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } } }\n  sync: { auto: true, prune: true, selfHeal: true, interval: 1s, driftInterval: 1h }\n`;
const file = (name: string) => `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name} }\nspec: { path: ${name}.txt, content: "${name}" }\n`;
const ready = async (name: string) =>
  (await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`)).body.conditions.find((condition) => condition.type === "Ready");
const events = async (name: string, type: string) =>
  (await agent.api<{ items: { type: string; message: string }[] }>("GET", `/api/v1/stacks/${name}/events?limit=500`)).body.items.filter(
    (event) => event.type === type,
  );

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-states-"));
  repository = createTestRepository();
  repository.write("platform/emptied.yaml", stack("emptied"));
  repository.write("platform/broken.yaml", stack("broken"));
  repository.write("apps/emptied/files.yaml", file("a") + file("b"));
  repository.write("apps/broken/files.yaml", file("c"));
  // A stack whose own Stack document (not the platform's) names its environment.
  repository.write("platform/own-env.yaml", stack("own-env"));
  repository.write("apps/own-env/stack.yaml", "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: own-env }\nspec: { environment: dev }\n");
  repository.write("apps/own-env/files.yaml", file("d"));
  repository.commit("three stacks");
  agent = await startAgent(["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "data"), "--platform-interval", "1s"], {
    tokenFile: path.join(work, "token"),
  });
  await eventually(
    async () => ((await ready("emptied"))?.status === "True" && (await ready("broken"))?.status === "True" ? true : undefined),
    30_000,
    "both applied",
  );
});

afterAll(async () => {
  await agent?.stop();
  repository?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("agent states", () => {
  it("puts a stack in the environment its own Stack document names", async () => {
    const matrix = await eventually(
      async () => {
        const answer = await agent.api<{ environments: string[]; applications: { name: string; cells: Record<string, { stack: string }> }[] }>(
          "GET",
          "/api/v1/environments",
        );
        return answer.body.environments.includes("dev") ? answer.body : undefined;
      },
      20_000,
      "the dev column",
    );
    expect(matrix.applications.find((row) => row.name === "own-env")?.cells.dev?.stack).toBe("own-env");
  });

  it("says an empty render holds its resources, once, instead of calling it Ready", async () => {
    repository.remove("apps/emptied/files.yaml");
    repository.write("apps/emptied/README.md", "nothing here any more\n");
    repository.write("apps/broken/files.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: c\nspec: [\n");
    repository.commit("empty one stack, break the other");
    const held = await eventually(
      async () => {
        const condition = await ready("emptied");
        return condition?.reason === "EmptyRender" ? condition : undefined;
      },
      20_000,
      "the empty render said",
    );
    expect(held.status).toBe("False");
    expect(held.message).toContain("nothing is pruned; set sync.allowEmpty: true");
    // Several polls (interval 1s) later: still one event for the empty render, one for the broken commit.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await events("emptied", "render.empty")).toHaveLength(1);
    expect(await events("broken", "render.failed")).toHaveLength(1);
  }, 40_000);

  it("reports a platform source that lost every Stack document as a problem, and keeps the stacks", async () => {
    repository.remove("platform/emptied.yaml");
    repository.remove("platform/broken.yaml");
    repository.remove("platform/own-env.yaml");
    repository.write("platform/README.md", "moved elsewhere\n");
    repository.commit("a history without Stack documents");
    const problems = await eventually(
      async () => {
        const listed = await agent.api<{ problems: string[]; items: StackSummary[] }>("GET", "/api/v1/stacks");
        return listed.body.problems.some((problem) => problem.includes("no longer in the platform source")) ? listed.body : undefined;
      },
      20_000,
      "the problem reported",
    );
    expect(problems.items.map((item) => item.name).sort()).toEqual(["broken", "emptied", "own-env"]);
    expect(problems.problems.join("\n")).toContain("holds no Stack documents at all");
  }, 40_000);
});
