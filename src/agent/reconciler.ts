// The reconciler of one stack, Flux's sub-steps in order: source (fetch the
// revision), render, the sync gate, plan, apply, and the conditions and events
// that say how it went; the drift loop, rollback and removal, and the two
// read models built on the same render (plan preview, compliance report).

import { createHash } from "node:crypto";
import path from "node:path";
import type { Logger } from "pino";
import { ProviderConnections } from "../engine/connections.js";
import { withStackLock } from "../engine/apply/lock.js";
import { planHasChanges, type Plan } from "../engine/plan/plan.js";
import { applyStackPlan, planStack, type PlannedStack } from "../engine/pipeline.js";
import type { ComplianceOptions } from "../policy/stage.js";
import { auditOfDriftLeft, auditOfPolicyDenial } from "../engine/record/audit-events.js";
import { resolvePendingJournal } from "../engine/apply/recover.js";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import { buildComplianceReport, type ComplianceReport, type ReportStack } from "../policy/report.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { renderStack, type RenderedStack } from "../render/load-stack.js";
import { defaultSandboxLimits, type SandboxLimits } from "../render/sandbox.js";
import type { JsonObject } from "../sdk/resource.js";
import { redactUrl, type GitMirrors } from "../source/git.js";
import { auditEvents } from "../state/audit-export.js";
import type { AuditEvent } from "../state/audit.js";
import { storeError } from "../state/sqlite.js";
import type { ConditionType, EventInput, StackStatus, Store } from "../state/store.js";
import { scheduleRetry, type Job, type ManagedStack } from "./managed-stack.js";
import type { AgentMetrics } from "./metrics.js";
import type { PlatformSource } from "./platform-source.js";
import { stackOrigin, type PlatformOrigin, type SshSettings, type StackOrigin } from "./platform.js";
import { appliedConditions, notCheckedStatus, type ConditionChange, type StackStatusBook } from "./stack-status.js";
import { holdReason } from "./sync-gate.js";

export interface ReconcilerOptions {
  store: Store;
  book: StackStatusBook;
  platform: PlatformSource;
  /** The agent's stacks; removal takes a stack out. */
  stacks: Map<string, ManagedStack>;
  mirrors: GitMirrors;
  registry: ProviderRegistry;
  origin: PlatformOrigin;
  ssh: SshSettings | undefined;
  sandboxLimits: SandboxLimits | undefined;
  metrics: AgentMetrics;
  logger: Logger;
}

export class StackReconciler {
  constructor(private readonly options: ReconcilerOptions) {}

  private get store(): Store {
    return this.options.store;
  }

  private get platform(): PlatformSource {
    return this.options.platform;
  }

  private get stacks(): Map<string, ManagedStack> {
    return this.options.stacks;
  }

  private get mirrors(): GitMirrors {
    return this.options.mirrors;
  }

  private status(stack: string): Promise<StackStatus> {
    return this.options.book.status(stack);
  }

  private writeStatus(status: StackStatus): Promise<void> {
    return this.options.book.write(status);
  }

  private setConditions(
    stack: string,
    changes: Partial<Record<ConditionType, ConditionChange>>,
    also: Partial<Pick<StackStatus, "drift">> = {},
  ): Promise<void> {
    return this.options.book.setConditions(stack, changes, also);
  }

  private record(events: EventInput[]): Promise<void> {
    return this.options.book.record(events);
  }

  private async fetchStack(managed: ManagedStack): Promise<{ directory: string; revision: string | null; origin: StackOrigin }> {
    const origin = await stackOrigin(managed.platform, this.options.origin, this.platform.secrets, this.options.ssh);
    managed.origin = origin;
    if (origin.kind === "local") return { directory: origin.directory, revision: null, origin };
    const source = origin.source;
    const { commit } = await this.mirrors.resolve(source);
    await this.mirrors.ensureCommit(source, commit);
    await this.mirrors.verifyCommit(source, commit);
    const checkout = await this.mirrors.checkout(source, commit);
    return { directory: path.join(checkout, origin.path), revision: commit, origin };
  }

  async sync(job: Job): Promise<void> {
    const managed = this.stacks.get(job.stack);
    if (managed === undefined || managed.definitionError !== undefined) return;
    const name = job.stack;
    const status = await this.status(name);
    const forced = managed.forced;
    managed.forced = false;
    await this.setConditions(name, { Reconciling: ["True", "Progressing", `${job.trigger}: reading the source`] });

    let fetched;
    try {
      fetched = await this.fetchStack(managed);
    } catch (error) {
      this.options.metrics.gitErrors.inc();
      const problem = asPlumbError(error, name);
      const terminal = problem.disposition === "terminal" && problem.code !== "PLUMB_SOURCE_REF_NOT_FOUND";
      scheduleRetry(managed);
      const degraded = status.conditions.find((condition) => condition.type === "Degraded");
      const repeated = degraded?.reason === "SourceUnavailable" && degraded.message.startsWith(`${problem.message};`);
      await this.setConditions(name, {
        Reconciling: ["False", "SourceUnavailable", ""],
        Degraded: ["True", "SourceUnavailable", `${problem.message}; keeping revision ${status.lastAppliedRevision ?? "(none applied yet)"}, nothing deleted`],
        ...(terminal ? { Stalled: ["True", "InvalidSource", problem.describe()] as const } : {}),
      });
      if (!repeated) await this.record([{ stack: name, runId: null, address: null, type: "source.failed", message: redactUrl(problem.describe()) }]);
      return;
    }

    let rendered: RenderedStack;
    try {
      rendered = await renderStack(fetched.directory, {
        registry: this.options.registry,
        stackOverride: { document: managed.platform.document, file: managed.platform.file },
        sandboxLimits: this.options.sandboxLimits ?? defaultSandboxLimits,
        ...(this.platform.library === undefined ? {} : { platform: this.platform.library.library }),
      });
    } catch (error) {
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const message = problems.map((problem) => problem.describe()).join("\n");
      await this.writeStatus({ ...status, lastAttemptedRevision: fetched.revision });
      await this.setConditions(name, {
        Reconciling: ["False", "RenderFailed", ""],
        Ready: ["False", "RenderFailed", `revision ${fetched.revision ?? "(local)"} does not render; still running ${status.lastAppliedRevision ?? "nothing"}`],
        Stalled: ["True", "RenderFailed", message],
        Degraded: ["False", "SourceAvailable", ""],
      });
      // Once per commit and reason: the commit loop meets the same broken revision on every poll.
      const stalled = status.conditions.find((condition) => condition.type === "Stalled");
      if (status.lastAttemptedRevision !== fetched.revision || stalled?.reason !== "RenderFailed" || stalled.message !== message) {
        await this.record([
          { stack: name, runId: null, address: null, type: "render.failed", message, data: { revision: fetched.revision, problems: problems.length } },
        ]);
      }
      return;
    }
    if (rendered.definition.name !== name) rendered = { ...rendered, definition: { ...rendered.definition, name } };
    managed.lastRendered = rendered;
    const revision = fetched.revision ?? rendered.digest;
    // Nothing new to apply. Drift is the drift loop's business: re-applying here would
    // revert it even where selfHeal is off.
    const interrupted = (await this.store.pendingJournalEntries(name)).length > 0;
    if (!forced && !interrupted && status.lastAppliedRevision === revision && status.lastAppliedDigest === rendered.digest) {
      managed.applied ??= rendered;
      await this.setConditions(name, { Reconciling: ["False", "UpToDate", ""], Degraded: ["False", "SourceAvailable", ""] });
      return;
    }
    // A commit elsewhere in the repository: the same render, definition and policy as the
    // revision applied last need no observe or plan, only the new revision recorded.
    if (
      !forced &&
      !interrupted &&
      managed.appliedKey !== undefined &&
      managed.appliedKey === this.renderKey(rendered) &&
      status.lastAppliedDigest === rendered.digest
    ) {
      await this.writeStatus({ ...status, lastAppliedRevision: revision, lastAttemptedRevision: revision });
      const ready = status.conditions.find((condition) => condition.type === "Ready")?.status === "True";
      await this.setConditions(name, {
        Reconciling: ["False", "UpToDate", ""],
        Degraded: ["False", "SourceAvailable", ""],
        // A stack that is not Ready (drift left in place, say) stays as it is.
        ...(ready ? { Ready: ["True", "Succeeded", `revision ${revision} is applied (nothing in this stack changed)`] as const } : {}),
      });
      return;
    }
    await this.store.saveRender({ stack: name, digest: rendered.digest, revision, rendered: rendered as unknown as JsonObject });
    await this.planAndApply(managed, rendered, revision, job, "intentional");
  }

  /**
   * Plans `rendered` against live state and applies it when the stack's
   * policy allows; used by commits, drift healing and rollbacks alike.
   */
  private async planAndApply(
    managed: ManagedStack,
    rendered: RenderedStack,
    revision: string,
    job: Job,
    change: "intentional" | "corrective" | "rollback",
  ): Promise<Plan | undefined> {
    const name = job.stack;
    const connections = new ProviderConnections(this.options.registry, rendered.definition, this.platform.secrets);
    try {
      return await withStackLock(this.store, name, async () => {
        await resolvePendingJournal(this.store, name, connections);
        const planned = await planStack(rendered, this.store, connections, {}, await this.complianceFor(managed, revision));
        const status = await this.status(name);
        const plan = planned.plan;
        const attempted = { ...status, lastAttemptedRevision: revision };
        // An empty render with resources still recorded deletes nothing (allowEmpty is off); that is said, never shown as Ready.
        const heldEmpty = rendered.resources.length === 0 && plan.summary.retain > 0;
        if (heldEmpty) {
          const message = `revision ${revision} renders no resources; ${plan.summary.retain} resource(s) from an earlier revision are kept and nothing is pruned; set sync.allowEmpty: true to prune them`;
          const before = status.conditions.find((item) => item.type === "Ready");
          await this.writeStatus(attempted);
          await this.setConditions(name, { Reconciling: ["False", "EmptyRender", ""], Ready: ["False", "EmptyRender", message] });
          if (status.lastAttemptedRevision !== revision || before?.reason !== "EmptyRender")
            await this.record([{ stack: name, runId: null, address: null, type: "render.empty", message }]);
          return plan;
        }
        if (!planHasChanges(plan) && !plan.changes.some((item) => item.recordStale)) {
          this.markApplied(managed, rendered, change);
          await this.writeStatus({ ...attempted, lastAppliedRevision: revision, lastAppliedDigest: rendered.digest, drift: null });
          await this.setConditions(name, appliedConditions(revision));
          return plan;
        }
        const sync = rendered.definition.sync;
        const waitReason = holdReason(sync, status, job, change);
        if (waitReason !== undefined) {
          await this.writeStatus(attempted);
          await this.setConditions(name, {
            Reconciling: ["False", "OutOfSync", ""],
            Ready: ["False", "OutOfSync", `${summaryText(plan)} waiting: ${waitReason}`],
          });
          // Said once per revision and reason, not on every poll.
          const before = status.conditions.find((item) => item.type === "Ready");
          if (status.lastAttemptedRevision !== revision || before?.reason !== "OutOfSync" || !before.message.endsWith(waitReason)) {
            await this.record([
              {
                stack: name,
                runId: null,
                address: null,
                type: "plan.pending",
                message: `${summaryText(plan)}; not applied: ${waitReason}`,
                data: { revision, summary: plan.summary as unknown as JsonObject },
              },
            ]);
          }
          return plan;
        }
        await this.setConditions(name, { Reconciling: ["True", "Applying", `${summaryText(plan)} (${change})`] });
        const commit = await this.commitOf(managed, revision);
        const applied = await applyStackPlan(rendered, planned, this.store, connections, {
          trigger: change === "intentional" ? job.trigger : change === "corrective" ? "drift" : "rollback",
          revision,
          actor: job.actor,
          ...(commit === undefined ? {} : { commit }),
        });
        this.options.metrics.runs.inc({ trigger: job.trigger, result: applied.result.failed === 0 ? "succeeded" : "failed" });
        if (applied.result.failed > 0) {
          const failure = applied.result.outcomes.find((outcome) => outcome.status === "failed")?.error;
          const transient = failure?.disposition === "transient";
          scheduleRetry(managed);
          const exhausted = managed.backoff.limit !== undefined && managed.failures > managed.backoff.limit;
          await this.writeStatus(attempted);
          await this.setConditions(name, {
            Reconciling: ["False", "ApplyFailed", ""],
            Ready: ["False", "ApplyFailed", `${applied.result.failed} change(s) failed: ${failure?.describe() ?? "see the run"}`],
            Degraded: [transient ? "True" : "False", transient ? "ProviderUnavailable" : "ApplyFailed", transient ? (failure?.message ?? "") : ""],
            Stalled: [
              exhausted ? "True" : "False",
              exhausted ? "RetriesExhausted" : "Retrying",
              exhausted ? `gave up after ${managed.failures} attempts; a new commit or a manual sync tries again` : "",
            ],
          });
          return plan;
        }
        this.markApplied(managed, rendered, change);
        await this.writeStatus({
          ...attempted,
          lastAppliedRevision: revision,
          lastAppliedDigest: rendered.digest,
          drift: change === "corrective" ? { ...(status.drift ?? { checkedAt: new Date().toISOString(), resources: {} }), healed: true } : null,
        });
        await this.setConditions(name, appliedConditions(revision));
        return plan;
      });
    } catch (error) {
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const transient = problems.some((problem) => problem.disposition === "transient");
      const denied = problems.filter((problem) => problem.code === "PLUMB_POLICY_DENIED");
      const message = problems.map((problem) => problem.describe()).join("\n");
      const status = await this.status(name);
      // Transient failures retry with backoff; a terminal one waits for a new commit or a manual sync.
      if (transient) scheduleRetry(managed);
      const reason = denied.length > 0 ? "PolicyDenied" : transient ? "ProviderUnavailable" : "PlanFailed";
      await this.writeStatus({ ...status, lastAttemptedRevision: revision });
      await this.setConditions(name, {
        Reconciling: ["False", "Failed", ""],
        Ready: ["False", reason, message],
        Degraded: [transient ? "True" : "False", reason, transient ? message : ""],
        Stalled: [transient ? "False" : "True", reason, transient ? "" : message],
      });
      // Said once per revision: the commit loop meets the same denial on every poll.
      if (status.lastAttemptedRevision !== revision || status.conditions.find((item) => item.type === "Ready")?.reason !== reason) {
        await this.record([{ stack: name, runId: null, address: null, type: denied.length > 0 ? "policy.denied" : "plan.failed", message }]);
        if (denied.length > 0) {
          const commit = await this.commitOf(managed, revision);
          await this.store.appendAudit(auditOfPolicyDenial(name, job.actor ?? "agent", { revision, ...(commit ?? {}) }, denied));
        }
      }
      return undefined;
    } finally {
      await connections.closeAll();
    }
  }

  /** What a successful apply leaves on the stack: no failures counted, the render the drift loop compares against. */
  private markApplied(managed: ManagedStack, rendered: RenderedStack, change: "intentional" | "corrective" | "rollback"): void {
    managed.failures = 0;
    managed.applied = rendered;
    managed.appliedKey = change === "intentional" ? this.renderKey(rendered) : undefined;
  }

  /** Identifies what an apply depends on besides live state: the render, the Stack definition and the policy. */
  private renderKey(rendered: RenderedStack): string {
    return createHash("sha256")
      .update(rendered.digest)
      .update(JSON.stringify(rendered.definition))
      .update(JSON.stringify(this.platform.policy ?? null))
      .update(JSON.stringify(rendered.policyViolations ?? []))
      .digest("hex");
  }

  /** What the enrich stage needs for this stack at `revision`; undefined without a CompliancePolicy. */
  private async complianceFor(managed: ManagedStack, revision: string): Promise<ComplianceOptions | undefined> {
    if (this.platform.policy === undefined) return undefined;
    managed.origin ??= await stackOrigin(managed.platform, this.options.origin, this.platform.secrets, this.options.ssh);
    const origin = managed.origin;
    if (origin.kind === "local") return { policy: this.platform.policy, source: origin.directory, commit: null };
    const commit = await this.commitOf(managed, revision);
    return {
      policy: this.platform.policy,
      source: `${redactUrl(origin.source.url)}${origin.path === "." ? "" : `#${origin.path}`}`,
      commit: { sha: revision, author: commit?.author ?? "" },
    };
  }

  /** Desired (the last applied render, enriched) against live, for the API's plan preview. */
  async previewPlan(name: string): Promise<{ revision: string | null; plan: Plan } | undefined> {
    const managed = this.stacks.get(name);
    if (managed === undefined) return undefined;
    const rendered = await this.appliedRender(name, managed);
    if (rendered === undefined) return undefined;
    const status = await this.status(name);
    const connections = new ProviderConnections(this.options.registry, rendered.definition, this.platform.secrets);
    try {
      const { plan } = await planStack(rendered, this.store, connections, {}, await this.complianceFor(managed, status.lastAppliedRevision ?? rendered.digest));
      return { revision: status.lastAppliedRevision, plan };
    } finally {
      await connections.closeAll();
    }
  }

  /** The compliance report over every stack's newest render (applied, or denied by policy). */
  async complianceReport(expiringWithinDays: number): Promise<ComplianceReport> {
    const since = new Date(Date.now() - 30 * 86_400_000).toISOString();
    const audit: AuditEvent[] = [];
    for await (const event of auditEvents(this.store, { since, kind: ["drift.detected", "change.corrective"] })) audit.push(event);
    const statuses = new Map((await this.store.listStackStatuses()).map((status) => [status.stack, status]));
    const stacks: ReportStack[] = [];
    for (const [name, managed] of this.stacks) {
      const rendered = managed.lastRendered ?? (await this.appliedRender(name, managed));
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
    return buildComplianceReport(stacks, this.platform.policy, audit, { today: new Date().toISOString().slice(0, 10), expiringWithinDays });
  }

  /** Author and subject of a commit the mirror holds; undefined for local sources or unknown commits. */
  private async commitOf(managed: ManagedStack, revision: string): Promise<{ author: string; message: string } | undefined> {
    if (managed.origin?.kind !== "git") return undefined;
    try {
      const info = await this.mirrors.commitInfo(managed.origin.source, revision);
      return { author: `${info.author} <${info.email}>`, message: info.message };
    } catch {
      return undefined;
    }
  }

  // ── the drift loop ──────────────────────────────────────────────────────

  async appliedRender(name: string, managed: ManagedStack): Promise<RenderedStack | undefined> {
    if (managed.applied !== undefined) return managed.applied;
    const status = await this.status(name);
    if (status.lastAppliedDigest === null) return undefined;
    const record = await this.store.getRender(name, status.lastAppliedDigest);
    managed.applied = record === undefined ? undefined : (record.rendered as unknown as RenderedStack);
    return managed.applied;
  }

  async driftCheck(job: Job): Promise<void> {
    const managed = this.stacks.get(job.stack);
    if (managed === undefined || managed.definitionError !== undefined) return;
    const name = job.stack;
    const rendered = await this.appliedRender(name, managed);
    if (rendered === undefined) return;
    const status = await this.status(name);
    const connections = new ProviderConnections(this.options.registry, rendered.definition, this.platform.secrets);
    let planned: PlannedStack;
    try {
      planned = await planStack(rendered, this.store, connections, {}, await this.complianceFor(managed, status.lastAppliedRevision ?? rendered.digest));
    } catch (error) {
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const message = problems.map((problem) => problem.describe()).join("\n");
      await this.setConditions(name, { Degraded: ["True", "ObserveFailed", message] });
      await this.record([{ stack: name, runId: null, address: null, type: "drift.check-failed", message }]);
      return;
    } finally {
      await connections.closeAll();
    }
    const drifted: Record<string, string[]> = {};
    for (const item of planned.plan.changes) {
      if (item.action === "create") drifted[item.address] = ["(missing)"];
      else if (item.action === "update" || item.action === "replace") drifted[item.address] = item.diffs.map((diff) => diff.path);
    }
    const addresses = Object.keys(drifted);
    if (addresses.length === 0) {
      if (status.drift !== null && !status.drift.healed) {
        await this.setConditions(name, { Ready: ["True", "Succeeded", `revision ${status.lastAppliedRevision ?? ""} is applied`] }, { drift: null });
      }
      return;
    }
    this.options.metrics.driftFound.inc(addresses.length);
    const summary = { checkedAt: new Date().toISOString(), resources: drifted, healed: false };
    const waitReason = holdReason(rendered.definition.sync, status, job, "corrective");
    const heal = waitReason === undefined;
    // The drift and what it means for Ready go out in one write, so no reader sees one without the other.
    if (heal) await this.writeStatus({ ...status, drift: summary });
    else
      await this.setConditions(
        name,
        { Ready: ["False", "Drifted", `${addresses.length} resource(s) drifted; not healed: ${waitReason ?? ""}`] },
        { drift: summary },
      );
    await this.record(
      addresses.map((address) => ({
        stack: name,
        runId: null,
        address,
        type: "drift.detected",
        message: `${address} drifted: ${(drifted[address] as string[]).join(", ")}`,
        data: { fields: drifted[address] as string[] },
      })),
    );
    if (!heal) {
      // The audit trail gets drift left in place once per new finding, not on every check.
      if (status.drift === null || status.drift.healed || JSON.stringify(status.drift.resources) !== JSON.stringify(drifted)) {
        const commit = status.lastAppliedRevision === null ? undefined : await this.commitOf(managed, status.lastAppliedRevision);
        await this.store.appendAudit(auditOfDriftLeft(name, { revision: status.lastAppliedRevision, ...(commit ?? {}) }, drifted));
      }
      return;
    }
    const plan = await this.planAndApply(managed, rendered, status.lastAppliedRevision ?? rendered.digest, job, "corrective");
    const healed = (await this.status(name)).conditions.find((condition) => condition.type === "Ready")?.status === "True";
    if (plan !== undefined && healed) {
      this.options.metrics.driftHealed.inc(addresses.length);
      await this.record(
        addresses.map((address) => ({
          stack: name,
          runId: null,
          address,
          type: "drift.healed",
          message: `${address} reverted to the desired state (corrective change)`,
          data: { fields: drifted[address] as string[] },
        })),
      );
    }
  }

  // ── rollback and removal ────────────────────────────────────────────────

  async rollback(job: Job): Promise<void> {
    const managed = this.stacks.get(job.stack);
    const wanted = job.revision;
    if (managed === undefined || wanted === undefined) return;
    const name = job.stack;
    const runs = await this.store.listRuns(name, 1000);
    const target = runs.find(
      (run) =>
        run.result === "succeeded" && (run.revision === wanted || (wanted.length >= 7 && run.revision?.startsWith(wanted) === true) || run.digest === wanted),
    );
    const record = target === undefined ? undefined : await this.store.getRender(name, target.digest);
    if (target === undefined || record === undefined) {
      await this.record([
        { stack: name, runId: null, address: null, type: "rollback.failed", message: `no successful run of revision ${job.revision} is recorded for ${name}` },
      ]);
      return;
    }
    // Like Argo CD: after a rollback the stack stops following Git until someone resumes it.
    const status = await this.status(name);
    await this.writeStatus({ ...status, suspended: true });
    await this.record([
      {
        stack: name,
        runId: null,
        address: null,
        type: "rollback.started",
        message: `rollback to ${target.revision ?? target.digest} requested by ${job.actor ?? "the agent"}; automatic sync suspended until resumed`,
      },
    ]);
    await this.planAndApply(managed, record.rendered as unknown as RenderedStack, target.revision ?? target.digest, job, "rollback");
  }

  async removeStack(job: Job): Promise<void> {
    const managed = this.stacks.get(job.stack);
    if (managed === undefined) return;
    const name = job.stack;
    const policy = managed.platform.document.spec?.deletionPolicy ?? "Orphan";
    const rendered = await this.appliedRender(name, managed);
    if (policy === "Delete" && rendered !== undefined) {
      const empty: RenderedStack = {
        ...rendered,
        resources: [],
        definition: { ...rendered.definition, sync: { ...rendered.definition.sync, prune: true, allowEmpty: true } },
      };
      const connections = new ProviderConnections(this.options.registry, empty.definition, this.platform.secrets);
      try {
        await withStackLock(this.store, name, async () => {
          const planned = await planStack(empty, this.store, connections, { prune: true, allowEmpty: true });
          await applyStackPlan(empty, planned, this.store, connections, { trigger: "platform", revision: null, actor: null });
        });
      } catch (error) {
        await this.record([{ stack: name, runId: null, address: null, type: "stack.remove-failed", message: asPlumbError(error, name).describe() }]);
        return;
      } finally {
        await connections.closeAll();
      }
    }
    const remaining = await this.store.listResources(name);
    await this.store.removeResources(
      name,
      remaining.map((record) => record.address),
    );
    this.stacks.delete(name);
    await this.store.removeStack(name);
    await this.record([
      {
        stack: name,
        runId: null,
        address: null,
        type: "stack.removed",
        message:
          policy === "Delete"
            ? `stack ${name} left the platform repository; its resources were deleted`
            : `stack ${name} left the platform repository; its ${remaining.length} resource(s) are left in place, no longer managed`,
      },
    ]);
  }
}

function asPlumbError(error: unknown, stack: string): PlumbError {
  if (error instanceof PlumbError) return error;
  // The store's own failures (a full disk, a damaged file) say so, not "provider operation".
  if (typeof error === "object" && error !== null && "code" in error && String(error.code).startsWith("SQLITE_")) return storeError(error, "the state store");
  return new PlumbError("PLUMB_PROVIDER_OPERATION", errorMessage(error), { location: { stack }, cause: error });
}

function summaryText(plan: Plan): string {
  const { create, update, replace, delete: remove } = plan.summary;
  return `${create} to create, ${update} to update, ${replace} to replace, ${remove} to delete`;
}
