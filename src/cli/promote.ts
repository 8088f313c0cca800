// plumb promote: pins, in the target environment, the revision a StackSet's,
// an application's or a stack's source environment runs healthy. The agent
// judges (its PromotionPolicy, the source's health); the promotion itself is
// a Pin document committed to the platform repository — on its branch, or on
// a new branch with a pull request through the forge's API — so it is
// reviewed, audited and reverted like any other change in Git. The agent
// never needs the right to push.

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Option, type Command } from "commander";
import { stringify } from "yaml";
import { scanPlatform } from "../agent/platform.js";
import type { PromotionAnswer } from "../api/routes/promotions.js";
import { errorMessage, PlumbError } from "../errors.js";
import { pinKind, type PinDocument } from "../policy/promotion.js";
import { redactUrl } from "../source/git.js";
import { action } from "./context.js";
import { forgeApi, forgeCall, forgeToken, isForge, type Forge, type ForgeTarget } from "./forge.js";
import { callAgent, remoteOptions, type RemoteFlags } from "./remote.js";

interface PromoteFlags extends RemoteFlags {
  to: string;
  from?: string;
  platform: string;
  path: string;
  branch: string;
  pullRequest?: string;
  author?: string;
  dryRun?: boolean;
}

async function git(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } }, (error, stdout, stderr) => {
      if (error === null) resolve(stdout.trim());
      else reject(new PlumbError("PLUMB_PROMOTION", `git ${args[0]}: ${redactUrl(stderr.trim() || error.message)}`));
    });
  });
}

/** The forge repository a promotion opens its pull request on, from its web address. */
export interface ForgeRepository extends ForgeTarget {
  pulls: string;
}

export function parseRepository(text: string, environment: NodeJS.ProcessEnv = process.env): ForgeRepository {
  const usage = (why: string) =>
    new PlumbError("PLUMB_USAGE", `--pull-request ${redactUrl(text)}: ${why}`, {
      hint: "give the platform repository's web address (https://github.com/<owner>/<repo>, https://<gitlab>/<group>/<project>, https://<gitea>/<owner>/<repo>); PLUMB_FORGE names the forge for a host whose name does not, PLUMB_FORGE_API the API address",
    });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage("not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw usage("only http and https addresses");
  if (url.username !== "" || url.password !== "") throw usage("the address must not carry credentials (the token comes from the environment)");
  const hinted = environment.PLUMB_FORGE;
  const host = url.hostname;
  const forge: Forge | undefined = isForge(hinted)
    ? hinted
    : host === "github.com" || host.startsWith("github.")
      ? "github"
      : host.includes("gitlab")
        ? "gitlab"
        : host.includes("gitea") || host.includes("forgejo") || host === "codeberg.org"
          ? "gitea"
          : undefined;
  if (forge === undefined) throw usage(`cannot tell which forge ${host} is`);
  const segments = url.pathname
    .replace(/\.git$/, "")
    .split("/")
    .filter((segment) => segment !== "");
  const api = forgeApi(forge, url, environment);
  const target = { forge, url: text, purpose: "push branches and open pull requests" };
  if (forge === "gitlab") {
    if (segments.length < 2) throw usage("a GitLab project address is /<group>/<project>");
    return { ...target, pulls: `${api}/projects/${encodeURIComponent(segments.join("/"))}/merge_requests` };
  }
  if (segments.length !== 2) throw usage("a repository address is /<owner>/<repo>");
  return { ...target, pulls: `${api}/repos/${segments.map((segment) => encodeURIComponent(segment)).join("/")}/pulls` };
}

/** Opens the pull (merge) request; returns its web address. */
export async function openPullRequest(repository: ForgeRepository, token: string, branch: string, base: string, title: string, body: string): Promise<string> {
  const request =
    repository.forge === "gitlab"
      ? { source_branch: branch, target_branch: base, title, description: body, remove_source_branch: true }
      : { head: branch, base, title, body };
  const answer = (await forgeCall(repository, token, "POST", repository.pulls, request)) as { html_url?: unknown; web_url?: unknown };
  const address = repository.forge === "gitlab" ? answer.web_url : answer.html_url;
  return typeof address === "string" ? address : repository.url;
}

/** The Pin document for one promoted stack, with a comment saying where it came from. */
function pinText(pin: PinDocument, application: string, from: string): string {
  return `# Written by plumb promote: ${pin.metadata.name} runs what ${application} ran healthy in ${from}.\n# Remove this file to let the stack follow its own ref again.\n${stringify(pin)}`;
}

type PromotionItem = PromotionAnswer["items"][number];

/** The target runs (or is pinned to) what the source runs: nothing to do, whatever the rules say. */
const inStep = (item: PromotionItem) => !item.pending && item.source !== null && item.source.revision !== null;

async function promote(target: string, flags: PromoteFlags): Promise<void> {
  const query = new URLSearchParams({ target, to: flags.to, ...(flags.from === undefined ? {} : { from: flags.from }) });
  const answer = await callAgent<PromotionAnswer>(flags, "GET", `/api/v1/promotions?${query}`);
  for (const item of answer.items)
    if (item.verdict.rule === "missing-environment") process.stderr.write(`skipping ${item.application}: ${item.verdict.reason}\n`);
  const refused = answer.items.filter((item) => !item.verdict.allowed && !inStep(item) && item.verdict.rule !== "missing-environment");
  if (refused.length > 0) {
    const lines = refused.map(
      (item) => `${item.application}: rule ${item.verdict.rule}${item.verdict.where == null ? "" : ` (${item.verdict.where})`}: ${item.verdict.reason}`,
    );
    const builtIn = refused.every((item) => item.verdict.rule === "healthy-source");
    throw new PlumbError("PLUMB_PROMOTION_REFUSED", `promotion of ${target} from ${answer.from} to ${answer.to} refused:\n  ${lines.join("\n  ")}`, {
      hint: builtIn
        ? `wait until ${answer.from} runs it Ready, then promote again`
        : "the rules are the platform's PromotionPolicy: promote from where, and when, they allow",
    });
  }
  const pending = answer.items.filter((item) => item.pending && item.source !== null && item.target !== null && item.source.revision !== null);
  if (pending.length === 0) {
    process.stdout.write(`nothing to promote: ${answer.to} already runs what ${answer.from} runs for ${target}\n`);
    return;
  }
  for (const item of pending)
    process.stdout.write(
      `${flags.dryRun === true ? "would pin" : "pinning"} ${item.target?.stack} at ${item.source?.revision?.slice(0, 12)} (running healthy in ${item.source?.stack} since ${item.source?.healthySince ?? "?"})\n`,
    );
  if (flags.dryRun === true) return;

  const work = await mkdtemp(path.join(tmpdir(), "plumb-promote-"));
  try {
    const checkout = path.join(work, "platform");
    await git(["clone", "--quiet", "--branch", flags.branch, "--single-branch", flags.platform, checkout], work);
    const platformDirectory = path.join(checkout, flags.path);
    const before = await scanPlatform(platformDirectory, checkout);
    // git's own idea of who commits (environment, then configuration), without its email and time.
    const ident = await git(["var", "GIT_AUTHOR_IDENT"], checkout).catch(() => "");
    const actor = flags.author ?? (ident.replace(/ <.*$/, "") || "plumb");
    const at = new Date().toISOString();
    const written: string[] = [];
    for (const item of pending) {
      const stack = item.target?.stack as string;
      const existing = before.promotions.pins.find((pin) => pin.pin.metadata.name === stack);
      const relative = path.posix.join("pins", `${stack}.yaml`);
      if (existing !== undefined && existing.file !== relative)
        throw new PlumbError("PLUMB_PROMOTION", `stack ${stack} is pinned already in ${path.posix.join(flags.path, existing.file)}:${existing.line}`, {
          hint: `move that Pin to ${path.posix.join(flags.path, relative)} (one file per stack), then promote again`,
        });
      const pin: PinDocument = {
        apiVersion: "plumb.dev/v1",
        kind: pinKind,
        metadata: { name: stack },
        spec: { revision: item.source?.revision as string, promotedFrom: item.source?.stack as string, promotedAt: at, promotedBy: actor },
      };
      await mkdir(path.join(platformDirectory, "pins"), { recursive: true });
      await writeFile(path.join(platformDirectory, relative), pinText(pin, item.application, answer.from));
      written.push(path.posix.join(flags.path, relative));
    }
    // The platform must read as cleanly after the pins as before them.
    const after = await scanPlatform(platformDirectory, checkout);
    const known = new Set(before.problems.map((problem) => problem.describe()));
    const added = after.problems.filter((problem) => !known.has(problem.describe()));
    if (added.length > 0)
      throw new PlumbError("PLUMB_PROMOTION", `the pins would leave the platform with problems:\n  ${added.map((problem) => problem.describe()).join("\n  ")}`);
    const title = `Promote ${target} from ${answer.from} to ${answer.to}`;
    const body = pending.map((item) => `- ${item.target?.stack}: ${item.source?.revision} (from ${item.source?.stack})`).join("\n");
    await git(["add", "--", ...written], checkout);
    const committer = await git(["var", "GIT_COMMITTER_IDENT"], checkout).catch(() => "");
    const identity = committer === "" ? ["-c", "user.name=plumb", "-c", "user.email=plumb@localhost"] : [];
    await git([...identity, "commit", "--quiet", "-m", title, "-m", body, ...(flags.author === undefined ? [] : [`--author=${flags.author}`])], checkout);
    const commit = await git(["rev-parse", "HEAD"], checkout);
    if (flags.pullRequest === undefined) {
      await pushWithRetry(checkout, flags.branch);
      process.stdout.write(`committed ${commit.slice(0, 12)} on ${flags.branch}: ${written.join(", ")}\n`);
      return;
    }
    const repository = parseRepository(flags.pullRequest);
    const token = forgeToken(repository.forge, "--pull-request");
    const branch = `plumb/promote-${target}-${answer.to}-${commit.slice(0, 8)}`;
    await git(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], checkout);
    const address = await openPullRequest(repository, token, branch, flags.branch, title, body);
    process.stdout.write(`opened ${address} from branch ${branch} (commit ${commit.slice(0, 12)}): ${written.join(", ")}\n`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Pushes to the branch; when someone pushed first, replays the pin commit on theirs and tries again (three times). */
async function pushWithRetry(checkout: string, branch: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await git(["push", "--quiet", "origin", `HEAD:refs/heads/${branch}`], checkout);
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
      try {
        await git(["pull", "--quiet", "--rebase", "origin", branch], checkout);
      } catch (rebase) {
        throw new PlumbError("PLUMB_PROMOTION", `the platform branch ${branch} moved and the pins do not replay on it: ${errorMessage(rebase)}`, {
          hint: "promote again",
        });
      }
    }
  }
}

export function registerPromote(program: Command): void {
  remoteOptions(
    program
      .command("promote")
      .description("pin, in one environment, the revision that a StackSet, application or stack runs healthy in the one before; as a commit or a pull request")
      .argument("<target>", "a StackSet, an application (app label, or stack name without -<environment>) or a stack")
      .requiredOption("--to <environment>", "the environment to promote to")
      .option("--from <environment>", "the environment to promote from (default: the one before --to in the PromotionPolicy)")
      .addOption(
        new Option("--platform <url-or-path>", "the platform repository to commit the pins to (needs push rights)").env("PLUMB_PLATFORM").makeOptionMandatory(),
      )
      .option("--path <path>", "directory inside the platform repository that holds the Stack documents", ".")
      .option("--branch <branch>", "the platform repository's branch the agent reads", "main")
      .option("--pull-request <repository-url>", "push a branch and open a pull request on this forge repository instead of committing on --branch")
      .option("--author <name <email>>", "the commit's author (default: git's user)")
      .option("--dry-run", "say what would be pinned, write nothing"),
  )
    .addHelpText(
      "after",
      "\nThe forge token for --pull-request comes from PLUMB_FORGE_TOKEN (or GITHUB_TOKEN, GITLAB_TOKEN, GITEA_TOKEN).\n\nExamples:\n  $ plumb promote payments --to staging\n  $ plumb promote team-apps --from staging --to prod --pull-request https://github.com/acme/platform",
    )
    .action(action(async (target: string, flags: PromoteFlags) => promote(target, flags)));
}
