// The commit loop of one stack, Flux's sub-steps in order: source (fetch the
// revision), render, the sync gate, then policy, observe and plan, apply, and
// the outcome that sets the stack's conditions and events. The drift loop and
// rollback apply through planAndApply here too.

import { createHash } from "node:crypto";
import { ProviderConnections } from "../engine/connections.js";
import { withStackLock } from "../engine/apply/lock.js";
import { resolvePendingJournal } from "../engine/apply/recover.js";
import { planHasChanges, selectChanges, type Plan } from "../engine/plan/plan.js";
import { applyStackPlan, planStack, type AppliedRun, type PlannedStack } from "../engine/pipeline.js";
import { auditOfPolicyDenial } from "../engine/record/audit-events.js";
import { PlumbErrorList } from "../errors.js";
import type { RenderedStack } from "../stack-model.js";
import type { JsonObject } from "../sdk/resource.js";
import { redactUrl } from "../source/git.js";
import type { EventInput, StackStatus, Store } from "../state/store.js";
import type { PlanFailure, ReconcileOutcome } from "./conditions.js";
import { scheduleRetry, type Job, type ManagedStack } from "./managed-stack.js";
import type { PlatformSource } from "./platform-source.js";
import { partialRender } from "./partial-render.js";
import { appliedRender, asPlumbError, rethrowLeaseLoss, commitOf, complianceFor, type StackContext } from "./stack-context.js";
import { fetchStackSource, renderStackSource } from "./stack-source.js";
import { holdReason } from "./sync-gate.js";

export class StackReconciler {
  /** Stacks told once that they ask for drift prevention this agent does not serve. */
  private readonly unguarded = new Set<string>();

  constructor(private readonly options: StackContext) {}

  private get store(): Store {
    return this.options.store;
  }

  private get platform(): PlatformSource {
    return this.options.platform;
  }

  private get stacks(): Map<string, ManagedStack> {
    return this.options.stacks;
  }

  private status(stack: string): Promise<StackStatus> {
    return this.options.book.status(stack);
  }

  private writeStatus(status: StackStatus): Promise<void> {
    return this.options.book.write(status);
  }

  private report(stack: string, outcome: ReconcileOutcome, also: Partial<Pick<StackStatus, "drift">> = {}): Promise<void> {
    return this.options.book.report(stack, outcome, also);
  }

  private record(events: EventInput[]): Promise<void> {
    return this.options.book.record(events);
  }

  async sync(job: Job): Promise<void> {
    const managed = this.stacks.get(job.stack);
    if (managed === undefined || managed.definitionError !== undefined) return;
    const name = job.stack;
    const status = await this.status(name);
    // A selective sync always plans: its resources may differ from a render that is otherwise applied.
    const forced = managed.forced || job.only !== undefined;
    managed.forced = false;
    await this.report(name, { kind: "reading-source", trigger: job.trigger });

    let fetched;
    try {
      fetched = await fetchStackSource(this.options, managed);
    } catch (error) {
      rethrowLeaseLoss(error);
      this.options.metrics.gitErrors.inc();
      const problem = asPlumbError(error, name);
      const terminal = problem.disposition === "terminal" && problem.code !== "PLUMB_SOURCE_REF_NOT_FOUND";
      scheduleRetry(managed);
      const degraded = status.conditions.find((condition) => condition.type === "Degraded");
      const repeated = degraded?.reason === "SourceUnavailable" && degraded.message.startsWith(`${problem.message};`);
      await this.report(name, { kind: "source-failed", message: problem.message, detail: problem.describe(), terminal, running: status.lastAppliedRevision });
      if (!repeated) await this.record([{ stack: name, runId: null, address: null, type: "source.failed", message: redactUrl(problem.describe()) }]);
      return;
    }

    let rendered: RenderedStack;
    try {
      rendered = await renderStackSource(this.options, name, managed, fetched.directory);
    } catch (error) {
      rethrowLeaseLoss(error);
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const message = problems.map((problem) => problem.describe()).join("\n");
      await this.writeStatus({ ...status, lastAttemptedRevision: fetched.revision });
      await this.report(name, { kind: "render-failed", revision: fetched.revision, running: status.lastAppliedRevision, problems: message });
      // Once per commit and reason: the commit loop meets the same broken revision on every poll.
      const stalled = status.conditions.find((condition) => condition.type === "Stalled");
      if (status.lastAttemptedRevision !== fetched.revision || stalled?.reason !== "RenderFailed" || stalled.message !== message) {
        await this.record([
          { stack: name, runId: null, address: null, type: "render.failed", message, data: { revision: fetched.revision, problems: problems.length } },
        ]);
        // What a stack tried outside its project goes on the audit trail, once per commit and reason.
        const denied = problems.filter((problem) => problem.code === "PLUMB_PROJECT_DENIED");
        if (denied.length > 0) {
          const revision = fetched.revision ?? "";
          const commit = fetched.revision === null ? undefined : await commitOf(this.options, managed, fetched.revision);
          await this.store.appendAudit(auditOfPolicyDenial(name, job.actor ?? "agent", { revision, ...(commit ?? {}) }, denied, "project.denied"));
        }
      }
      return;
    }
    managed.lastRendered = rendered;
    if (rendered.definition.sync.preventDrift === true && this.options.admission === undefined && !this.unguarded.has(name)) {
      this.unguarded.add(name);
      await this.record([
        {
          stack: name,
          runId: null,
          address: null,
          type: "admission.unavailable",
          message:
            "sync.preventDrift is set but this agent serves no admission webhook (start it with --admission-listen); drift is still found and healed by the drift loop",
        },
      ]);
    }
    const revision = fetched.revision ?? rendered.digest;
    // Nothing new to apply. Drift is the drift loop's business: re-applying here would
    // revert it even where selfHeal is off.
    const interrupted = (await this.store.pendingJournalEntries(name)).length > 0;
    if (!forced && !interrupted && status.lastAppliedRevision === revision && status.lastAppliedDigest === rendered.digest) {
      managed.applied ??= rendered;
      await this.report(name, { kind: "up-to-date" });
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
      const wasReady = status.conditions.find((condition) => condition.type === "Ready")?.status === "True";
      await this.report(name, { kind: "revision-recorded", revision, wasReady });
      return;
    }
    await this.store.saveRender({ stack: name, digest: rendered.digest, revision, rendered: rendered as unknown as JsonObject });
    await this.planAndApply(managed, rendered, revision, job, "intentional");
  }

  /**
   * Plans `rendered` against live state and applies it when the stack's
   * policy allows; used by commits, drift healing and rollbacks alike.
   */
  async planAndApply(
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
        const planned = await planStack(rendered, this.store, connections, {}, await complianceFor(this.options, managed, revision));
        const status = await this.status(name);
        const plan = planned.plan;
        const attempted = { ...status, lastAttemptedRevision: revision };
        if (job.only !== undefined && change === "intentional")
          return await this.applySelection(managed, rendered, revision, { ...job, only: job.only }, planned, connections);
        // An empty render with resources still recorded deletes nothing (allowEmpty is off); that is said, never shown as Ready.
        const heldEmpty = rendered.resources.length === 0 && plan.summary.retain > 0;
        if (heldEmpty) {
          const message = `revision ${revision} renders no resources; ${plan.summary.retain} resource(s) from an earlier revision are kept and nothing is pruned; set sync.allowEmpty: true to prune them`;
          const before = status.conditions.find((item) => item.type === "Ready");
          await this.writeStatus(attempted);
          await this.report(name, { kind: "empty-render", message });
          if (status.lastAttemptedRevision !== revision || before?.reason !== "EmptyRender")
            await this.record([{ stack: name, runId: null, address: null, type: "render.empty", message }]);
          return plan;
        }
        if (!planHasChanges(plan) && !plan.changes.some((item) => item.recordStale)) {
          this.markApplied(managed, rendered, change);
          await this.writeStatus({ ...attempted, lastAppliedRevision: revision, lastAppliedDigest: rendered.digest, drift: null });
          await this.report(name, { kind: "applied", revision });
          await this.reportHealth(managed, name, revision);
          return plan;
        }
        const sync = rendered.definition.sync;
        const waitReason = holdReason(sync, status, job, change);
        if (waitReason !== undefined) {
          await this.writeStatus(attempted);
          await this.report(name, { kind: "held", plan: summaryText(plan), waitReason });
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
        await this.report(name, { kind: "applying", plan: summaryText(plan), change });
        const trigger = change === "intentional" ? job.trigger : change === "corrective" ? "drift" : "rollback";
        const applied = await this.runApply(managed, rendered, planned, connections, revision, job, trigger);
        if (applied.result.failed > 0) {
          await this.reportApplyFailure(managed, applied, attempted);
          return plan;
        }
        this.markApplied(managed, rendered, change);
        await this.writeStatus({
          ...attempted,
          lastAppliedRevision: revision,
          lastAppliedDigest: rendered.digest,
          drift: change === "corrective" ? { ...(status.drift ?? { checkedAt: new Date().toISOString(), resources: {} }), healed: true } : null,
        });
        await this.report(name, { kind: "applied", revision });
        await this.reportHealth(managed, name, revision);
        return plan;
      });
    } catch (error) {
      rethrowLeaseLoss(error);
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const transient = problems.some((problem) => problem.disposition === "transient");
      const denied = problems.filter((problem) => problem.code === "PLUMB_POLICY_DENIED");
      const message = problems.map((problem) => problem.describe()).join("\n");
      const status = await this.status(name);
      // Transient failures retry with backoff; a terminal one waits for a new commit or a manual sync.
      if (transient) scheduleRetry(managed);
      const reason: PlanFailure = denied.length > 0 ? "PolicyDenied" : transient ? "ProviderUnavailable" : "PlanFailed";
      await this.writeStatus({ ...status, lastAttemptedRevision: revision });
      await this.report(name, { kind: "plan-failed", reason, message, transient });
      // Said once per revision: the commit loop meets the same denial on every poll.
      if (status.lastAttemptedRevision !== revision || status.conditions.find((item) => item.type === "Ready")?.reason !== reason) {
        await this.record([{ stack: name, runId: null, address: null, type: denied.length > 0 ? "policy.denied" : "plan.failed", message }]);
        if (denied.length > 0) {
          const commit = await commitOf(this.options, managed, revision);
          await this.store.appendAudit(auditOfPolicyDenial(name, job.actor ?? "agent", { revision, ...(commit ?? {}) }, denied));
        }
      }
      return undefined;
    } finally {
      await connections.closeAll();
    }
  }

  /**
   * After an apply, and after each drift check: a stack is Ready only when its
   * resources are healthy as well as applied. Resources still Progressing
   * past the stack's healthTimeout stall it; a Degraded one degrades it.
   */
  async reportHealth(managed: ManagedStack, name: string, revision: string | null): Promise<void> {
    const records = await this.store.listResources(name);
    const describe = (record: (typeof records)[number]) =>
      typeof record.outputs.healthMessage === "string" ? `${record.address} (${record.outputs.healthMessage})` : record.address;
    const progressing = records.filter((record) => record.health === "Progressing").map(describe);
    const degraded = records.filter((record) => record.health === "Degraded").map(describe);
    const ready = (await this.status(name)).conditions.find((condition) => condition.type === "Ready");
    const waitingOnHealth = ready?.status === "False" && (ready.reason === "Progressing" || ready.reason === "ResourcesDegraded");
    if (progressing.length === 0 && degraded.length === 0) {
      if (waitingOnHealth) await this.report(name, { kind: "applied", revision: revision ?? "(local)" });
      return;
    }
    // The wait is counted from when the stack first went unready for its resources' health.
    const since = waitingOnHealth ? Date.parse(ready.lastTransitionTime) : Date.now();
    const timedOut = progressing.length > 0 && Date.now() - since > managed.healthTimeoutMs ? formatDuration(managed.healthTimeoutMs) : undefined;
    await this.report(name, { kind: "unhealthy", revision, progressing, degraded, timedOut });
  }

  /** Applies a plan as a run that names the commit's author and message, and counts it. */
  private async runApply(
    managed: ManagedStack,
    rendered: RenderedStack,
    planned: PlannedStack,
    connections: ProviderConnections,
    revision: string,
    job: Job,
    trigger: string,
  ): Promise<AppliedRun> {
    const commit = await commitOf(this.options, managed, revision);
    const applied = await applyStackPlan(rendered, planned, this.store, connections, {
      trigger,
      revision,
      actor: job.actor,
      ...(this.options.stopping === undefined ? {} : { signal: this.options.stopping }),
      ...(commit === undefined ? {} : { commit }),
    });
    this.options.metrics.runs.inc({ trigger: job.trigger, result: applied.result.failed === 0 ? "succeeded" : "failed" });
    return applied;
  }

  /** A run with failed changes: retried with backoff, said in the conditions. */
  private async reportApplyFailure(managed: ManagedStack, applied: AppliedRun, attempted: StackStatus): Promise<void> {
    const failure = applied.result.outcomes.find((outcome) => outcome.status === "failed")?.error;
    const transient = failure?.disposition === "transient";
    scheduleRetry(managed);
    const exhausted = managed.backoff.limit !== undefined && managed.failures > managed.backoff.limit;
    await this.writeStatus(attempted);
    await this.report(attempted.stack, {
      kind: "apply-failed",
      failed: applied.result.failed,
      failure: failure?.describe() ?? "see the run",
      transient,
      transientMessage: failure?.message ?? "",
      attempts: managed.failures,
      exhausted,
    });
  }

  /**
   * A selective sync (Argo CD's): only the chosen resources' changes are
   * applied. When other changes are left, the stack runs a partial render —
   * the one applied before, with the chosen resources from this one — so the
   * drift loop neither reports nor reverts them, and it stays OutOfSync.
   */
  private async applySelection(
    managed: ManagedStack,
    rendered: RenderedStack,
    revision: string,
    job: Job & { only: string[] },
    planned: PlannedStack,
    connections: ProviderConnections,
  ): Promise<Plan> {
    const name = job.stack;
    const status = await this.status(name);
    const attempted = { ...status, lastAttemptedRevision: revision };
    const chosen = new Set(job.only);
    const plan = selectChanges(planned.plan, chosen);
    const left = planned.plan.changes.filter((item) => !chosen.has(item.address) && item.action !== "noop" && item.action !== "retain").length;
    const said = `selective sync of ${chosen.size} resource(s) at ${revision.slice(0, 12)}`;
    if (!planHasChanges(plan)) {
      await this.record([{ stack: name, runId: null, address: null, type: "sync.selective", message: `${said}: nothing to change among them` }]);
      return plan;
    }
    const waitReason = holdReason(rendered.definition.sync, status, job, "intentional");
    if (waitReason !== undefined) {
      await this.record([
        { stack: name, runId: null, address: null, type: "plan.pending", message: `${said}: ${summaryText(plan)}; not applied: ${waitReason}` },
      ]);
      return plan;
    }
    await this.report(name, { kind: "applying", plan: summaryText(plan), change: "intentional" });
    const applied = await this.runApply(managed, rendered, { ...planned, plan }, connections, revision, job, job.trigger);
    if (applied.result.failed > 0) {
      await this.reportApplyFailure(managed, applied, attempted);
      return plan;
    }
    await this.record([
      { stack: name, runId: applied.runId, address: null, type: "sync.selective", message: `${said}: ${summaryText(plan)}; ${left} other change(s) left` },
    ]);
    if (left === 0) {
      this.markApplied(managed, rendered, "intentional");
      await this.writeStatus({ ...attempted, lastAppliedRevision: revision, lastAppliedDigest: rendered.digest, drift: null });
      await this.report(name, { kind: "applied", revision });
      await this.reportHealth(managed, name, revision);
      return plan;
    }
    const partial = partialRender(await appliedRender(this.options, name, managed), rendered, chosen);
    await this.store.saveRender({
      stack: name,
      digest: partial.digest,
      revision: status.lastAppliedRevision ?? revision,
      rendered: partial as unknown as JsonObject,
    });
    this.markApplied(managed, partial, "selective");
    await this.writeStatus({ ...attempted, lastAppliedDigest: partial.digest, drift: null });
    await this.report(name, {
      kind: "held",
      plan: `${left} change(s)`,
      waitReason: `a selective sync applied ${plan.changes.length} chosen resource(s); the rest waits for a whole sync`,
    });
    return plan;
  }

  /** What a successful apply leaves on the stack: no failures counted, the render the drift loop compares against. */
  private markApplied(managed: ManagedStack, rendered: RenderedStack, change: "intentional" | "corrective" | "rollback" | "selective"): void {
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
}

function formatDuration(milliseconds: number): string {
  return milliseconds % 60_000 === 0 ? `${milliseconds / 60_000}m` : `${Math.round(milliseconds / 1000)}s`;
}

function summaryText(plan: Plan): string {
  const { create, update, replace, delete: remove } = plan.summary;
  return `${create} to create, ${update} to update, ${replace} to replace, ${remove} to delete`;
}
