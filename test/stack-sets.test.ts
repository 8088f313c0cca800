// StackSets: list, git-directory, matrix and merge generators make the stacks
// the template says, with clear errors for a field the generator does not give;
// then an agent follows a platform repository where team folders come and go.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanPlatform } from "../src/agent/platform.js";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent } from "./agent-process.js";
import { createTestRepository } from "./git-repository.js";
import { fileResource } from "./helpers.js";

let work: string;

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-stacksets-"));
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** A platform repository root with `files` (path → text), its Stack documents under platform/. */
function platformRepository(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(work, "repo-"));
  for (const [relative, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    writeFileSync(path.join(root, relative), text);
  }
  return root;
}

const template = (name: string, extra = "") =>
  `  template:\n    metadata: { name: "${name}", labels: { team: "{{ .team }}" } }\n    spec:\n      source: { path: "apps/{{ .team }}" }\n      environment: "{{ .env }}"\n${extra}`;

describe("StackSet generators", () => {
  it("a list makes one stack per element, owned by the StackSet and kept on removal by default", async () => {
    const root = platformRepository({
      "platform/teams.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: teams }\nspec:\n  generators:\n    - list: { elements: [ { team: payments, env: prod }, { team: search, env: dev } ] }\n${template("{{ .team }}-{{ .env }}")}`,
    });
    const scan = await scanPlatform(path.join(root, "platform"), root);
    expect(scan.problems.map((problem) => problem.describe())).toEqual([]);
    expect([...scan.stacks.keys()].sort()).toEqual(["payments-prod", "search-dev"]);
    const stack = scan.stacks.get("payments-prod");
    expect(stack?.stackSet).toBe("teams");
    expect(stack?.file).toBe("teams.yaml");
    expect(stack?.document.metadata.labels).toEqual({ team: "payments", "plumb.dev/stackset": "teams" });
    expect(stack?.document.spec?.source?.path).toBe("apps/payments");
    expect(stack?.document.spec?.environment).toBe("prod");
    expect(stack?.document.spec?.deletionPolicy).toBe("Orphan");
  });

  it("git directories match a pattern, leave out excluded, hidden and linked folders, and combine in a matrix with a list", async () => {
    const root = platformRepository({
      "teams/payments/README.md": "x",
      "teams/search/README.md": "x",
      "teams/Data_Science/README.md": "x",
      "teams/archived/README.md": "x",
      "teams/.hidden/README.md": "x",
      "other/ignored/README.md": "x",
      "platform/teams.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: fleet }\nspec:\n  prune: true\n  generators:\n    - matrix:\n        generators:\n          - git: { directories: [ "teams/*", { path: teams/archived, exclude: true } ] }\n          - list: { elements: [ { env: dev }, { env: prod } ] }\n  template:\n    metadata: { name: "{{ .path.basenameNormalized }}-{{ .env }}", labels: { team: "{{ .path.basename | lower }}" } }\n    spec:\n      source: { path: "{{ .path.path }}" }\n      environment: "{{ .env }}"\n`,
    });
    symlinkSync(path.join(root, "other"), path.join(root, "teams", "linked"));
    const scan = await scanPlatform(path.join(root, "platform"), root);
    expect(scan.problems.map((problem) => problem.describe())).toEqual([]);
    expect([...scan.stacks.keys()].sort()).toEqual(["data-science-dev", "data-science-prod", "payments-dev", "payments-prod", "search-dev", "search-prod"]);
    const stack = scan.stacks.get("data-science-prod");
    expect(stack?.document.metadata.labels?.team).toBe("data_science");
    expect(stack?.document.spec?.source?.path).toBe("teams/Data_Science");
    expect(stack?.document.spec?.deletionPolicy).toBe("Delete");
  });

  it("a merge overrides the sets whose keys match", async () => {
    const root = platformRepository({
      "platform/teams.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: merged }\nspec:\n  generators:\n    - merge:\n        mergeKeys: [team]\n        generators:\n          - list: { elements: [ { team: payments, env: dev }, { team: search, env: dev } ] }\n          - list: { elements: [ { team: search, env: prod } ] }\n${template("{{ .team }}")}`,
    });
    const scan = await scanPlatform(path.join(root, "platform"), root);
    expect(scan.problems).toEqual([]);
    expect(scan.stacks.get("payments")?.document.spec?.environment).toBe("dev");
    expect(scan.stacks.get("search")?.document.spec?.environment).toBe("prod");
  });

  it("says which StackSet, which field and where when the template asks for what the generator does not give", async () => {
    const root = platformRepository({
      "platform/teams.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: teams }\nspec:\n  generators:\n    - list: { elements: [ { team: payments } ] }\n${template("{{ .team }}-{{ .env }}")}`,
      "platform/bad-filter.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: filtered }\nspec:\n  generators:\n    - list: { elements: [ { team: search, env: dev } ] }\n  template:\n    metadata: { name: "{{ .team | shout }}" }\n    spec: {}\n`,
      "platform/code.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: code }\nspec:\n  generators:\n    - list: { elements: [ { team: x } ] }\n  template:\n    metadata: { name: "{{ process.exit(1) }}" }\n    spec: {}\n`,
      "platform/twice.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: twice }\nspec:\n  generators:\n    - list: { elements: [ { team: a, env: dev }, { team: a, env: prod } ] }\n${template("{{ .team }}")}`,
      "platform/invalid.yaml": `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: invalid }\nspec:\n  generators:\n    - list: { elements: [ { team: b, env: dev } ] }\n${template("{{ .team }}-x", '      sync: { interval: "{{ .env }}" }\n')}`,
      "platform/stack.yaml": `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: b-x }\nspec: {}\n`,
    });
    const scan = await scanPlatform(path.join(root, "platform"), root);
    const messages = scan.problems.map((problem) => problem.describe());
    expect(messages).toContainEqual(expect.stringMatching(/^bad-filter\.yaml:8:.*StackSet filtered.*unknown filter "shout"/s));
    expect(messages).toContainEqual(
      expect.stringMatching(
        /^teams\.yaml:8:.*StackSet teams, spec\.template\.metadata\.name: \{\{ \.env \}\}: the generator gives no "env" \(it gives \.team\)/s,
      ),
    );
    expect(messages).toContainEqual(expect.stringMatching(/StackSet code.*is not a parameter reference/s));
    expect(messages).toContainEqual(expect.stringMatching(/StackSet twice makes stack "a" twice \(parameter sets 1 and 2\)/));
    // The template's interval comes out as "dev", which is no duration; and the written Stack b-x keeps its name.
    expect(messages).toContainEqual(expect.stringMatching(/StackSet invalid makes stack "b-x" with spec\.sync\.interval/));
    expect(scan.stacks.has("b-x")).toBe(true);
    expect(scan.stacks.get("b-x")?.stackSet).toBeUndefined();
    expect(scan.stacks.has("a")).toBe(true);
  });
});

describe("an agent following a StackSet over team folders", () => {
  it("creates a stack when a team folder is pushed, and follows the prune policy when one goes", async () => {
    const repository = createTestRepository();
    const output = path.join(work, "agent-out");
    const team = (name: string) => repository.write(`teams/${name}/files.yaml`, fileResource("note", "note.txt", `team ${name}\n`));
    const stackSet = (prune: boolean) =>
      repository.write(
        "platform/teams.yaml",
        `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: teams }\nspec:\n  prune: ${prune}\n  generators:\n    - git: { directories: [ "teams/*" ] }\n  template:\n    metadata: { name: "team-{{ .path.basename }}" }\n    spec:\n      source: { path: "{{ .path.path }}" }\n      providers: { default: { type: file, config: { root: "${output}/{{ .path.basename }}" } } }\n      sync: { auto: true, prune: true, interval: 1s }\n`,
      );
    stackSet(false);
    team("payments");
    team("search");
    repository.commit("two teams");
    const agent = await startAgent(
      ["--platform", repository.url, "--path", "platform", "--data-dir", path.join(work, "agent-data"), "--platform-interval", "1s"],
      {
        tokenFile: path.join(work, "agent-token"),
      },
    );
    const stacks = async () => (await agent.api<{ items: StackSummary[] }>("GET", "/api/v1/stacks?stackSet=teams")).body.items;
    const applied = (name: string) => async () => ((await stacks()).find((stack) => stack.name === name)?.lastAppliedRevision ? true : undefined);
    try {
      await eventually(applied("team-payments"), 30_000, "team-payments applied");
      await eventually(applied("team-search"), 30_000, "team-search applied");
      expect((await stacks()).map((stack) => stack.stackSet)).toEqual(["teams", "teams"]);
      expect(readFileSync(path.join(output, "payments", "note.txt"), "utf8")).toBe("team payments\n");

      team("science");
      repository.commit("a third team");
      await eventually(applied("team-science"), 30_000, "team-science applied");
      expect(readFileSync(path.join(output, "science", "note.txt"), "utf8")).toBe("team science\n");

      // Default policy: the stack goes, its file stays, no longer managed.
      repository.remove("teams/search");
      repository.commit("search leaves");
      await eventually(async () => ((await stacks()).some((stack) => stack.name === "team-search") ? undefined : true), 30_000, "team-search gone");
      expect(existsSync(path.join(output, "search", "note.txt"))).toBe(true);

      // With prune: true, a team that leaves takes its resources with it.
      stackSet(true);
      repository.commit("prune on");
      await new Promise((resolve) => setTimeout(resolve, 2500));
      repository.remove("teams/science");
      repository.commit("science leaves");
      await eventually(async () => (existsSync(path.join(output, "science", "note.txt")) ? undefined : true), 30_000, "science's file deleted");
      expect((await stacks()).map((stack) => stack.name)).toEqual(["team-payments"]);
      const facets = (await agent.api<{ facets: { stackSets: string[] } }>("GET", "/api/v1/stacks")).body.facets;
      expect(facets.stackSets).toEqual(["teams"]);
    } finally {
      await agent.stop();
      repository.cleanup();
    }
  }, 120_000);

  it("reads the team folders of another repository, and makes a stack when one is pushed there", async () => {
    const platform = createTestRepository();
    const teams = createTestRepository();
    const output = path.join(work, "other-out");
    const team = (name: string) => teams.write(`${name}/files.yaml`, fileResource("note", "note.txt", `team ${name} from the teams repository\n`));
    platform.write(
      "platform/teams.yaml",
      `apiVersion: plumb.dev/v1\nkind: StackSet\nmetadata: { name: outside }\nspec:\n  generators:\n    - git: { repo: ${JSON.stringify(teams.url)}, ref: main, directories: [ "*" ] }\n  template:\n    metadata: { name: "outside-{{ .path.basename }}" }\n    spec:\n      source: { repo: ${JSON.stringify(teams.url)}, ref: main, path: "{{ .path.path }}" }\n      providers: { default: { type: file, config: { root: "${output}/{{ .path.basename }}" } } }\n      sync: { auto: true, interval: 1s }\n`,
    );
    platform.commit("a StackSet over another repository");
    team("alpha");
    teams.commit("alpha");
    // plan and validate read no repository but the one they are given: they say so and leave those stacks out.
    const offline = await scanPlatform(path.join(platform.directory, "platform"), platform.directory);
    expect(offline.stacks.size).toBe(0);
    expect(offline.problems.map((problem) => problem.describe()).join("\n")).toContain("which only the agent reads");
    const agent = await startAgent(
      ["--platform", platform.url, "--path", "platform", "--data-dir", path.join(work, "other-data"), "--platform-interval", "1s"],
      { tokenFile: path.join(work, "other-token") },
    );
    const applied = (name: string) => async () =>
      (await agent.api<{ items: StackSummary[] }>("GET", "/api/v1/stacks?stackSet=outside")).body.items.find((stack) => stack.name === name)
        ?.lastAppliedRevision
        ? true
        : undefined;
    try {
      await eventually(applied("outside-alpha"), 30_000, "outside-alpha applied");
      expect(readFileSync(path.join(output, "alpha", "note.txt"), "utf8")).toBe("team alpha from the teams repository\n");
      team("bravo");
      teams.commit("bravo");
      await eventually(applied("outside-bravo"), 30_000, "outside-bravo applied");
      expect(readFileSync(path.join(output, "bravo", "note.txt"), "utf8")).toBe("team bravo from the teams repository\n");
    } finally {
      await agent.stop();
      platform.cleanup();
      teams.cleanup();
    }
  }, 90_000);
});
