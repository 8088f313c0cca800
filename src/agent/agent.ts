// The agent's queue and scheduler: keeps the managed stacks in step with the
// platform source, starts each stack's commit loop and drift loop on its
// interval (with jitter, and backoff after failures), takes requests from the
// API and webhooks, and runs the jobs on one worker pool, one job per stack at
// a time. It works only on the stacks whose lease it holds (leases.ts), each
// job fenced by that lease; an action on another agent's stack is handed over
// through the store. The loops themselves live in reconciler.ts,
// drift-loop.ts and rollback-removal.ts; a stack's failure only ever changes
// that stack's status.

import path from "node:path";
import type { Logger } from "pino";
import { errorMessage, PlumbError } from "../errors.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { AdmissionEndpoint } from "../render/admission-guards.js";
import type { SandboxLimits } from "../render/sandbox.js";
import type { SecretResolver } from "../secrets/references.js";
import { GitMirrors } from "../source/git.js";
import { runFenced } from "../state/fence.js";
import { storeUnavailable } from "../state/postgres.js";
import type { StackRequest } from "../state/leases.js";
import type { EventInput, Store } from "../state/store.js";
import { checkSyncPolicy, defaultHealthTimeoutMs, withJitter } from "../schedule.js";
import { AdmissionReviews } from "./admission.js";
import { DriftLoop } from "./drift-loop.js";
import { defaultLeaseDurationMs, LeaseKeeper, type LeaseSettings } from "./leases.js";
import type { Job, ManagedStack } from "./managed-stack.js";
import type { AgentMetrics } from "./metrics.js";
import { PlatformSource } from "./platform-source.js";
import type { PlatformOrigin, PlatformStack, SshSettings } from "./platform.js";
import { normalizeRepositoryUrl, refMatches } from "./push-match.js";
import { StackQueries, type AgentCommands } from "./queries.js";
import { StackReconciler } from "./reconciler.js";
import { RollbackAndRemoval } from "./rollback-removal.js";
import type { StackContext } from "./stack-context.js";
import { Notifier } from "./notifier.js";
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
  /** Lease duration and this agent's name; one agent on SQLite holds every stack all the same. */
  lease?: Partial<LeaseSettings>;
  /** The dashboard's address as people reach it, for links in notifications. */
  publicUrl?: string;
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
  readonly notifier: Notifier;
  /** Answers the live systems' admission requests for stacks with sync.preventDrift. */
  readonly admission: AdmissionReviews;
  readonly mirrors: GitMirrors;
  /** The stacks this agent works on, out of all the agents sharing the store. */
  readonly leases: LeaseKeeper;
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
  private readonly stopping = new AbortController();

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
      ...(options.ssh === undefined ? {} : { ssh: options.ssh }),
      cacheDirectory: options.cacheDirectory,
    });
    this.book = new StackStatusBook(options.store, options.logger, (stack) => this.stacks.has(stack));
    this.notifier = new Notifier({
      store: options.store,
      sinks: () => this.platform.sinks,
      secrets: () => this.platform.secrets,
      facts: (stack) => {
        const managed = this.stacks.get(stack);
        if (managed === undefined) return undefined;
        const document = managed.platform.document;
        const metadata = managed.lastRendered?.definition.metadata ?? managed.applied?.definition.metadata ?? document.spec?.metadata ?? {};
        return {
          name: stack,
          project: document.spec?.project ?? "default",
          stackSet: managed.platform.stackSet ?? null,
          labels: document.metadata.labels ?? {},
          environment: this.queries.stackEnvironment(stack),
          atoDate: metadata.atoDate,
        };
      },
      stacks: () => [...this.stacks.keys()],
      publicUrl: options.publicUrl,
      logger: options.logger,
    });
    this.book.listener = this.notifier;
    this.leases = new LeaseKeeper(
      options.store,
      {
        durationMs: options.lease?.durationMs ?? defaultLeaseDurationMs,
        ...(options.lease?.agentName === undefined ? {} : { agentName: options.lease.agentName }),
      },
      options.metrics,
      options.logger,
      {
        claimed: (stack) => this.claimed(stack),
        lost: (stack) => this.dropQueued(stack),
        busy: (stack) => this.running.has(stack),
        requests: (requests) => this.takeRequests(requests),
      },
    );
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
      stopping: this.stopping.signal,
    };
    this.reconciler = new StackReconciler(context);
    this.drift = new DriftLoop(context, this.reconciler);
    this.lifecycle = new RollbackAndRemoval(context, this.reconciler);
    this.admission = new AdmissionReviews(context);
    this.queries = new StackQueries(
      context,
      () => this.queue.length,
      () => this.platformRead,
      { name: this.leases.name, leaseDurationMs: this.leases.durationMs },
    );
  }

  /** True once the platform source has been read the first time (its stacks are known, or its problems). */
  private platformRead = false;

  /** Reads the platform once, then keeps every loop going until `stop`. */
  async start(): Promise<void> {
    await this.refreshPlatform();
    this.platformRead = true;
    await this.leases.start();
    this.timer = setInterval(() => this.tick(), 100);
    this.notifier.start();
  }

  /** Finishes the jobs under way, then gives back every lease so other agents carry on at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    // An apply waiting for a sync wave to become healthy gives up now; the next agent's run takes it from there.
    this.stopping.abort();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.queue.length = 0;
    while (this.activeWorkers > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.notifier.stop();
    await this.leases.stop();
    await this.options.registry.shutdown();
  }

  /**
   * Commit loop now. `force` (a person's sync) plans and applies even when
   * nothing moved; a webhook only makes the loop look at once.
   */
  async requestSync(stack: string, trigger: string, actor: string | null, force = true, override = false, only?: string[]): Promise<void> {
    await this.hand({ stack, kind: "sync", trigger, actor, revision: null, force, override, ...(only === undefined ? {} : { only }) });
  }

  /** Drift loop now (`refresh`): re-reads and compares; heals only where the stack's own policy would. */
  async requestRefresh(stack: string, actor: string | null): Promise<void> {
    await this.hand({ stack, kind: "refresh", trigger: "api", actor, revision: null, force: false, override: false });
  }

  async requestRollback(stack: string, revision: string, actor: string | null, override = false): Promise<void> {
    await this.hand({ stack, kind: "rollback", trigger: "rollback", actor, revision, force: false, override });
  }

  /** Queues an action here when this agent holds the stack, or hands it to the one that does through the store. */
  private async hand(request: StackRequest): Promise<void> {
    if (!this.stacks.has(request.stack)) return;
    if (this.leases.holds(request.stack)) this.takeRequests([request]);
    else await this.options.store.leases.addRequest(request);
  }

  private takeRequests(requests: StackRequest[]): void {
    for (const request of requests) {
      const managed = this.stacks.get(request.stack);
      if (managed === undefined) continue;
      const override = request.override ? { override: true } : {};
      if (request.kind === "sync") {
        if (request.force) managed.forced = true;
        this.enqueue({
          stack: request.stack,
          kind: "sync",
          trigger: request.trigger,
          actor: request.actor,
          ...override,
          ...(request.only === undefined ? {} : { only: request.only }),
        });
      } else if (request.kind === "refresh") this.enqueue({ stack: request.stack, kind: "drift", trigger: request.trigger, actor: request.actor });
      else if (request.revision !== null)
        this.enqueue({ stack: request.stack, kind: "rollback", trigger: request.trigger, actor: request.actor, revision: request.revision, ...override });
    }
  }

  /** A stack this agent now holds: its commit loop looks at once, its drift loop after one interval. */
  private claimed(stack: string): void {
    const managed = this.stacks.get(stack);
    if (managed === undefined) return;
    managed.nextSyncAt = 0;
    managed.nextDriftAt = Date.now() + withJitter(managed.driftIntervalMs);
    if (managed.definitionError !== undefined) void this.reportInvalid(stack, managed.definitionError);
  }

  private dropQueued(stack: string): void {
    for (let index = this.queue.length - 1; index >= 0; index--) if (this.queue[index]?.stack === stack) this.queue.splice(index, 1);
    this.options.metrics.queueDepth.set(this.queue.length);
  }

  testNotification(sink: string): Promise<{ delivered: boolean; error: string | null }> {
    return this.notifier.test(sink);
  }

  /** A webhook for `url` at `ref` (refs/heads/x or refs/tags/x): the platform and every stack reading that repository look now. */
  async notifyPush(url: string, ref: string | undefined): Promise<string[]> {
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
      await this.requestSync(name, "webhook", null, false);
      triggered.push(name);
    }
    return triggered;
  }

  /** Suspension is a person's setting, written by whichever agent they reached; the stack's holder reads it on its next job. */
  async setSuspended(stack: string, suspended: boolean, actor: string | null): Promise<void> {
    await this.options.store.setSuspended(stack, suspended);
    await this.record([
      {
        stack,
        runId: null,
        address: null,
        type: suspended ? "stack.suspended" : "stack.resumed",
        message: `${suspended ? "suspended" : "resumed"} by ${actor ?? "the agent"}`,
      },
    ]);
    if (!suspended) await this.requestSync(stack, "api", actor);
  }

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now >= this.nextPlatformAt && !this.platformBusy) void this.refreshPlatform();
    for (const [name, managed] of this.stacks) {
      if (managed.definitionError !== undefined || !this.leases.holds(name)) continue;
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
    // A selective sync is its own request: it neither stands in for a whole sync nor is absorbed by one.
    const same = (queued: Job) =>
      queued.stack === job.stack && queued.kind === job.kind && job.kind !== "rollback" && JSON.stringify(queued.only) === JSON.stringify(job.only);
    if (this.queue.some(same)) return;
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
    // Only under the stack's lease: every write the job makes is refused once another agent holds it.
    const fence = this.leases.fence(job.stack);
    if (fence === undefined) return;
    try {
      await runFenced(fence, async () => {
        if (job.kind === "sync") await this.reconciler.sync(job);
        else if (job.kind === "drift") await this.drift.driftCheck(job);
        else if (job.kind === "rollback") await this.lifecycle.rollback(job);
        else {
          await this.lifecycle.removeStack(job);
          await this.leases.forget(job.stack);
        }
      });
    } catch (error) {
      if (error instanceof PlumbError && error.code === "PLUMB_LEASE_LOST") {
        this.options.logger.warn({ stack: job.stack, job: job.kind }, error.message);
        return;
      }
      if (storeUnavailable(error)) {
        // Nothing about the stack is wrong and nothing could be written: the job runs again on its interval.
        this.options.logger.warn({ stack: job.stack, job: job.kind, err: errorMessage(error) }, "the state store is unavailable; the job runs again later");
        return;
      }
      // Every expected failure is handled inside; this is the last guard so one stack can never stop the agent.
      this.options.logger.error({ stack: job.stack, job: job.kind, err: errorMessage(error) }, "job failed unexpectedly");
      await runFenced(fence, () => this.book.report(job.stack, { kind: "internal-error", message: errorMessage(error) })).catch(() => undefined);
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
      // The agent that first gives a stack its lease row says it is managed, once for the whole fleet.
      const added = await this.leases.setStacks([...reading.stacks.keys()]);
      for (const name of added) {
        const managed = reading.stacks.get(name);
        if (managed !== undefined && this.stacks.get(name)?.definitionError === undefined)
          await this.record([{ stack: name, runId: null, address: null, type: "stack.added", message: `managing stack ${name} from ${managed.file}` }]);
      }
      // A stack that left the platform is removed by its holder, or by whoever can claim it when nobody holds it.
      for (const name of reading.removed) if (await this.leases.claimOne(name)) this.enqueue({ stack: name, kind: "remove", trigger: "platform", actor: null });
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
    if (
      existing !== undefined &&
      JSON.stringify([existing.platform.document, existing.platform.pin]) === JSON.stringify([platformStack.document, platformStack.pin])
    )
      return;
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
    // Said by the stack's holder; an agent that claims it later says it then (claimed()).
    if (managed.definitionError !== undefined && this.leases.holds(name)) void this.reportInvalid(name, managed.definitionError);
  }

  private async reportInvalid(name: string, problem: PlumbError): Promise<void> {
    const fence = this.leases.fence(name);
    if (fence === undefined) return;
    await runFenced(fence, async () => {
      await this.book.report(name, { kind: "invalid-definition", message: problem.describe() });
      await this.record([{ stack: name, runId: null, address: null, type: "stack.invalid", message: problem.describe() }]);
    }).catch((error: unknown) => this.options.logger.error({ stack: name, err: errorMessage(error) }, "cannot record the stack"));
  }

  // ── status and events ───────────────────────────────────────────────────

  private async record(events: EventInput[]): Promise<void> {
    await this.book.record(events);
  }
}
