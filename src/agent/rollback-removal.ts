// Rollback and removal of one stack. A rollback re-applies the render of an
// earlier successful run and suspends the stack, as Argo CD does; a stack
// that left the platform repository is removed under its deletionPolicy
// (Orphan by default: resources stay, no longer managed).

import { ProviderConnections } from "../engine/connections.js";
import { withStackLock } from "../engine/apply/lock.js";
import { applyStackPlan, planStack } from "../engine/pipeline.js";
import type { RenderedStack } from "../stack-model.js";
import type { Job } from "./managed-stack.js";
import type { StackReconciler } from "./reconciler.js";
import { appliedRender, asPlumbError, type StackContext, rethrowLeaseLoss } from "./stack-context.js";

export class RollbackAndRemoval {
  constructor(
    private readonly context: StackContext,
    private readonly reconciler: StackReconciler,
  ) {}

  async rollback(job: Job): Promise<void> {
    const managed = this.context.stacks.get(job.stack);
    const wanted = job.revision;
    if (managed === undefined || wanted === undefined) return;
    const name = job.stack;
    const runs = await this.context.store.listRuns(name, 1000);
    const target = runs.find(
      (run) =>
        run.result === "succeeded" && (run.revision === wanted || (wanted.length >= 7 && run.revision?.startsWith(wanted) === true) || run.digest === wanted),
    );
    const record = target === undefined ? undefined : await this.context.store.getRender(name, target.digest);
    if (target === undefined || record === undefined) {
      await this.context.book.record([
        { stack: name, runId: null, address: null, type: "rollback.failed", message: `no successful run of revision ${job.revision} is recorded for ${name}` },
      ]);
      return;
    }
    // Like Argo CD: after a rollback the stack stops following Git until someone resumes it.
    const status = await this.context.book.status(name);
    await this.context.store.setSuspended(job.stack, true);
    await this.context.book.write({ ...status, suspended: true });
    await this.context.book.record([
      {
        stack: name,
        runId: null,
        address: null,
        type: "rollback.started",
        message: `rollback to ${target.revision ?? target.digest} requested by ${job.actor ?? "the agent"}; automatic sync suspended until resumed`,
      },
    ]);
    await this.reconciler.planAndApply(managed, record.rendered as unknown as RenderedStack, target.revision ?? target.digest, job, "rollback");
  }

  async removeStack(job: Job): Promise<void> {
    const managed = this.context.stacks.get(job.stack);
    if (managed === undefined) return;
    const name = job.stack;
    const policy = managed.platform.document.spec?.deletionPolicy ?? "Orphan";
    const rendered = await appliedRender(this.context, name, managed);
    if (policy === "Delete" && rendered !== undefined) {
      const empty: RenderedStack = {
        ...rendered,
        resources: [],
        definition: { ...rendered.definition, sync: { ...rendered.definition.sync, prune: true, allowEmpty: true } },
      };
      const connections = new ProviderConnections(this.context.registry, empty.definition, this.context.platform.secrets);
      try {
        await withStackLock(this.context.store, name, async () => {
          const planned = await planStack(empty, this.context.store, connections, { prune: true, allowEmpty: true });
          await applyStackPlan(empty, planned, this.context.store, connections, { trigger: "platform", revision: null, actor: null });
        });
      } catch (error) {
        rethrowLeaseLoss(error);
        await this.context.book.record([
          { stack: name, runId: null, address: null, type: "stack.remove-failed", message: asPlumbError(error, name).describe() },
        ]);
        return;
      } finally {
        await connections.closeAll();
      }
    }
    const remaining = await this.context.store.listResources(name);
    await this.context.store.removeResources(
      name,
      remaining.map((record) => record.address),
    );
    this.context.stacks.delete(name);
    await this.context.store.removeStack(name);
    await this.context.book.record([
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
