// The drift loop of one stack: re-reads live state against the render applied
// last, records what drifted, and heals it through the reconciler's plan and
// apply as a corrective change where the stack's policy allows; drift left in
// place is said on the stack, in its events and (once per finding) on the
// audit trail.

import { ProviderConnections } from "../engine/connections.js";
import type { PlannedStack } from "../engine/pipeline.js";
import { planStack } from "../engine/pipeline.js";
import { auditOfDriftLeft } from "../engine/record/audit-events.js";
import { PlumbErrorList } from "../errors.js";
import type { Job } from "./managed-stack.js";
import type { StackReconciler } from "./reconciler.js";
import { appliedRender, asPlumbError, rethrowLeaseLoss, commitOf, complianceFor, type StackContext } from "./stack-context.js";
import { holdReason } from "./sync-gate.js";

export class DriftLoop {
  constructor(
    private readonly context: StackContext,
    private readonly reconciler: StackReconciler,
  ) {}

  async driftCheck(job: Job): Promise<void> {
    const managed = this.context.stacks.get(job.stack);
    if (managed === undefined || managed.definitionError !== undefined) return;
    const name = job.stack;
    const rendered = await appliedRender(this.context, name, managed);
    if (rendered === undefined) return;
    const status = await this.context.book.status(name);
    const connections = new ProviderConnections(this.context.registry, rendered.definition, this.context.platform.secrets);
    let planned: PlannedStack;
    try {
      planned = await planStack(
        rendered,
        this.context.store,
        connections,
        {},
        await complianceFor(this.context, managed, status.lastAppliedRevision ?? rendered.digest),
      );
    } catch (error) {
      rethrowLeaseLoss(error);
      const problems = error instanceof PlumbErrorList ? error.errors : [asPlumbError(error, name)];
      const message = problems.map((problem) => problem.describe()).join("\n");
      await this.context.book.report(name, { kind: "observe-failed", message });
      await this.context.book.record([{ stack: name, runId: null, address: null, type: "drift.check-failed", message }]);
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
        await this.context.book.report(name, { kind: "drift-cleared", revision: status.lastAppliedRevision }, { drift: null });
      }
      // Observe just recorded each resource's health: a rollout that finished makes the stack Ready.
      const ready = status.conditions.find((condition) => condition.type === "Ready");
      if (planned.healthChanged > 0 || ready?.reason === "Progressing" || ready?.reason === "ResourcesDegraded")
        await this.reconciler.reportHealth(managed, name, status.lastAppliedRevision);
      return;
    }
    this.context.metrics.driftFound.inc(addresses.length);
    const summary = { checkedAt: new Date().toISOString(), resources: drifted, healed: false };
    const waitReason = holdReason(rendered.definition.sync, status, job, "corrective");
    const heal = waitReason === undefined;
    // The drift and what it means for Ready go out in one write, so no reader sees one without the other.
    if (heal) await this.context.book.write({ ...status, drift: summary });
    else await this.context.book.report(name, { kind: "drift-left", count: addresses.length, waitReason: waitReason ?? "" }, { drift: summary });
    await this.context.book.record(
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
        const commit = status.lastAppliedRevision === null ? undefined : await commitOf(this.context, managed, status.lastAppliedRevision);
        await this.context.store.appendAudit(auditOfDriftLeft(name, { revision: status.lastAppliedRevision, ...(commit ?? {}) }, drifted));
      }
      return;
    }
    const plan = await this.reconciler.planAndApply(managed, rendered, status.lastAppliedRevision ?? rendered.digest, job, "corrective");
    const healed = (await this.context.book.status(name)).conditions.find((condition) => condition.type === "Ready")?.status === "True";
    if (plan !== undefined && healed) {
      this.context.metrics.driftHealed.inc(addresses.length);
      await this.context.book.record(
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
}
