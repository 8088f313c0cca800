// plumb plan --comment: the plan lands on a pull request as one comment that
// the next plan edits in place, failures and warnings included. The forges are
// fakes — small HTTP servers that follow GitHub's and GitLab's documented REST
// APIs for comments and notes (no forge server runs here) — and the CI recipes
// in docs/ci are run as written, their install step aside (plumb comes from
// this build on PATH).

import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import path from "node:path";
import { spawn } from "node:child_process";
import { parse } from "yaml";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cliPath, createWorkspace, fileResource, repositoryRoot, runCliAsync, type Workspace } from "./helpers.js";

interface StoredComment {
  id: number;
  body: string;
}

/** A fake forge: the comment endpoints of GitHub (under /api/v3, as on GitHub Enterprise) and GitLab (/api/v4), in memory. */
class FakeForge {
  readonly comments: StoredComment[] = [];
  readonly requests: string[] = [];
  private nextId = 1000;
  private server: Server | undefined;
  port = 0;

  constructor(private readonly token: string) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      void this.handle(request).then(
        ([status, body]) => {
          response.writeHead(status, { "content-type": "application/json" });
          response.end(JSON.stringify(body));
        },
        () => {
          response.writeHead(500);
          response.end();
        },
      );
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address !== null ? address.port : 0;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(request: IncomingMessage): Promise<[number, unknown]> {
    const url = new URL(request.url ?? "/", "http://fake");
    this.requests.push(`${request.method} ${url.pathname}`);
    const github = url.pathname.startsWith("/api/v3/");
    const presented = github ? request.headers.authorization : request.headers["private-token"];
    if (presented !== (github ? `Bearer ${this.token}` : this.token)) return [401, { message: "Bad credentials" }];
    let body = "";
    for await (const chunk of request) body += String(chunk);
    const text = body === "" ? undefined : (JSON.parse(body) as { body: string }).body;
    const list = github ? /^\/api\/v3\/repos\/acme\/infra\/issues\/7\/comments$/ : /^\/api\/v4\/projects\/platform%2Finfra\/merge_requests\/5\/notes$/;
    const one = github
      ? /^\/api\/v3\/repos\/acme\/infra\/issues\/comments\/([0-9]+)$/
      : /^\/api\/v4\/projects\/platform%2Finfra\/merge_requests\/5\/notes\/([0-9]+)$/;
    if (list.test(url.pathname) && request.method === "GET") {
      const page = Number(url.searchParams.get("page") ?? 1);
      const perPage = Number(url.searchParams.get("per_page") ?? 30);
      return [200, this.comments.slice((page - 1) * perPage, page * perPage)];
    }
    if (list.test(url.pathname) && request.method === "POST" && text !== undefined) {
      const comment = { id: this.nextId++, body: text };
      this.comments.push(comment);
      return [201, comment];
    }
    const match = one.exec(url.pathname);
    if (match !== null && request.method === (github ? "PATCH" : "PUT") && text !== undefined) {
      const comment = this.comments.find((item) => item.id === Number(match[1]));
      if (comment === undefined) return [404, { message: "Not Found" }];
      comment.body = text;
      return [200, comment];
    }
    return [404, { message: "Not Found" }];
  }
}

let workspace: Workspace;
let forge: FakeForge;
beforeEach(async () => {
  workspace = createWorkspace({ name: "payments" });
  forge = new FakeForge("forge-token-for-tests");
  await forge.start();
});
afterEach(async () => {
  await forge.stop();
  workspace.cleanup();
});

describe("plumb plan --comment", () => {
  it("posts one comment on a GitHub pull request and updates it on the next plan", async () => {
    // Someone else's comments come first; plenty of them, so the search pages.
    for (let index = 0; index < 120; index++) forge.comments.push({ id: index, body: `looks good ${index}` });
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "hello\n"));
    const pull = `http://127.0.0.1:${forge.port}/acme/infra/pull/7`;
    const environment = { PLUMB_FORGE: "github", GITHUB_TOKEN: "forge-token-for-tests" };
    const first = await runCliAsync(["plan", workspace.stackDir, "--data-dir", workspace.dataDir, "--comment", pull], { env: environment });
    expect(first.stderr).toContain(`plan posted on ${pull}`);
    expect(first.status).toBe(0);
    const ours = () => forge.comments.filter((comment) => comment.body.includes("plumb-plan"));
    expect(ours()).toHaveLength(1);
    expect(ours()[0]?.body).toContain("### Plumb plan for `payments`");
    expect(ours()[0]?.body).toContain("**create** `file.plumb.dev/v1/File/motd`");

    workspace.write("files.yaml", fileResource("motd", "motd.txt", "hello\n") + fileResource("banner", "banner.txt", "hi\n"));
    const second = await runCliAsync(["plan", workspace.stackDir, "--data-dir", workspace.dataDir, "--comment", pull], { env: environment });
    expect(second.stderr).toContain(`plan updated on ${pull}`);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]?.body).toContain("**create** `file.plumb.dev/v1/File/banner`");
    expect(forge.comments).toHaveLength(121);
    expect(forge.requests.filter((request) => request.startsWith("PATCH"))).toEqual([`PATCH /api/v3/repos/acme/infra/issues/comments/${ours()[0]?.id}`]);

    // A plan that cannot be made says why on the pull request, and the job fails.
    workspace.write("broken.yaml", "apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: [ }\n");
    const broken = await runCliAsync(["plan", workspace.stackDir, "--data-dir", workspace.dataDir, "--comment", pull], { env: environment });
    expect(broken.status).toBe(1);
    expect(ours()).toHaveLength(1);
    expect(ours()[0]?.body).toContain("failed");
    expect(ours()[0]?.body).toContain("broken.yaml:3");
  });

  it("refuses a bad address or a missing token before any work, and says so when the forge refuses the token", async () => {
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "hello\n"));
    const plan = (comment: string, env: Record<string, string>) =>
      runCliAsync(["plan", workspace.stackDir, "--data-dir", workspace.dataDir, "--comment", comment], {
        env: { GITHUB_TOKEN: "", PLUMB_FORGE_TOKEN: "", ...env },
      });
    expect((await plan("not a url", {})).stderr).toContain("--comment not a url: not a URL");
    expect((await plan("https://github.com/acme/infra/issues", {})).stderr).toContain("does not end with the pull request's number");
    const withCredentials = await plan("https://user:secret-canary@github.com/acme/infra/pull/7", {});
    expect(withCredentials.stderr).toContain("must not carry credentials");
    expect(withCredentials.stderr).not.toContain("secret-canary");
    expect((await plan("https://github.com/acme/infra/pull/7", {})).stderr).toContain("--comment needs a token for github");
    const refused = await plan(`http://127.0.0.1:${forge.port}/acme/infra/pull/7`, { PLUMB_FORGE: "github", GITHUB_TOKEN: "wrong-token-value" });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("the token was refused");
    expect(refused.stderr).not.toContain("wrong-token-value");
  });
});

/** A directory with a `plumb` that runs this build, for recipes that call plumb from PATH. */
function plumbOnPath(): string {
  const bin = path.join(workspace.root, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(path.join(bin, "plumb"), `#!/bin/sh\nexec "${process.execPath}" "${cliPath}" "$@"\n`);
  chmodSync(path.join(bin, "plumb"), 0o755);
  return bin;
}

function runShell(script: string, env: Record<string, string>): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bash", ["-e", "-c", script], { cwd: workspace.root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (status) => resolve({ status, output }));
  });
}

describe("the CI recipes in docs/ci", () => {
  it("GitHub Actions: the workflow's steps post the plan, and a second run updates it", async () => {
    interface Step {
      name?: string;
      run?: string;
    }
    const workflow = parse(readFileSync(path.join(repositoryRoot, "docs/ci/github-actions.yml"), "utf8")) as {
      jobs: { plan: { env: Record<string, string>; steps: Step[] } };
    };
    const job = workflow.jobs.plan;
    const values: Record<string, string> = {
      "github.event.pull_request.html_url": `http://127.0.0.1:${forge.port}/acme/infra/pull/7`,
      "secrets.GITHUB_TOKEN": "forge-token-for-tests",
    };
    // The job's env with the workflow expressions filled; a store secret this test has no use for is left out (SQLite below).
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(job.env)) {
      const filled = value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_match, expression: string) => values[expression] ?? "");
      if (filled !== "") env[name] = filled;
    }
    mkdirSync(path.join(workspace.root, env.STACK_DIR ?? "missing"), { recursive: true });
    writeFileSync(path.join(workspace.root, env.STACK_DIR ?? "missing", "stack.yaml"), readFileSync(path.join(workspace.stackDir, "stack.yaml")));
    writeFileSync(path.join(workspace.root, env.STACK_DIR ?? "missing", "files.yaml"), fileResource("motd", "motd.txt", "hello\n"));
    const runSteps = job.steps.filter((step) => step.run !== undefined && step.name !== "Install Plumb");
    expect(runSteps.map((step) => step.name)).toEqual(["Plan and comment"]);
    const shellEnv = { ...env, PLUMB_FORGE: "github", PLUMB_DATA_DIR: workspace.dataDir, PATH: `${plumbOnPath()}:${process.env.PATH ?? ""}` };
    for (const step of runSteps) {
      const result = await runShell(step.run as string, shellEnv);
      expect(result.output).toContain("plan posted on");
      expect(result.status).toBe(0);
    }
    for (const step of runSteps) expect((await runShell(step.run as string, shellEnv)).output).toContain("plan updated on");
    expect(forge.comments).toHaveLength(1);
    expect(forge.comments[0]?.body).toContain("**create** `file.plumb.dev/v1/File/motd`");
  });

  it("GitLab CI: the job's script posts the plan as a merge request note, and a second run updates it", async () => {
    const pipeline = parse(readFileSync(path.join(repositoryRoot, "docs/ci/gitlab-ci.yml"), "utf8")) as {
      "plumb-plan": { variables: Record<string, string>; script: string[] };
    };
    const job = pipeline["plumb-plan"];
    const stackDir = path.join(workspace.root, job.variables.STACK_DIR ?? "missing");
    mkdirSync(stackDir, { recursive: true });
    writeFileSync(path.join(stackDir, "stack.yaml"), readFileSync(path.join(workspace.stackDir, "stack.yaml")));
    writeFileSync(path.join(stackDir, "files.yaml"), fileResource("motd", "motd.txt", "hello\n"));
    const env = {
      ...job.variables,
      CI_MERGE_REQUEST_PROJECT_URL: `http://127.0.0.1:${forge.port}/platform/infra`,
      CI_MERGE_REQUEST_IID: "5",
      GITLAB_TOKEN: "forge-token-for-tests",
      PLUMB_DATA_DIR: workspace.dataDir,
      PATH: `${plumbOnPath()}:${process.env.PATH ?? ""}`,
    };
    const script = job.script.join("\n");
    const first = await runShell(script, env);
    expect(first.output).toContain("plan posted on");
    expect(first.status).toBe(0);
    const second = await runShell(script, env);
    expect(second.output).toContain("plan updated on");
    expect(forge.comments).toHaveLength(1);
    expect(forge.requests.some((request) => request.startsWith("PUT /api/v4/projects/platform%2Finfra/merge_requests/5/notes/"))).toBe(true);
  });
});
