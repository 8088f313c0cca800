// Git sources: a bare mirror per repository in the cache directory, `ls-remote`
// first so an unmoved ref costs no fetch, and immutable checkouts per commit.
// Git runs as a child process with argument arrays only; URLs and refs are
// validated so they can never be read as options.

import { execFile } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { access, readdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import semver from "semver";
import { PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";

/** Which commit of a repository to follow (Flux's GitRepository `ref`). */
export type GitRef = { branch: string } | { tag: string } | { semver: string } | { commit: string } | { name: string };

export interface GitCredentials {
  /** For https: sent as HTTP basic auth with `username` (default `git`). Never put on a command line. */
  token?: string;
  username?: string;
  /** For ssh: a private key file and the known_hosts file the server's key must be in. */
  sshKeyFile?: string;
  knownHostsFile?: string;
}

export interface SignatureVerification {
  /** `ssh`: an allowed-signers file (ssh-keygen's format); `gpg`: a GnuPG home holding the trusted keys. */
  mode: "ssh" | "gpg";
  allowedSignersFile?: string;
  gnupgHome?: string;
}

export interface GitSource {
  url: string;
  ref: GitRef;
  credentials?: GitCredentials;
  verify?: SignatureVerification;
}

export interface CommitInfo {
  commit: string;
  author: string;
  email: string;
  date: string;
  message: string;
}

const commitPattern = /^[0-9a-f]{40}$/;
// Remote URL forms git accepts that cannot run a command: no `ext::`, no options, no control characters.
const urlPattern = /^(https?:\/\/|ssh:\/\/|git:\/\/|file:\/\/)[^\s\p{Cc}]+$|^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s\p{Cc}]+$/u;
const refNamePattern = /^(?!-)(?!.*\.\.)(?!.*\/\/)(?!.*@\{)[^\s\p{Cc}~^:?*[\\]{1,200}(?<![./])$/u;

export function validateRepositoryUrl(url: string, where: string): string {
  if (!urlPattern.test(url) || url.startsWith("-")) {
    throw new PlumbError("PLUMB_SOURCE_INVALID", `${where}: "${redactUrl(url)}" is not a git repository URL Plumb accepts`, {
      hint: "use https://host/path.git, ssh://git@host/path.git, git@host:path.git, git://host/path or file:///absolute/path",
    });
  }
  if (/^https?:\/\/[^/@]*:[^/@]*@/.test(url)) {
    throw new PlumbError("PLUMB_SOURCE_INVALID", `${where}: the repository URL carries a password`, {
      hint: "remove the credentials from the URL and give a token through the source's secretRef instead",
    });
  }
  return url;
}

/** Reads a ref as written in a Stack: a string (branch or tag name, or a 40-hex commit) or one of branch/tag/semver/commit. */
export function parseRef(ref: unknown, where: string): GitRef {
  const check = (name: string, value: unknown): string => {
    if (typeof value !== "string" || !refNamePattern.test(value)) {
      throw new PlumbError("PLUMB_SOURCE_INVALID", `${where}: ${name} ${JSON.stringify(value)} is not a valid git ref`, {
        hint: "use a branch or tag name without spaces, '..', '~', '^', ':' or a leading '-'",
      });
    }
    return value;
  };
  if (ref === undefined) return { name: "main" };
  if (typeof ref === "string") return commitPattern.test(ref) ? { commit: ref } : { name: check("ref", ref) };
  if (typeof ref === "object" && ref !== null && Object.keys(ref).length === 1) {
    const [[key, value]] = Object.entries(ref) as [[string, unknown]];
    if (key === "branch" || key === "tag") return { [key]: check(key, value) } as GitRef;
    if (key === "commit" && typeof value === "string" && commitPattern.test(value)) return { commit: value };
    if (key === "semver" && typeof value === "string" && semver.validRange(value) !== null) return { semver: value };
  }
  throw new PlumbError("PLUMB_SOURCE_INVALID", `${where}: ref ${JSON.stringify(ref)} is not understood`, {
    hint: 'write a branch or tag name, or exactly one of { branch }, { tag }, { semver: ">=1.2.0 <2" } or { commit: <40 hex digits> }',
  });
}

export function describeRef(ref: GitRef): string {
  if ("branch" in ref) return `branch ${ref.branch}`;
  if ("tag" in ref) return `tag ${ref.tag}`;
  if ("semver" in ref) return `semver ${ref.semver}`;
  if ("commit" in ref) return `commit ${ref.commit}`;
  return ref.name;
}

/** Hides userinfo in URLs, so a message never shows credentials. */
export function redactUrl(text: string): string {
  return text.replace(/([a-z]+:\/\/)[^/@\s]+@/gi, "$1[redacted]@");
}

function quoteForShell(value: string, what: string): string {
  if (/['\p{Cc}]/u.test(value))
    throw new PlumbError("PLUMB_SOURCE_INVALID", `${what} path contains a quote or control character`, { hint: "move the file to a plain path" });
  return `'${value}'`;
}

interface GitResult {
  stdout: string;
}

/** Serialises work on one mirror; different mirrors proceed in parallel. */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<Result>(key: string, work: () => Promise<Result>): Promise<Result> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface ResolvedRevision {
  commit: string;
  /** The ref that matched, e.g. refs/tags/v1.4.0 for a semver range. */
  refName: string;
}

export class GitMirrors {
  private readonly mutex = new KeyedMutex();
  private readonly lastChanges = new Map<string, string>();

  constructor(
    private readonly cacheDirectory: string,
    private readonly timeoutMs = 120_000,
  ) {}

  mirrorDirectory(url: string): string {
    return path.join(this.cacheDirectory, "mirrors", `${createHash("sha256").update(url).digest("hex").slice(0, 24)}.git`);
  }

  private checkoutDirectory(url: string, commit: string): string {
    return path.join(this.cacheDirectory, "checkouts", path.basename(this.mirrorDirectory(url), ".git"), commit);
  }

  private async git(args: readonly string[], source: GitSource, extraEnvironment: Record<string, string> = {}): Promise<GitResult> {
    const environment: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: this.cacheDirectory,
      LANG: "C",
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_ASKPASS: "/bin/false",
      ...extraEnvironment,
    };
    const { token, username, sshKeyFile, knownHostsFile } = source.credentials ?? {};
    if (token !== undefined) {
      environment.GIT_CONFIG_COUNT = "1";
      environment.GIT_CONFIG_KEY_0 = "http.extraHeader";
      environment.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${Buffer.from(`${username ?? "git"}:${token}`).toString("base64")}`;
    }
    // Never prompt, never accept an unknown host key.
    const ssh = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"];
    if (sshKeyFile !== undefined) ssh.push("-o", "IdentitiesOnly=yes", "-i", quoteForShell(sshKeyFile, "the ssh key"));
    if (knownHostsFile !== undefined) ssh.push("-o", `UserKnownHostsFile=${quoteForShell(knownHostsFile, "the known_hosts")}`);
    environment.GIT_SSH_COMMAND = ssh.join(" ");
    return new Promise((resolve, reject) => {
      execFile(
        "git",
        ["-c", "protocol.ext.allow=never", ...args],
        { env: environment, timeout: this.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error === null) {
            resolve({ stdout });
            return;
          }
          const secrets = [token].filter((value): value is string => value !== undefined && value !== "");
          let detail = redactUrl(String(stderr).trim() || error.message);
          for (const secret of secrets) detail = detail.split(secret).join("[redacted]");
          reject(Object.assign(new Error(detail.split("\n").slice(-6).join("\n")), { exitCode: error.code, killed: error.killed }));
        },
      );
    });
  }

  private unreachable(source: GitSource, error: unknown): PlumbError {
    const message = error instanceof Error ? error.message : String(error);
    return new PlumbError("PLUMB_SOURCE_UNREACHABLE", `cannot read ${redactUrl(source.url)}: ${message}`, {
      hint: "check the URL, the network and the credentials; the last good revision stays in use meanwhile",
      cause: error,
    });
  }

  /** The commit the source's ref points at now, from `git ls-remote` (no fetch). */
  async resolve(source: GitSource): Promise<ResolvedRevision> {
    const ref = source.ref;
    if ("commit" in ref) return { commit: ref.commit, refName: ref.commit };
    const patterns =
      "branch" in ref
        ? [`refs/heads/${ref.branch}`]
        : "tag" in ref
          ? [`refs/tags/${ref.tag}`, `refs/tags/${ref.tag}^{}`]
          : "name" in ref
            ? [`refs/heads/${ref.name}`, `refs/tags/${ref.name}`, `refs/tags/${ref.name}^{}`]
            : [];
    let listing: GitResult;
    try {
      listing = await this.git(["ls-remote", ...("semver" in ref ? ["--tags"] : []), "--", source.url, ...patterns], source);
    } catch (error) {
      throw this.unreachable(source, error);
    }
    const refs = new Map<string, string>();
    for (const line of listing.stdout.split("\n")) {
      const [commit, name] = line.split("\t");
      if (commit !== undefined && name !== undefined && commitPattern.test(commit)) refs.set(name, commit);
    }
    // An annotated tag's own object is not a commit; `^{}` is the commit it points at.
    const peeled = (name: string) => refs.get(`${name}^{}`) ?? refs.get(name);
    if ("semver" in ref) {
      const candidates = [...refs.keys()]
        .filter((name) => name.startsWith("refs/tags/") && !name.endsWith("^{}"))
        .map((name) => ({ name, version: semver.clean(name.slice("refs/tags/".length)) }))
        .filter((candidate): candidate is { name: string; version: string } => candidate.version !== null && semver.satisfies(candidate.version, ref.semver));
      candidates.sort((left, right) => semver.rcompare(left.version, right.version));
      const best = candidates[0];
      if (best !== undefined) return { commit: peeled(best.name) as string, refName: best.name };
    } else {
      for (const pattern of patterns.filter((name) => !name.endsWith("^{}"))) {
        const commit = peeled(pattern);
        if (commit !== undefined) return { commit, refName: pattern };
      }
    }
    throw new PlumbError("PLUMB_SOURCE_REF_NOT_FOUND", `${redactUrl(source.url)} has no ${describeRef(ref)}`, {
      hint: "push the branch or tag, or correct the ref in the Stack's source",
    });
  }

  /** Makes sure the mirror holds `commit`, fetching only when it does not. */
  async ensureCommit(source: GitSource, commit: string): Promise<void> {
    const mirror = this.mirrorDirectory(source.url);
    await this.mutex.run(mirror, async () => {
      if (await this.hasCommit(source, mirror, commit)) return;
      try {
        await access(path.join(mirror, "HEAD"));
      } catch {
        await makeDirectories(path.dirname(mirror));
        await this.git(["init", "--bare", "--quiet", "--", mirror], source);
      }
      try {
        await this.git(
          ["--git-dir", mirror, "fetch", "--quiet", "--prune", "--no-tags", "--", source.url, "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
          source,
        );
      } catch (error) {
        throw this.unreachable(source, error);
      }
      // An exact commit that no branch or tag reaches can still be fetched by id from most servers.
      if (!(await this.hasCommit(source, mirror, commit))) {
        try {
          await this.git(["--git-dir", mirror, "fetch", "--quiet", "--", source.url, commit], source);
        } catch {
          // Reported below as not found.
        }
      }
      if (!(await this.hasCommit(source, mirror, commit))) {
        throw new PlumbError("PLUMB_SOURCE_REF_NOT_FOUND", `${redactUrl(source.url)} has no commit ${commit}`, {
          hint: "check the commit id in the Stack's source",
        });
      }
    });
  }

  private async hasCommit(source: GitSource, mirror: string, commit: string): Promise<boolean> {
    try {
      await this.git(["--git-dir", mirror, "cat-file", "-e", `${commit}^{commit}`], source);
      return true;
    } catch {
      return false;
    }
  }

  /** Checks the signature of `commit` against the source's trusted keys. */
  async verifyCommit(source: GitSource, commit: string): Promise<void> {
    const verify = source.verify;
    if (verify === undefined) return;
    const mirror = this.mirrorDirectory(source.url);
    const args = ["--git-dir", mirror];
    const environment: Record<string, string> = {};
    if (verify.mode === "ssh") {
      if (verify.allowedSignersFile === undefined)
        throw new PlumbError("PLUMB_SOURCE_INVALID", "ssh signature verification needs allowedSignersFile", {
          hint: "point verify.allowedSignersFile at an ssh-keygen allowed signers file",
        });
      args.push("-c", "gpg.format=ssh", "-c", `gpg.ssh.allowedSignersFile=${verify.allowedSignersFile}`);
    } else if (verify.gnupgHome !== undefined) environment.GNUPGHOME = verify.gnupgHome;
    try {
      await this.git([...args, "verify-commit", commit], source, environment);
    } catch (error) {
      throw new PlumbError(
        "PLUMB_SOURCE_VERIFY",
        `commit ${commit} of ${redactUrl(source.url)} is not signed by a trusted key: ${error instanceof Error ? error.message : String(error)}`,
        {
          hint: "sign the commit with a key listed in the source's verify settings; Plumb keeps the last verified revision meanwhile",
        },
      );
    }
  }

  /** A read-only tree of what `ref` of the public repository `url` points at now (a Kustomize remote base). */
  async checkoutRef(url: string, ref: string): Promise<string> {
    const source: GitSource = { url: validateRepositoryUrl(url, "remote base"), ref: parseRef(ref, `remote base ${redactUrl(url)}`) };
    const { commit } = await this.resolve(source);
    await this.ensureCommit(source, commit);
    return this.checkout(source, commit);
  }

  /** A read-only tree of `commit`, shared by every stack that reads this repository at that commit. */
  async checkout(source: GitSource, commit: string): Promise<string> {
    const target = this.checkoutDirectory(source.url, commit);
    const mirror = this.mirrorDirectory(source.url);
    return this.mutex.run(`${mirror}@checkout`, async () => {
      try {
        await access(target);
        return target;
      } catch {
        // Not checked out yet.
      }
      const staging = `${target}.${randomUUID()}.tmp`;
      await makeDirectories(staging);
      try {
        await this.git(["--git-dir", mirror, "--work-tree", staging, "read-tree", "--reset", "-u", commit], source, { GIT_INDEX_FILE: `${staging}.index` });
        await rename(staging, target);
      } finally {
        await rm(staging, { recursive: true, force: true });
        await rm(`${staging}.index`, { force: true });
      }
      return target;
    });
  }

  async commitInfo(source: GitSource, commit: string): Promise<CommitInfo> {
    const { stdout } = await this.git(["--git-dir", this.mirrorDirectory(source.url), "log", "-1", "--format=%H%x00%an%x00%ae%x00%aI%x00%s", commit], source);
    const [full, author, email, date, message] = stdout.trim().split("\u0000");
    return { commit: full ?? commit, author: author ?? "", email: email ?? "", date: date ?? "", message: message ?? "" };
  }

  /**
   * The newest commit at or before `commit` that changed anything under
   * `directory` ("." for the whole tree): two revisions with the same answer
   * hold the same files there. Asked once per (repository, commit, directory); commits do not change.
   */
  async lastChange(source: GitSource, commit: string, directory: string): Promise<string> {
    const key = `${source.url}\0${commit}\0${directory}`;
    const known = this.lastChanges.get(key);
    if (known !== undefined) return known;
    const { stdout } = await this.git(["--git-dir", this.mirrorDirectory(source.url), "log", "-1", "--format=%H", commit, "--", directory], source);
    const found = stdout.trim() || commit;
    if (this.lastChanges.size > 10_000) this.lastChanges.clear();
    this.lastChanges.set(key, found);
    return found;
  }

  /** Removes checkouts of a repository other than `keep` (old revisions pile up otherwise). */
  async pruneCheckouts(source: GitSource, keep: ReadonlySet<string>): Promise<void> {
    const directory = path.dirname(this.checkoutDirectory(source.url, "x"));
    let entries: string[];
    try {
      entries = await readdir(directory);
    } catch {
      return;
    }
    await Promise.all(
      entries
        .filter((entry) => commitPattern.test(entry) && !keep.has(entry))
        .map((entry) => rm(path.join(directory, entry), { recursive: true, force: true })),
    );
  }
}
