// Kustomize as a render step: the stack's kustomization (its root, or
// spec.kustomize.path) is built by `kubectl kustomize` or the kustomize binary
// the operator names in PLUMB_KUSTOMIZE, isolated like programs: no network,
// and nothing readable but the stack and the remote bases Plumb fetched
// itself from repositories the stack's project lists. Before the build Plumb
// walks the kustomizations the build will read, so a remote base or a path out
// of the stack is refused at its own file:line, not by a network error.

import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { isScalar, isSeq, parseDocument } from "yaml";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { SourcePosition } from "../sdk/resource.js";
import { findExecutable } from "./isolation.js";
import { runIsolatedTool, type ManifestRenderer, type ToolMount } from "./manifest-renderer.js";
import { maxFileBytes } from "./read-source.js";
import type { Problems } from "./problems.js";
import type { SandboxLimits } from "./sandbox.js";
import { parseYamlDocuments, type ParsedDocument } from "./yaml-documents.js";

export const kustomizationFileNames = ["kustomization.yaml", "kustomization.yml", "Kustomization"] as const;

/** Fields of a kustomization that name other kustomizations (or files) to build from. */
const referenceFields = ["resources", "bases", "components"] as const;

/** Remote bases in one build; each is a checkout bound into the sandbox. */
const maxRemoteBases = 20;

/** Where the build sees the stack, and remote base `n` (`/plumb/remote/n`). */
const stackMount = "/plumb/stack";

export interface RemoteBase {
  /** The repository URL as git takes it. */
  repository: string;
  /** The directory inside it; "" for its root. */
  path: string;
  ref: string;
}

/** How a build reaches remote bases: which repositories it may use, and a read-only checkout of one. */
export interface RemoteBaseAccess {
  /** The project's `kustomizeRemoteBases` patterns; none: every remote base is refused. */
  allowed: readonly string[];
  matches(pattern: string, repository: string): boolean;
  /** Fetched through Plumb's own git source; absent where this run cannot fetch (say why in `unavailable`). */
  fetch?: (base: RemoteBase) => Promise<string>;
  unavailable?: string;
}

export interface KustomizeJob {
  stackDirectory: string;
  /** The kustomization directory inside the stack, relative, "." for the root. */
  path: string;
  /** Where the path was written (spec.kustomize.path), for a path that leads nowhere. */
  pathWhere?: SourcePosition;
  remote: RemoteBaseAccess;
}

/** Directories of the stack ("." for its root) that hold a kustomization, from the stack's relative file paths. */
export function kustomizationDirectories(relativePaths: readonly string[]): Set<string> {
  const directories = new Set<string>();
  for (const file of relativePaths) if (isKustomizationFile(file)) directories.add(path.posix.dirname(file));
  return directories;
}

/** A file in or below a kustomization directory is Kustomize's input, not a resource of its own. */
export function isKustomizeInput(relativePath: string, directories: ReadonlySet<string>): boolean {
  for (let directory = path.posix.dirname(relativePath); ; directory = path.posix.dirname(directory)) {
    if (directories.has(directory)) return true;
    if (directory === ".") return false;
  }
}

/**
 * A kustomization entry that names a git repository: a URL
 * (`https://host/org/repo//dir?ref=v1`, `git@host:org/repo.git//dir?ref=v1`,
 * `file:///srv/repo.git//dir?ref=main`) or the `github.com/org/repo//dir` short
 * form. Undefined for a local path. A remote base must pin a ref.
 */
export function parseRemoteBase(entry: string): RemoteBase | { problem: string } | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(entry);
  const scp = scheme === null ? /^[\w.-]+@[\w.-]+:/.exec(entry) : null;
  const short = scheme === null && scp === null ? /^(github\.com|gitlab\.com|bitbucket\.org)\//.exec(entry) : null;
  if (scheme === null && scp === null && short === null) return undefined;
  const [location, query = ""] = entry.split("?", 2) as [string, string?];
  const ref = new URLSearchParams(query).get("ref") ?? undefined;
  const prefix = (scheme ?? scp ?? short)?.[0] ?? "";
  const rest = location.slice(prefix.length);
  const split = rest.indexOf("//");
  let repository = split === -1 ? rest : rest.slice(0, split);
  let directory = split === -1 ? "" : rest.slice(split + 2);
  if (split === -1) {
    // Without `//`, a `.git` ends the repository part.
    const dotGit = rest.indexOf(".git/");
    if (dotGit !== -1) {
      repository = rest.slice(0, dotGit + 4);
      directory = rest.slice(dotGit + 5);
    }
  }
  repository = short === null ? `${prefix}${repository}` : `https://${prefix}${repository}`;
  if (ref === undefined || ref === "") return { problem: `remote base ${entry} names no ref; add ?ref=<tag or commit> so every build reads the same files` };
  return { repository, path: path.posix.normalize(directory || ".").replace(/^\.$/, ""), ref };
}

/** One tree the build reads: the stack, or a fetched remote base, with where the build sees it. */
interface Tree {
  root: string;
  mount: string;
  /** Put before paths in messages: "" for the stack, `<repository>//` for a remote base. */
  display: string;
}

class BuildPlan {
  readonly mounts: ToolMount[] = [];
  readonly problems: PlumbError[] = [];
  private readonly visited = new Set<string>();
  private readonly remotes = new Map<string, Tree>();
  private scratch: string | undefined;

  constructor(private readonly remote: RemoteBaseAccess) {}

  /** A directory for rewritten kustomization files; the caller removes it. */
  async scratchDirectory(): Promise<string> {
    this.scratch ??= await mkdtemp(path.join(tmpdir(), "plumb-kustomize-"));
    return this.scratch;
  }

  get scratchPath(): string | undefined {
    return this.scratch;
  }

  refuse(message: string, where: SourcePosition, hint: string): void {
    this.problems.push(new PlumbError("PLUMB_KUSTOMIZE", message, { location: where, hint }));
  }

  /** Reads the kustomization in `directory` of `tree` and everything it builds from, recursively. */
  async walk(tree: Tree, directory: string): Promise<void> {
    const key = `${tree.mount}/${directory}`;
    if (this.visited.has(key)) return;
    this.visited.add(key);
    const name = kustomizationFileNames.find((candidate) => existsSync(path.join(tree.root, directory, candidate)));
    if (name === undefined) return;
    const relativeFile = path.posix.join(directory, name);
    const file = `${tree.display}${relativeFile}`;
    const text = await readInside(tree.root, relativeFile, file);
    const [parsed] = parseYamlDocuments(file, text);
    const value = parsed?.value;
    if (parsed === undefined || typeof value !== "object" || value === null || Array.isArray(value)) return;
    const rewritten = new Map<string, Map<number, string>>();
    for (const field of referenceFields) {
      const entries = (value as Record<string, unknown>)[field];
      if (!Array.isArray(entries)) continue;
      for (const [index, entry] of entries.entries()) {
        if (typeof entry !== "string") continue;
        const where = parsed.locate([field, index]);
        const remote = parseRemoteBase(entry);
        if (remote !== undefined) {
          const local = await this.remoteBase(remote, entry, where, tree, directory);
          if (local !== undefined) rewritten.set(field, (rewritten.get(field) ?? new Map<number, string>()).set(index, local));
          continue;
        }
        const target = path.posix.normalize(path.posix.join(directory, entry));
        if (path.posix.isAbsolute(entry) || target === ".." || target.startsWith("../")) {
          this.refuse(
            `${entry} lies outside the ${tree.display === "" ? "stack" : "remote base"}; a build reads only inside it`,
            where,
            "move the base into the stack directory, or publish it in a repository the project lists and name it as a remote base",
          );
          continue;
        }
        if (await isDirectory(path.join(tree.root, target))) await this.walk(tree, target);
      }
    }
    if (rewritten.size > 0) {
      const document = parseDocument(text);
      for (const [field, entries] of rewritten) {
        const sequence = document.get(field, true);
        if (!isSeq(sequence)) continue;
        for (const [index, local] of entries) {
          const item = sequence.items[index];
          if (isScalar(item)) item.value = local;
        }
      }
      const copy = path.join(await this.scratchDirectory(), `${this.mounts.length}-${name}`);
      await writeFile(copy, document.toString());
      this.mounts.push({ source: copy, target: path.posix.join(tree.mount, relativeFile) });
    }
  }

  /** The remote base fetched and bound into the build; the entry to write in its place, or undefined when refused. */
  private async remoteBase(
    remote: RemoteBase | { problem: string },
    entry: string,
    where: SourcePosition,
    tree: Tree,
    directory: string,
  ): Promise<string | undefined> {
    if ("problem" in remote) {
      this.refuse(remote.problem, where, "pin the base to a tag or a commit");
      return undefined;
    }
    if (!this.remote.allowed.some((pattern) => this.remote.matches(pattern, remote.repository))) {
      this.refuse(
        `remote base ${entry} is not allowed: Kustomize runs without network, and ${remote.repository} is not among the repositories the stack's project lists`,
        where,
        "copy the base into the stack, or ask the platform team to add the repository to the project's kustomizeRemoteBases",
      );
      return undefined;
    }
    if (this.remote.fetch === undefined) {
      this.refuse(
        `remote base ${entry} cannot be fetched here: ${this.remote.unavailable ?? "this run has no git source"}`,
        where,
        "let the agent render the stack",
      );
      return undefined;
    }
    const key = `${remote.repository}@${remote.ref}`;
    let fetched = this.remotes.get(key);
    if (fetched === undefined) {
      if (this.remotes.size >= maxRemoteBases) {
        this.refuse(`more than ${maxRemoteBases} remote bases in one build`, where, "vendor some of the bases into the stack");
        return undefined;
      }
      let checkout: string;
      try {
        checkout = await this.remote.fetch(remote);
      } catch (error) {
        this.refuse(
          `remote base ${entry} could not be fetched: ${error instanceof Error ? error.message : String(error)}`,
          where,
          "check the repository URL and the ref",
        );
        return undefined;
      }
      fetched = { root: checkout, mount: `/plumb/remote/${this.remotes.size}`, display: `${remote.repository}//` };
      this.remotes.set(key, fetched);
      this.mounts.push({ source: checkout, target: fetched.mount });
    }
    if (!(await isDirectory(path.join(fetched.root, remote.path)))) {
      this.refuse(`remote base ${entry}: ${remote.path || "its root"} is not a directory at ${remote.ref}`, where, "check the path after // and the ref");
      return undefined;
    }
    await this.walk(fetched, remote.path || ".");
    return path.posix.relative(path.posix.join(tree.mount, directory), path.posix.join(fetched.mount, remote.path));
  }
}

async function isDirectory(file: string): Promise<boolean> {
  return (await stat(file).catch(() => undefined))?.isDirectory() === true;
}

/** A kustomization's text, read only when its real path stays inside the tree. */
async function readInside(root: string, relativeFile: string, display: string): Promise<string> {
  const real = realpathSync(path.join(root, relativeFile));
  const realRoot = realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep))
    throw new PlumbError("PLUMB_PATH_ESCAPE", "this kustomization is a symlink to a place outside the stack; it is not read", {
      location: { file: display },
      hint: "copy the file into the stack directory instead of linking to it",
    });
  const text = await readFile(real);
  if (text.length > maxFileBytes) throw new PlumbError("PLUMB_FILE_TOO_LARGE", `larger than ${maxFileBytes} bytes`, { location: { file: display } });
  return text.toString("utf8");
}

/** The command that builds a kustomization: the operator's kustomize binary, else kubectl's built-in Kustomize. */
function kustomizeCommand(): { command: string[]; mounts: ToolMount[] } {
  const named = process.env.PLUMB_KUSTOMIZE;
  const found = findExecutable("kubectl", named);
  if (found === undefined)
    throw new PlumbError(
      "PLUMB_KUSTOMIZE_UNAVAILABLE",
      `Kustomize is not available here: ${named ? `PLUMB_KUSTOMIZE names ${named}, which does not exist` : "kubectl is not installed"}`,
      {
        hint: "install kubectl (it has Kustomize built in), or set PLUMB_KUSTOMIZE to a kustomize v5 binary",
      },
    );
  const real = realpathSync(found);
  // A binary outside /usr (which the sandbox binds already) is bound on its own, read-only.
  const mounts = real.startsWith("/usr/") ? [] : [{ source: path.dirname(real), target: path.dirname(real) }];
  return { command: named ? [real, "build"] : [real, "kustomize"], mounts };
}

export const kustomizeRenderer: ManifestRenderer<KustomizeJob> = {
  name: "kustomize",
  async render(job: KustomizeJob, limits: SandboxLimits) {
    const relative = path.posix.normalize(job.path);
    const title = `kustomize build ${relative}`;
    const file = path.posix.join(relative, "kustomization.yaml");
    if (path.posix.isAbsolute(relative) || relative === ".." || relative.startsWith("../"))
      throw new PlumbError("PLUMB_KUSTOMIZE", `spec.kustomize.path ${job.path} lies outside the stack`, {
        ...(job.pathWhere === undefined ? {} : { location: job.pathWhere }),
        hint: "name a directory inside the stack",
      });
    if (!(await isDirectory(path.join(job.stackDirectory, relative))))
      throw new PlumbError("PLUMB_KUSTOMIZE", `spec.kustomize.path ${job.path} is not a directory of the stack`, {
        ...(job.pathWhere === undefined ? {} : { location: job.pathWhere }),
        hint: "name a directory that holds a kustomization.yaml",
      });
    const plan = new BuildPlan(job.remote);
    try {
      await plan.walk({ root: job.stackDirectory, mount: stackMount, display: "" }, relative);
      if (plan.problems.length > 0) throw new PlumbErrorList(plan.problems);
      const tool = kustomizeCommand();
      const remoteDisplays = new Map(plan.mounts.filter((mount) => mount.target.startsWith("/plumb/remote/")).map((mount) => [mount.target, mount.source]));
      const yaml = await runIsolatedTool(
        {
          title,
          command: [...tool.command, path.posix.join(stackMount, relative)],
          mounts: [{ source: realpathSync(job.stackDirectory), target: stackMount }, ...tool.mounts, ...plan.mounts],
          cwd: stackMount,
          errorCode: "PLUMB_KUSTOMIZE",
          file,
          describe: (stderr) => {
            // Kustomize's deprecation warnings are not the error; kubectl wraps the error in a log line.
            let text = stderr
              .split("\n")
              .filter((line) => !line.startsWith("# Warning"))
              .join("\n");
            const logged = /"command failed" err="(.*)"\s*$/s.exec(text);
            if (logged !== null) text = (logged[1] as string).replace(/\\"/g, '"');
            text = text
              .replace(/^(Error|error): /, "")
              .split(`${stackMount}/`)
              .join("");
            for (const target of remoteDisplays.keys()) text = text.split(`${target}/`).join("(remote base) ");
            return text.split("\n").slice(0, 8).join("\n");
          },
        },
        limits,
      );
      return { title, yaml };
    } finally {
      if (plan.scratchPath !== undefined) await rm(plan.scratchPath, { recursive: true, force: true });
    }
  },
};

export interface KustomizeStep {
  directory: string;
  relativePaths: readonly string[];
  /** spec.kustomize.path, values already filled in; default: the stack root when it holds a kustomization. */
  configuredPath: string | undefined;
  /** Where spec.kustomize.path was written. */
  pathWhere?: SourcePosition;
  remote: RemoteBaseAccess;
  limits: SandboxLimits;
}

/** The documents the stack's kustomization builds, to be taken like the stack's own; problems go to `problems`. */
export async function kustomizedDocuments(step: KustomizeStep, problems: Problems): Promise<ParsedDocument[]> {
  const directories = kustomizationDirectories(step.relativePaths);
  const buildPath = step.configuredPath ?? (directories.has(".") ? "." : undefined);
  if (buildPath === undefined) {
    const [first] = [...directories].sort();
    if (first !== undefined) {
      const name = step.relativePaths.find((file) => path.posix.dirname(file) === first && isKustomizationFile(file)) ?? `${first}/kustomization.yaml`;
      problems.add(
        "PLUMB_KUSTOMIZE",
        "this kustomization is never built: the stack names no spec.kustomize.path and its root holds no kustomization",
        { file: name, line: 1, column: 1 },
        "set spec.kustomize.path in the Stack (for example overlays/${values.environment}), or move the files out of the kustomization's directory",
      );
    }
    return [];
  }
  try {
    const { title, yaml } = await kustomizeRenderer.render(
      { stackDirectory: step.directory, path: buildPath, remote: step.remote, ...(step.pathWhere === undefined ? {} : { pathWhere: step.pathWhere }) },
      step.limits,
    );
    return parseYamlDocuments(title, yaml);
  } catch (error) {
    if (error instanceof PlumbErrorList) problems.push(...error.errors);
    else if (error instanceof PlumbError) problems.push(error);
    else throw error;
    return [];
  }
}

function isKustomizationFile(file: string): boolean {
  return (kustomizationFileNames as readonly string[]).includes(path.posix.basename(file));
}
