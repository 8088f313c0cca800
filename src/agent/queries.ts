// The agent's read model for the API and the dashboard: stacks, statuses,
// composite kinds, problems, plan previews and the compliance report. Nothing
// here changes a stack; the API reads through this and acts only through
// AgentCommands.

import { grantsForGroups, type MemberRole } from "../project-definition.js";
import type { EventEmitter } from "node:events";
import { ProviderConnections } from "../engine/connections.js";
import { planStack } from "../engine/pipeline.js";
import { selectChanges, syncWaveOf, type Plan } from "../engine/plan/plan.js";
import { errorMessage, PlumbErrorList, type PlumbError } from "../errors.js";
import { observe } from "../engine/observe/observe.js";
import { withoutSecretValues } from "../secrets/references.js";
import type { JsonObject } from "../sdk/resource.js";
import { buildComplianceReport, type ComplianceReport, type ReportStack } from "../policy/report.js";
import type { RenderedClaim } from "../stack-model.js";
import type { CompositeKind } from "../render/platform-library.js";
import { auditEvents } from "../state/audit-export.js";
import type { AuditEvent } from "../state/audit.js";
import type { StackStatus, Store } from "../state/store.js";
import type { SyncPolicy } from "../stack-definition.js";
import { stackOrigin, type PlatformStack } from "./platform.js";
import type { PlatformPromotions } from "./platform-promotion.js";
import type { PlacedSink } from "./notification-sinks.js";
import { appliedRender, complianceFor, type StackContext } from "./stack-context.js";
import { notCheckedStatus } from "./stack-status.js";
import { fetchStackSource, renderStackSource } from "./stack-source.js";

/** What a person (through the API) or a webhook may ask of the agent; the agent holding the stack carries it out. */
export interface AgentCommands {
  /** Commit loop now; `force` plans and applies even when nothing moved, `override` passes suspension and deny windows. */
  requestSync(stack: string, trigger: string, actor: string | null, force?: boolean, override?: boolean, only?: string[]): Promise<void>;
  /** Drift loop now: re-reads and compares; heals only where the stack's own policy would. */
  requestRefresh(stack: string, actor: string | null): Promise<void>;
  requestRollback(stack: string, revision: string, actor: string | null, override?: boolean): Promise<void>;
  setSuspended(stack: string, suspended: boolean, actor: string | null): Promise<void>;
  /** A push to `url` at `ref`: the platform and the stacks reading that repository look now; returns what was triggered. */
  notifyPush(url: string, ref: string | undefined): Promise<string[]>;
  /** Sends a test message to a notification sink now; the outcome is also in the delivery log. */
  testNotification(sink: string): Promise<{ delivered: boolean; error: string | null }>;
}

export class StackQueries {
  constructor(
    private readonly context: StackContext,
    private readonly waitingJobs: () => number,
    private readonly platformRead: () => boolean,
    /** This agent's name and the lease duration that decides who counts as live. */
    private readonly self: { name: string; leaseDurationMs: number },
  ) {}

  /** The live agents on the store and how many stacks each holds. */
  async agents(): Promise<{ answeredBy: string; items: { name: string; startedAt: string; heartbeatAgeMs: number; stacksHeld: number }[] }> {
    const leases = this.store.leases;
    const [agents, held] = await Promise.all([leases.liveAgents(this.self.leaseDurationMs), leases.list()]);
    const now = Math.max(0, ...agents.map((agent) => agent.heartbeatAt));
    const counts = new Map<string, number>();
    for (const lease of held) if (lease.holder !== null && lease.expiresAt > now) counts.set(lease.holder, (counts.get(lease.holder) ?? 0) + 1);
    return {
      answeredBy: this.self.name,
      items: agents.map((agent) => ({
        name: agent.name,
        startedAt: agent.startedAt,
        heartbeatAgeMs: Math.max(0, now - agent.heartbeatAt),
        stacksHeld: counts.get(agent.id) ?? 0,
      })),
    };
  }

  /** Ready to answer for its stacks: the platform source has been read once (the API listens before that). */
  ready(): boolean {
    return this.platformRead();
  }

  get store(): Store {
    return this.context.store;
  }

  /** Status writes and events as they happen, for the event stream. */
  get notices(): EventEmitter {
    return this.context.book.notices;
  }

  stackNames(): string[] {
    return [...this.context.stacks.keys()].sort();
  }

  hasStack(name: string): boolean {
    return this.context.stacks.has(name);
  }

  platformStack(name: string): PlatformStack | undefined {
    return this.context.stacks.get(name)?.platform;
  }

  status(stack: string): Promise<StackStatus> {
    return this.context.book.status(stack);
  }

  /** The platform's Stack document's environment, else the one the stack's own Stack document gave its render. */
  /** The sync policy a stack runs with, as written (the platform's Stack merged over the stack's own), defaults left out. */
  syncPolicy(name: string): SyncPolicy {
    const managed = this.context.stacks.get(name);
    return managed?.lastRendered?.definition.sync ?? managed?.applied?.definition.sync ?? managed?.platform.document.spec?.sync ?? {};
  }

  stackEnvironment(name: string): string | null {
    const managed = this.context.stacks.get(name);
    return managed?.platform.document.spec?.environment ?? managed?.lastRendered?.definition.environment ?? managed?.applied?.definition.environment ?? null;
  }

  /** The platform's notification sinks, as last read cleanly. */
  notificationSinks(): readonly PlacedSink[] {
    return this.context.platform.sinks;
  }

  /** The platform's PromotionPolicy and pins, as last read. */
  promotions(): PlatformPromotions {
    return this.context.platform.promotions;
  }

  /**
   * The commit that last changed the stack's source directory at `revision`:
   * two environments on the same application run the same files when these
   * match, whatever commits moved the branch since. `revision` itself for a
   * local source, or when the repository cannot be read.
   */
  async contentRevision(stack: string, revision: string): Promise<string> {
    const managed = this.context.stacks.get(stack);
    if (managed === undefined) return revision;
    try {
      const origin = managed.origin ?? (await stackOrigin(managed.platform, this.context.origin, this.context.platform.secrets, this.context.ssh));
      if (origin.kind !== "git") return revision;
      await this.context.mirrors.ensureCommit(origin.source, revision);
      return await this.context.mirrors.lastChange(origin.source, revision, origin.path);
    } catch (error) {
      this.context.logger.warn({ stack, revision, err: errorMessage(error) }, "cannot tell which commit last changed the stack's source; comparing revisions");
      return revision;
    }
  }

  compositeKinds(): CompositeKind[] {
    return this.context.platform.library?.library.composites ?? [];
  }

  /** What a developer portal lists per stack: its project, environment, labels and compliance metadata as last rendered. */
  catalogStacks(
    include: (stack: string) => boolean,
  ): { name: string; project: string; environment: string | null; labels: Record<string, string>; metadata: Record<string, string> }[] {
    return [...this.context.stacks]
      .filter(([name]) => include(name))
      .map(([name, managed]) => {
        const document = managed.platform.document;
        return {
          name,
          project: document.spec?.project ?? "default",
          environment: this.stackEnvironment(name),
          labels: document.metadata.labels ?? {},
          metadata: managed.lastRendered?.definition.metadata ?? managed.applied?.definition.metadata ?? document.spec?.metadata ?? {},
        };
      });
  }

  /** The platform's problems and every stack whose definition is unusable. */
  problems(): PlumbError[] {
    return [
      ...this.context.platform.problems,
      ...[...this.context.stacks.values()].flatMap((managed) => (managed.definitionError === undefined ? [] : [managed.definitionError])),
    ];
  }

  queueDepth(): number {
    return this.waitingJobs();
  }

  /** The claims of the stack's applied render, and which claim each resource was composed from. */
  async resourceTree(name: string): Promise<{ claims: RenderedClaim[]; compositeOf: Map<string, string>; waveOf: Map<string, number> }> {
    const managed = this.context.stacks.get(name);
    const rendered = managed === undefined ? undefined : await appliedRender(this.context, name, managed);
    const resources = rendered?.resources ?? [];
    return {
      claims: rendered?.claims ?? [],
      compositeOf: new Map(resources.flatMap((resource) => (resource.composite == null ? [] : [[resource.address, resource.composite] as const]))),
      waveOf: new Map(resources.flatMap((resource) => (syncWaveOf(resource) === 0 ? [] : [[resource.address, syncWaveOf(resource)] as const]))),
    };
  }

  /** Desired (the last applied render, enriched) against live, for the API's plan preview. */
  async previewPlan(name: string): Promise<{ revision: string | null; plan: Plan } | undefined> {
    const managed = this.context.stacks.get(name);
    if (managed === undefined) return undefined;
    const rendered = await appliedRender(this.context, name, managed);
    if (rendered === undefined) return undefined;
    const status = await this.context.book.status(name);
    const connections = new ProviderConnections(this.context.registry, rendered.definition, this.context.platform.secrets);
    try {
      const { plan } = await planStack(
        rendered,
        this.context.store,
        connections,
        {},
        await complianceFor(this.context, managed, status.lastAppliedRevision ?? rendered.digest),
      );
      return { revision: status.lastAppliedRevision, plan };
    } finally {
      await connections.closeAll();
    }
  }

  /**
   * What a sync would do now (a dry run): the newest revision fetched,
   * rendered and planned against live state; nothing is applied and the
   * stack's status is left as it is. `only` keeps the chosen resources' changes.
   */
  async dryRun(name: string, only?: readonly string[]): Promise<{ revision: string; plan: Plan } | undefined> {
    const managed = this.context.stacks.get(name);
    if (managed === undefined) return undefined;
    if (managed.definitionError !== undefined) throw managed.definitionError;
    const fetched = await fetchStackSource(this.context, managed);
    const rendered = await renderStackSource(this.context, name, managed, fetched.directory);
    const revision = fetched.revision ?? rendered.digest;
    const connections = new ProviderConnections(this.context.registry, rendered.definition, this.context.platform.secrets);
    try {
      const { plan } = await planStack(rendered, this.context.store, connections, {}, await complianceFor(this.context, managed, revision));
      return { revision, plan: only === undefined ? plan : selectChanges(plan, only) };
    } finally {
      await connections.closeAll();
    }
  }

  /**
   * One resource whole: the spec applied last (compliance tags in, secrets as
   * references) and the live object read now, with secret values hidden.
   */
  async manifest(name: string, address: string): Promise<{ desired: JsonObject; live: JsonObject | null } | undefined> {
    const managed = this.context.stacks.get(name);
    const record = await this.context.store.getResource(name, address);
    if (managed === undefined || record === undefined) return undefined;
    const rendered = await appliedRender(this.context, name, managed);
    if (rendered === undefined) return undefined;
    const connections = new ProviderConnections(this.context.registry, rendered.definition, this.context.platform.secrets);
    try {
      const target = { ...record, spec: record.appliedSpec, desired: record.appliedSpec };
      const observation = await observe([target], connections);
      if (observation.errors.length > 0) throw new PlumbErrorList(observation.errors);
      const live = observation.live.get(address) ?? null;
      return {
        desired: record.appliedSpec,
        live: live === null ? null : withoutSecretValues(live.spec, record.appliedSpec, record.apiVersion, record.kind),
      };
    } finally {
      await connections.closeAll();
    }
  }

  /** The compliance report over every stack's newest render (applied, or denied by policy). */
  /** The roles the platform's projects give these identity-provider groups. */
  groupGrants(groups: readonly string[]): { project: string | null; role: MemberRole }[] {
    return grantsForGroups(this.context.platform.projects.projects.values(), groups);
  }

  /** The compliance report over the stacks `include` lets in (all by default). */
  async complianceReport(expiringWithinDays: number, include: (stack: string) => boolean = () => true): Promise<ComplianceReport> {
    const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const audit: AuditEvent[] = [];
    for await (const event of auditEvents(this.context.store, { since, kind: ["drift.detected", "change.corrective"] }))
      if (include(event.stack)) audit.push(event);
    const statuses = new Map((await this.context.store.listStackStatuses()).map((status) => [status.stack, status]));
    const stacks: ReportStack[] = [];
    for (const [name, managed] of this.context.stacks) {
      if (!include(name)) continue;
      const rendered = managed.lastRendered ?? (await appliedRender(this.context, name, managed));
      const document = managed.platform.document;
      stacks.push({
        name,
        labels: document.metadata.labels ?? {},
        metadata: rendered?.definition.metadata ?? document.spec?.metadata ?? {},
        conditions: (statuses.get(name) ?? notCheckedStatus(name)).conditions,
        resources: rendered?.resources ?? [],
        ruleViolations: rendered?.policyViolations ?? [],
      });
    }
    return buildComplianceReport(stacks, this.context.platform.policy, audit, { today: new Date().toISOString().slice(0, 10), expiringWithinDays });
  }
}
