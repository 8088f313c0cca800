// Which stacks this agent works on: it heartbeats, renews the leases it holds,
// gives back what is above its fair share (stacks ÷ live agents) and claims up
// to it, every third of the lease duration. Its own clock ends a lease early
// (a safety margin before the store's clock would), so a paused agent stops
// acting before any other can claim; the store refuses what slips through.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import { errorMessage } from "../errors.js";
import { leaseLostError, type Fence } from "../state/fence.js";
import type { StackRequest } from "../state/leases.js";
import type { Store } from "../state/store.js";
import type { AgentMetrics } from "./metrics.js";

export interface LeaseSettings {
  /** How long a lease lasts without renewal: the longest a dead agent's stacks wait for another. */
  durationMs: number;
  /** This agent's name in runs, metrics and logs; host and pid by default. */
  agentName?: string;
}

export const defaultLeaseDurationMs = 15_000;

interface HeldLease {
  epoch: number;
  /** performance.now() after which this agent no longer trusts the lease. */
  validUntil: number;
}

export interface LeaseEvents {
  /** The agent now holds `stack` (taken over from `previousHolder` whose lease ran out, if set). */
  claimed(stack: string, previousHolder: string | null): void;
  /** The lease ran out or another agent took it: stop working on `stack`. */
  lost(stack: string): void;
  /** Stacks with a job running now are not given back. */
  busy(stack: string): boolean;
  /** Actions other agents took on stacks this agent holds. */
  requests(requests: StackRequest[]): void;
}

export class LeaseKeeper {
  readonly id = randomUUID();
  readonly name: string;
  private readonly startedAt = new Date().toISOString();
  private readonly held = new Map<string, HeldLease>();
  private wanted: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private lastRound: number | undefined;
  private stopped = false;
  private unlisten: (() => void) | undefined;
  readonly durationMs: number;
  private readonly safetyMs: number;

  constructor(
    private readonly store: Store,
    settings: LeaseSettings,
    private readonly metrics: AgentMetrics,
    private readonly logger: Logger,
    private readonly events: LeaseEvents,
  ) {
    this.durationMs = settings.durationMs;
    this.safetyMs = Math.min(2_000, Math.floor(settings.durationMs / 5));
    this.name = settings.agentName ?? `${hostname()}:${process.pid}`;
  }

  /** The stacks of the platform, in this agent's reading of it. */
  async setStacks(names: readonly string[]): Promise<string[]> {
    this.wanted = [...names];
    return this.store.leases.ensure(names);
  }

  holds(stack: string): boolean {
    const lease = this.held.get(stack);
    return lease !== undefined && performance.now() < lease.validUntil;
  }

  /** The fence a job on `stack` runs under, or undefined when the stack is not (or no longer) this agent's. */
  fence(stack: string): Fence | undefined {
    const lease = this.held.get(stack);
    if (lease === undefined || performance.now() >= lease.validUntil) return undefined;
    const epoch = lease.epoch;
    return {
      stack,
      holder: this.id,
      agent: this.name,
      epoch,
      assertCurrent: () => {
        const current = this.held.get(stack);
        if (current?.epoch !== epoch) throw leaseLostError({ stack, epoch }, "the lease was lost or given back");
        if (performance.now() >= current.validUntil)
          throw leaseLostError({ stack, epoch }, "it was not renewed in time (this agent was paused or cut off from the store)");
      },
    };
  }

  async start(): Promise<void> {
    this.unlisten = this.store.listen("requests", (stack) => {
      if (stack === "" || this.holds(stack)) void this.takeRequests(stack === "" ? [...this.held.keys()] : [stack]);
    });
    await this.round();
    this.timer = setInterval(() => void this.round(), Math.max(100, Math.floor(this.durationMs / 3)));
  }

  /** Gives back every lease at once, so the other agents need not wait for them to run out. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.unlisten?.();
    await this.running;
    this.held.clear();
    this.metrics.leasesHeld.set(0);
    await this.store.leases.forgetAgent(this.id).catch(() => undefined);
  }

  /** Claims one stack now if it is free (a stack that left the platform, to be removed by whoever can). */
  async claimOne(stack: string): Promise<boolean> {
    if (this.holds(stack)) return true;
    const started = performance.now();
    const [lease] = await this.store.leases.claim(this.id, [stack], 1, this.durationMs);
    if (lease === undefined) return false;
    this.held.set(stack, { epoch: lease.epoch, validUntil: started + this.durationMs - this.safetyMs });
    return true;
  }

  /** Forgets a stack removed from the platform; its lease row goes with it. */
  async forget(stack: string): Promise<void> {
    const lease = this.held.get(stack);
    this.held.delete(stack);
    if (lease !== undefined) await this.store.leases.drop(stack, this.id, lease.epoch);
  }

  /** One heartbeat, renewal, rebalance and claim; a round asked for while one runs runs after it. */
  round(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = this.roundOnce()
      .catch((error: unknown) => this.logger.warn({ err: errorMessage(error) }, "cannot renew or claim stack leases; retrying"))
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.round();
        }
      });
    return this.running;
  }

  private async roundOnce(): Promise<void> {
    if (this.stopped) return;
    const started = performance.now();
    // Rounds are due every third of the lease; one that starts much later means this process was starved or paused.
    if (this.lastRound !== undefined && started - this.lastRound > (this.durationMs * 2) / 3)
      this.logger.warn({ lateMs: Math.round(started - this.lastRound - this.durationMs / 3) }, "lease renewal ran late");
    this.lastRound = started;
    await this.store.leases.heartbeat({ id: this.id, name: this.name, startedAt: this.startedAt });
    if (this.held.size > 0) {
      const epochs = new Map([...this.held].map(([stack, lease]) => [stack, lease.epoch]));
      const renewed = await this.store.leases.renew(this.id, epochs, this.durationMs);
      for (const [stack, lease] of this.held) {
        if (renewed.has(stack) && this.held.get(stack)?.epoch === lease.epoch) lease.validUntil = started + this.durationMs - this.safetyMs;
        else this.lose(stack);
      }
    }
    // A lease this agent's clock gave up on (renewals failed for too long) is gone too.
    for (const [stack, lease] of this.held) if (performance.now() >= lease.validUntil) this.lose(stack);
    if (this.stopped) return;
    const wanted = new Set(this.wanted);
    const live = await this.store.leases.liveAgents(this.durationMs);
    this.metrics.agentsLive.set(live.length);
    // Every agent computes every agent's share the same way: the stacks divided evenly, the remainder to the oldest agents.
    const position = Math.max(
      0,
      live.findIndex((agent) => agent.id === this.id),
    );
    const agentCount = Math.max(1, live.length);
    const share = Math.floor(wanted.size / agentCount) + (position < wanted.size % agentCount ? 1 : 0);
    let surplus = [...this.held.keys()].filter((stack) => wanted.has(stack)).length - share;
    for (const [stack, lease] of this.held) {
      if (surplus <= 0) break;
      if (!wanted.has(stack) || this.events.busy(stack)) continue;
      this.held.delete(stack);
      await this.store.leases.release(this.id, stack, lease.epoch);
      this.events.lost(stack);
      surplus--;
    }
    const deficit = share - this.held.size;
    if (deficit > 0) {
      const candidates = this.wanted.filter((stack) => !this.held.has(stack));
      const claimStarted = performance.now();
      const claimed = await this.store.leases.claim(this.id, candidates, deficit, this.durationMs);
      for (const lease of claimed) {
        this.held.set(lease.stack, { epoch: lease.epoch, validUntil: claimStarted + this.durationMs - this.safetyMs });
        const takeover = lease.previousHolder !== null && lease.previousHolder !== this.id;
        if (takeover) this.metrics.failovers.inc();
        this.logger.info(
          { stack: lease.stack, epoch: lease.epoch, ...(takeover ? { from: lease.previousHolder } : {}) },
          takeover ? "took over stack" : "claimed stack",
        );
        this.events.claimed(lease.stack, lease.previousHolder);
      }
    }
    this.metrics.leasesHeld.set(this.held.size);
    await this.takeRequests([...this.held.keys()]);
  }

  private lose(stack: string): void {
    this.held.delete(stack);
    this.metrics.leaseLosses.inc();
    this.logger.warn({ stack }, "lost the lease of a stack; another agent carries on with it");
    this.events.lost(stack);
  }

  private async takeRequests(stacks: string[]): Promise<void> {
    if (stacks.length === 0) return;
    try {
      const requests = await this.store.leases.takeRequests(stacks);
      if (requests.length > 0) this.events.requests(requests);
    } catch (error) {
      this.logger.warn({ err: errorMessage(error) }, "cannot read the actions handed over by other agents; retrying");
    }
  }
}
