// The platform repository as the agent reads it: the checkout of its current
// commit, the Stack documents, the compliance policy, the secret stores, and
// the composites and rules (re-described only when their files change), with
// the problems found — each said in the log once, not on every read.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import type { CompliancePolicy } from "../policy/compliance.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { findPlatformFiles, loadPlatformLibrary, type PlatformLibrary } from "../render/platform-library.js";
import { defaultSandboxLimits, type SandboxLimits } from "../render/sandbox.js";
import type { SecretResolver } from "../secrets/references.js";
import { SecretStores } from "../secrets/stores.js";
import { parseRef, validateRepositoryUrl, type GitMirrors, type GitSource } from "../source/git.js";
import type { AgentMetrics } from "./metrics.js";
import { emptyProjects, type PlatformProjects } from "./platform-projects.js";
import { emptyPromotions, type PlatformPromotions } from "./platform-promotion.js";
import type { PlacedSink } from "./notification-sinks.js";
import { isSshUrl, scanPlatform, type PlatformOrigin, type PlatformScan, type PlatformStack, type SshSettings } from "./platform.js";
import type { RepositoryReader } from "./stack-sets.js";
import { ProviderPlugins } from "./provider-plugins.js";

export interface PlatformSourceOptions {
  origin: PlatformOrigin;
  mirrors: GitMirrors;
  registry: ProviderRegistry;
  /** The agent's own secret resolver, under the platform's SecretStore documents. */
  secrets: SecretResolver;
  sandboxLimits: SandboxLimits | undefined;
  logger: Logger;
  metrics: AgentMetrics;
  /** Key and known_hosts for the ssh repositories StackSet git generators read. */
  ssh?: SshSettings;
  /** Where compiled provider plug-ins are kept. */
  cacheDirectory: string;
}

/** One read of the platform: its stacks, and which managed stacks it no longer holds and may remove. */
export interface PlatformReading {
  stacks: Map<string, PlatformStack>;
  /** Stacks gone from a source that read cleanly: remove them. */
  removed: string[];
}

export class PlatformSource {
  /** Projects and the platform's provider instances, as last read. */
  projects: PlatformProjects = emptyProjects();
  /** The platform's policy, kept while a broken one is in the repository. */
  policy: CompliancePolicy | undefined;
  /** The PromotionPolicy and pins as last read; a broken policy is kept as broken, never as none. */
  promotions: PlatformPromotions = emptyPromotions();
  /** The notification sinks, kept while a document of theirs has problems (a typo never silences every alert). */
  sinks: PlacedSink[] = [];
  secrets: SecretStores;
  library: { key: string; library: PlatformLibrary } | undefined;
  problems: PlumbError[] = [];
  private problemsKey = "";
  private keptMissing = "";
  private storesKey = "";
  private revision: string | null = null;
  private checkout: string | undefined;

  private readonly plugins: ProviderPlugins;

  constructor(private readonly options: PlatformSourceOptions) {
    this.plugins = new ProviderPlugins(options.registry, options.cacheDirectory);
    this.secrets = new SecretStores([], { platformDirectory: "." }, options.secrets);
  }

  /**
   * Reads the platform's current state. `managed` are the stacks the agent
   * holds: those missing from a source with problems, or with no Stack at all,
   * are kept (an empty read never prunes everything) and said as a problem.
   */
  async read(managed: readonly string[]): Promise<PlatformReading | undefined> {
    const directory = await this.directory();
    if (directory === undefined) return undefined;
    const origin = this.options.origin;
    const scan = await scanPlatform(directory, origin.kind === "local" ? origin.root : (this.checkout ?? directory), this.readRepository);
    // Plug-ins first: the platform's composites and every stack may use their kinds.
    scan.problems.push(...(await this.plugins.sync(directory, scan.plugins)));
    scan.problems.push(...(await this.refreshLibrary(directory)));
    this.refreshStores(scan, directory);
    this.projects = scan.projects;
    this.promotions = scan.promotions;
    if (!scan.problems.some((problem) => problem.code === "PLUMB_NOTIFICATION")) this.sinks = scan.sinks;
    this.problems = scan.problems;
    if (scan.policy !== undefined) this.policy = scan.policy.policy;
    else if (!scan.problems.some((problem) => problem.code === "PLUMB_POLICY_INVALID")) this.policy = undefined;
    // Said when they change, not on every read of the platform.
    const problemsKey = scan.problems.map((problem) => problem.describe()).join("\n");
    if (problemsKey !== this.problemsKey)
      for (const problem of scan.problems) this.options.logger.warn({ problem: problem.describe() }, "platform repository problem");
    this.problemsKey = problemsKey;
    // A Stack that fails to parse looks exactly like one that was removed.
    const missing = managed.filter((name) => !scan.stacks.has(name));
    if (missing.length > 0 && (scan.problems.length > 0 || scan.stacks.size === 0)) {
      const shown = missing.slice(0, 10).join(", ");
      const kept = new PlumbError(
        "PLUMB_STACK_DEFINITION",
        `${missing.length} stack(s) are no longer in the platform source (${shown}${missing.length > 10 ? ", …" : ""}), which ${scan.stacks.size === 0 ? "holds no Stack documents at all" : "has problems"}; they are kept, and nothing is pruned, until it reads cleanly`,
        {
          hint:
            scan.stacks.size === 0
              ? "check that --platform, --ref and --path point at the Stack documents (a force-push or a wrong path looks like this)"
              : "fix the problems listed with this one",
        },
      );
      this.problems = [...this.problems, kept];
      const key = missing.join(",");
      if (key !== this.keptMissing) this.options.logger.warn({ missing }, kept.message);
      this.keptMissing = key;
      return { stacks: scan.stacks, removed: [] };
    }
    this.keptMissing = "";
    return { stacks: scan.stacks, removed: missing };
  }

  /** A StackSet git generator's repository, checked out at its ref's current commit through the agent's mirrors. */
  private readonly readRepository: RepositoryReader = async (url, ref, where) => {
    const source: GitSource = { url: validateRepositoryUrl(url, where), ref: parseRef(ref, where) };
    if (isSshUrl(source.url)) source.credentials = { ...this.options.ssh };
    const { commit } = await this.options.mirrors.resolve(source);
    await this.options.mirrors.ensureCommit(source, commit);
    return this.options.mirrors.checkout(source, commit);
  };

  /** Rebuilds the secret stores when their documents (or the platform checkout) changed and read cleanly. */
  private refreshStores(scan: PlatformScan, directory: string): void {
    if (scan.problems.some((problem) => problem.code === "PLUMB_SECRET_STORE")) return;
    const key = JSON.stringify([directory, scan.stores]);
    if (key === this.storesKey) return;
    this.secrets = new SecretStores(scan.stores, { platformDirectory: directory }, this.options.secrets);
    this.storesKey = key;
  }

  /** Re-describes the platform's composites and rules when their files changed; returns the problems found. */
  private async refreshLibrary(directory: string): Promise<PlumbError[]> {
    try {
      const files = await findPlatformFiles(directory);
      const hash = createHash("sha256");
      for (const file of files)
        hash
          .update(file)
          .update("\0")
          .update(await readFile(file))
          .update("\0");
      const key = hash.digest("hex");
      if (key === this.library?.key) return [];
      const platformPath = this.options.origin.path === "." ? "" : `${this.options.origin.path.replace(/\/+$/, "")}/`;
      const library = await loadPlatformLibrary(directory, {
        display: platformPath,
        limits: this.options.sandboxLimits ?? defaultSandboxLimits,
        registry: this.options.registry,
      });
      this.library = { key, library };
      return [];
    } catch (error) {
      if (error instanceof PlumbErrorList) return [...error.errors];
      return [error instanceof PlumbError ? error : new PlumbError("PLUMB_COMPOSITE", `the platform's composites and rules: ${errorMessage(error)}`)];
    }
  }

  /** The platform's files: a local directory, or a checkout of the platform repository's current commit. */
  private async directory(): Promise<string | undefined> {
    const platform = this.options.origin;
    if (platform.kind === "local") return path.join(platform.root, platform.path);
    const mirrors = this.options.mirrors;
    try {
      const { commit } = await mirrors.resolve(platform.source);
      if (commit !== this.revision || this.checkout === undefined) {
        await mirrors.ensureCommit(platform.source, commit);
        await mirrors.verifyCommit(platform.source, commit);
        this.checkout = await mirrors.checkout(platform.source, commit);
        this.revision = commit;
      }
      return path.join(this.checkout, platform.path);
    } catch (error) {
      this.options.metrics.gitErrors.inc();
      this.options.logger.warn({ err: errorMessage(error) }, "platform source unavailable; keeping the last good revision");
      return this.checkout === undefined ? undefined : path.join(this.checkout, platform.path);
    }
  }
}
