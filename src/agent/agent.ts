// The agent's queue and scheduler: keeps the managed stacks in step with the
// platform source, starts each stack's commit loop and drift loop on its
// interval (with jitter, and backoff after failures), takes requests from the
// API and webhooks, and runs the jobs on one worker pool, one job per stack at
// a time. The loops themselves live in reconciler.ts, drift-loop.ts and
// rollback-removal.ts; a stack's failure only ever changes that stack's status.

import path from "node:path";
import type { Logger } from "pino";
import { errorMessage, PlumbError } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { AdmissionEndpoint } from "../render/admission-guards.js";
import type { SandboxLimits } from "../render/sandbox.js";
import type { SecretResolver } from "../secrets/references.js";
import { GitMirrors } from "../source/git.js";
import type { EventInput, StackStatus, Store } from "../state/store.js";
import { checkSyncPolicy, defaultHealthTimeoutMs, withJitter } from "../schedule.js";
import { AdmissionReviews } from "./admission.js";
import { DriftLoop } from "./drift-loop.js";
import type { Job, ManagedStack } from "./managed-stack.js";
import type { AgentMetrics } from "./metrics.js";
import { PlatformSource } from "./platform-source.js";
import type { PlatformOrigin, PlatformStack, SshSettings } from "./platform.js";
import { normalizeRepositoryUrl, refMatches } from "./push-match.js";
import { StackQueries, type AgentCommands } from "./queries.js";
import { StackReconciler } from "./reconciler.js";
import { RollbackAndRemoval } from "./rollback-removal.js";
import type { StackContext } from "./stack-context.js";
import { StackStatusBook } from "./stack-status.js";

export interface AgentOptions {
  store: Store;
  registry: ProviderRegistry;
  /** The built-in `local` store; the platform's SecretStore documents add the others. */
  secrets: SecretResolver;
  platform: PlatformOrigin;
  /** Key and known_hosts for ssh repositories (the platform's own are set on its source). */
  ssh?: SshSettings;
  cacheDirectory: string;
  logger: Logger;
  metrics: AgentMetrics;
  /** Stacks worked on at once. */
  workers: number;
  /** How often the platform source is re-read; default 30 s. */
  platformIntervalMs?: number;
  /** Defaults for stacks that set no interval. */
  defaultIntervalMs?: number;
  defaultDriftIntervalMs?: number;
  /** Limits for programs and compose functions; default defaultSandboxLimits. */
  sandboxLimits?: SandboxLimits;
  /** Where this agent serves admission requests (sync.preventDrift); none by default. */
  admission?: AdmissionEndpoint;
}

export class Agent implements AgentCommands {
  /** Statuses, conditions and events of the stacks, and the live stream of their changes. */
  private readonly book: StackStatusBook;
  /** The commit loop of one stack at a time; the drift loop and rollback apply through it. */
  private readonly reconciler: StackReconciler;
  private readonly drift: DriftLoop;
  private readonly lifecycle: RollbackAndRemoval;
  /** What the API reads: stacks, statuses, previews, the compliance report. */
  readonly queries: StackQueries;
  /** Answers the live systems' admission requests for stacks with sync.preventDrift. */
  readonly admission: AdmissionReviews;
  readonly mirrors: GitMirrors;
  private readonly stacks = new Map<string, ManagedStack>();
  private readonly queue: Job[] = [];
  private readonly running = new Set<string>();
  /** The platform repository: its Stack documents, policy, secret stores, composites and rules, and their problems. */
  private readonly platform: PlatformSource;
  private nextPlatformAt = 0;
  private platformBusy = false;
  private timer: NodeJS.Timeout | undefined;
  private activeWorkers = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  private readonly platformIntervalMs: number;
  private readonly defaultIntervalMs: number;
  private readonly defaultDriftIntervalMs: number;

  constructor(private readonly options: AgentOptions) {
    this.mirrors = new GitMirrors(path.join(options.cacheDirectory, "git"));
    this.platformIntervalMs = options.platformIntervalMs ?? 30_000;
    this.defaultIntervalMs = options.defaultIntervalMs ?? 60_000;
    this.defaultDriftIntervalMs = options.defaultDriftIntervalMs ?? 300_000;
    this.platform = new PlatformSource({
      origin: options.platform,
      mirrors: this.mirrors,
      registry: options.registry,
      secrets: options.secrets,
      sandboxLimits: options.sandboxLimits,
      logger: options.logger,
      metrics: options.metrics,
    });
    this.book = new StackStatusBook(options.store, options.logger, (stack) => this.stacks.has(stack));
    const context: StackContext = {
      store: options.store,
      book: this.book,
      platform: this.platform,
      stacks: this.stacks,
      mirrors: this.mirrors,
      registry: options.registry,
      origin: options.platform,
      ssh: options.ssh,
      sandboxLimits: options.sandboxLimits,
      admission: options.admission,
      metrics: options.metrics,
      logger: options.logger,
    };
    this.reconciler = new StackReconciler(context);
    this.drift = new DriftLoop(context, this.reconciler);
    this.lifecycle = new RollbackAndRemoval(context, this.reconciler);
    this.admission = new AdmissionReviews(context);
    this.queries = new StackQueries(
      context,
      () => this.queue.length,
      () => this.platformRead,
    );
  }

  /** True once the platform source has been read the first time (its stacks are known, or its problems). */
  private platformRead = false;

  /** Reads the platform once, then keeps every loop going until `stop`. */
  async start(): Promise<void> {
    await this.refreshPlatform();
    this.platformRead = true;
    this.timer = setInterval(() => this.tick(), 100);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.queue.length = 0;
    while (this.activeWorkers > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Commit loop now. `force` (a person's sync) plans and applies even when
   * nothing moved; a webhook only makes the loop look at once.
   */
  requestSync(stack: string, trigger: string, actor: string | null, force = true, override = false): void {
    const managed = this.stacks.get(stack);
    if (managed === undefined) return;
    if (force) managed.forced = true;
    this.enqueue({ stack, kind: "sync", trigger, actor, ...(override ? { override } : {}) });
  }

  /** Drift loop now (`refresh`): re-reads and compares; heals only where the stack's own policy would. */
  requestRefresh(stack: string, actor: string | null): void {
    if (this.stacks.has(stack)) this.enqueue({ stack, kind: "drift", trigger: "api", actor });
  }

  requestRollback(stack: string, revision: string, actor: string | null, override = false): void {
    if (this.stacks.has(stack)) this.enqueue({ stack, kind: "rollback", trigger: "rollback", actor, revision, ...(override ? { override } : {}) });
  }

  /** A webhook for `url` at `ref` (refs/heads/x or refs/tags/x): the platform and every stack reading that repository look now. */
  notifyPush(url: string, ref: string | undefined): string[] {
    const wanted = normalizeRepositoryUrl(url);
    const triggered: string[] = [];
    const platform = this.options.platform;
    if (platform.kind === "git" && normalizeRepositoryUrl(platform.source.url) === wanted) {
      this.nextPlatformAt = 0;
      triggered.push("(platform)");
    }
    const platformMatched = triggered.length > 0;
    for (const [name, managed] of this.stacks) {
      const source = managed.platform.document.spec?.source;
      if (source?.repo === undefined) {
        // Stacks inside the platform repository move with it.
        if (!platformMatched) continue;
      } else if (normalizeRepositoryUrl(source.repo) !== wanted || (ref !== undefined && !refMatches(source.ref, ref))) continue;
      this.requestSync(name, "webhook", null, false);
      triggered.push(name);
    }
    return triggered;
  }

  async setSuspended(stack: string, suspended: boolean, actor: string | null): Promise<void> {
    const status = await this.book.status(stack);
    await this.writeStatus({ ...status, suspended });
    await this.record([
      {
        stack,
        runId: null,
        address: null,
        type: suspended ? "stack.suspended" : "stack.resumed",
        message: `${suspended ? "suspended" : "resumed"} by ${actor ?? "the agent"}`,
      },
    ]);
    if (!suspended) this.requestSync(stack, "api", actor);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now >= this.nextPlatformAt && !this.platformBusy) void this.refreshPlatform();
    for (const [name, managed] of this.stacks) {
      if (managed.definitionError !== undefined) continue;
      if (now >= managed.nextSyncAt) {
        managed.nextSyncAt = now + withJitter(managed.intervalMs);
        this.enqueue({ stack: name, kind: "sync", trigger: "poll", actor: null });
      }
      if (now >= managed.nextDriftAt) {
        managed.nextDriftAt = now + withJitter(managed.driftIntervalMs);
        this.enqueue({ stack: name, kind: "drift", trigger: "drift", actor: null });
      }
    }
  }

  private enqueue(job: Job): void {
    if (this.stopped) return;
    // One waiting job of a kind per stack is enough: it will see the latest state when it runs.
    if (this.queue.some((queued) => queued.stack === job.stack && queued.kind === job.kind && job.kind !== "rollback")) return;
    this.queue.push(job);
    this.options.metrics.queueDepth.set(this.queue.length);
    this.pump();
  }

  private pump(): void {
    while (this.activeWorkers < this.options.workers) {
      const index = this.queue.findIndex((job) => !this.running.has(job.stack));
      if (index < 0) break;
      const [job] = this.queue.splice(index, 1) as [Job];
      this.options.metrics.queueDepth.set(this.queue.length);
      this.activeWorkers++;
      this.running.add(job.stack);
      void this.runJob(job).finally(() => {
        this.running.delete(job.stack);
        this.activeWorkers--;
        this.pump();
        if (this.activeWorkers === 0 && this.queue.length === 0) this.wakeIdle();
      });
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }

  private async runJob(job: Job): Promise<void> {
    const started = process.hrtime.bigint();
    try {
      if (job.kind === "sync") await this.reconciler.sync(job);
      else if (job.kind === "drift") await this.drift.driftCheck(job);
      else if (job.kind === "rollback") await this.lifecycle.rollback(job);
      else await this.lifecycle.removeStack(job);
    } catch (error) {
      // Every expected failure is handled inside; this is the last guard so one stack can never stop the agent.
      this.options.logger.error({ stack: job.stack, job: job.kind, err: errorMessage(error) }, "job failed unexpectedly");
      await this.book.report(job.stack, { kind: "internal-error", message: errorMessage(error) }).catch(() => undefined);
    } finally {
      this.options.metrics.runDuration.observe({ kind: job.kind }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  // ── platform ────────────────────────────────────────────────────────────

  private async refreshPlatform(): Promise<void> {
    if (this.platformBusy) return;
    this.platformBusy = true;
    this.nextPlatformAt = Date.now() + withJitter(this.platformIntervalMs);
    try {
      const reading = await this.platform.read([...this.stacks.keys()]);
      if (reading === undefined) return;
      for (const [name, stack] of reading.stacks) this.upsertStack(name, stack);
      for (const name of reading.removed) this.enqueue({ stack: name, kind: "remove", trigger: "platform", actor: null });
      this.options.metrics.stacks.set({ ready: "total" }, this.stacks.size);
    } catch (error) {
      this.options.logger.error({ err: errorMessage(error) }, "cannot read the platform source; keeping the stacks as they are");
    } finally {
      this.platformBusy = false;
      if (this.activeWorkers === 0 && this.queue.length === 0) this.wakeIdle();
    }
  }

  private upsertStack(name: string, platformStack: PlatformStack): void {
    const existing = this.stacks.get(name);
    if (existing !== undefined && JSON.stringify(existing.platform.document) === JSON.stringify(platformStack.document)) return;
    const where = `${platformStack.file}:${platformStack.line} (stack ${name})`;
    const sync = platformStack.document.spec?.sync ?? {};
    const managed: ManagedStack = {
      platform: platformStack,
      definitionError: undefined,
      intervalMs: this.defaultIntervalMs,
      driftIntervalMs: this.defaultDriftIntervalMs,
      healthTimeoutMs: defaultHealthTimeoutMs,
      backoff: { limit: undefined, initialMs: 5_000, factor: 2, maxMs: 180_000 },
      nextSyncAt: 0,
      nextDriftAt: Date.now() + this.defaultDriftIntervalMs,
      failures: 0,
      // A changed Stack document is applied at once; on start, a revision already applied is not.
      forced: existing !== undefined,
      applied: existing?.applied,
      origin: existing?.origin,
      lastRendered: existing?.lastRendered,
      appliedKey: undefined,
    };
    try {
      const timings = checkSyncPolicy(sync, where, { intervalMs: this.defaultIntervalMs, driftIntervalMs: this.defaultDriftIntervalMs });
      managed.intervalMs = timings.intervalMs;
      managed.driftIntervalMs = timings.driftIntervalMs;
      managed.healthTimeoutMs = timings.healthTimeoutMs;
      managed.backoff = timings.backoff;
      managed.nextDriftAt = Date.now() + withJitter(managed.driftIntervalMs);
    } catch (error) {
      managed.definitionError =
        error instanceof PlumbError ? error : new PlumbError("PLUMB_STACK_DEFINITION", errorMessage(error), { location: { stack: name } });
    }
    this.stacks.set(name, managed);
    void (async () => {
      if (managed.definitionError !== undefined) {
        await this.book.report(name, { kind: "invalid-definition", message: managed.definitionError.describe() });
        await this.record([{ stack: name, runId: null, address: null, type: "stack.invalid", message: managed.definitionError.describe() }]);
      } else if (existing === undefined) {
        await this.record([{ stack: name, runId: null, address: null, type: "stack.added", message: `managing stack ${name} from ${platformStack.file}` }]);
      }
    })().catch((error: unknown) => this.options.logger.error({ stack: name, err: errorMessage(error) }, "cannot record the stack"));
  }

  // ── status and events ───────────────────────────────────────────────────

  private async writeStatus(status: StackStatus): Promise<void> {
    await this.book.write(status);
  }

  private async record(events: EventInput[]): Promise<void> {
    await this.book.record(events);
  }
}
