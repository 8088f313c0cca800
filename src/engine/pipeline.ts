// Runs the stages in order for one stack: policy, observe and plan against a
// rendered stack (observe/, plan/), and apply (apply/) inside a run record
// (record/). The CLI and the agent call these instead of wiring the stages
// themselves.

import { PlumbError, PlumbErrorList } from "../errors.js";
import { containsOutputReference, substituteOutputReferences } from "../render/output-references.js";
import type { DesiredResource, RenderedStack } from "../stack-model.js";
import { containsSecretReference, withSecretDigests, type SecretResolver } from "../secrets/references.js";
import type { LiveObject } from "../sdk/provider.js";
import { hookPhasesOf, type HookPhase, type JsonValue } from "../sdk/resource.js";
import { runPolicyStage, type ComplianceOptions } from "../policy/stage.js";
import type { RecordedResource, Store } from "../state/store.js";
import { applyPlan, pastTense, type ApplyContext, type ApplyProgress, type ApplyResult, type ChangeOutcome } from "./apply/apply.js";
import { isHook, runHooks } from "./apply/hooks.js";
import { waitUntilHealthy } from "./apply/sync-waves.js";
import { changeAuditContext } from "./record/audit-events.js";
import { recordHealth } from "./record/health.js";
import { finishRun, startRun } from "./record/runs.js";
import { parseDuration } from "../schedule.js";
import type { ProviderConnections } from "./connections.js";
import { asResourceError, observe, type ObserveTarget } from "./observe/observe.js";
import { createPlan, type Plan, type ResourceChange } from "./plan/plan.js";

export interface SyncOverrides {
  prune?: boolean;
  allowEmpty?: boolean;
}

export interface PlannedStack {
  plan: Plan;
  live: Map<string, LiveObject | null>;
  /** Resources that run around a sync (plumb.dev/hook), not planned. */
  hooks: DesiredResource[];
  /** Resources whose recorded health this observe changed. */
  healthChanged: number;
}

export async function planStack(
  rendered: RenderedStack,
  store: Store,
  connections: ProviderConnections,
  overrides: SyncOverrides = {},
  compliance?: ComplianceOptions,
): Promise<PlannedStack> {
  const stack = rendered.definition.name;
  const recorded = await store.listResources(stack);
  const recordedByAddress = new Map(recorded.map((record) => [record.address, record]));
  const resources = resolveOutputReferences(rendered.resources, recordedByAddress, connections);
  // Policy runs before any live system is read: a denied stack costs no observe.
  const digested = await withDigests(resources, stack, connections.secrets);
  const policy = runPolicyStage(
    rendered,
    digested,
    recordedByAddress,
    compliance,
    (resource) => connections.handler(resource.apiVersion, resource.kind).tagField,
  );
  // Hooks run around a sync (apply/hooks.ts); they are never planned, observed for drift or pruned while declared.
  const hookAddresses = new Set(policy.resources.filter(isHook).map((resource) => resource.address));
  const hooks = policy.resources.filter((resource) => hookAddresses.has(resource.address));
  const desired = policy.resources.filter((resource) => !hookAddresses.has(resource.address));
  const recordedKept = recorded.filter((record) => !hookAddresses.has(record.address));
  const warnings = policy.findings.map((violation) => `policy rule ${violation.rule} (${violation.level}): ${violation.message}`);
  // Observe finds each object by what was applied last and reads it in the spelling of what is wanted now (tags included).
  const desiredByAddress = new Map(desired.map((resource) => [resource.address, resource]));
  const targets: ObserveTarget[] = resources
    .filter((resource) => !hookAddresses.has(resource.address))
    .map((resource) => ({
      ...resource,
      spec: recordedByAddress.get(resource.address)?.appliedSpec ?? resource.spec,
      desired: desiredByAddress.get(resource.address)?.spec ?? resource.spec,
    }));
  for (const record of recordedKept) {
    if (!desiredByAddress.has(record.address)) targets.push(targetOfRecord(record));
  }
  const observation = await observe(targets, connections);
  if (observation.errors.length > 0) throw new PlumbErrorList(observation.errors);
  const healthChanged = await recordHealth(store, recordedKept, observation.live, (record) => connections.handler(record.apiVersion, record.kind));
  const plan = createPlan({
    stack,
    environment: rendered.definition.environment ?? null,
    digest: rendered.digest,
    desired,
    recorded: recordedKept,
    live: observation.live,
    replaceOn: (apiVersion, kind) => connections.handler(apiVersion, kind).replaceOn ?? [],
    tagField: (apiVersion, kind) => connections.handler(apiVersion, kind).tagField,
    ownsObjects: (apiVersion, kind) => connections.handler(apiVersion, kind).ownsObjects !== false,
    sync: {
      prune: overrides.prune ?? rendered.definition.sync.prune,
      allowEmpty: overrides.allowEmpty ?? rendered.definition.sync.allowEmpty,
      ...(rendered.definition.sync.ignoreDifferences === undefined ? {} : { ignoreDifferences: rendered.definition.sync.ignoreDifferences }),
    },
  });
  plan.warnings.push(...warnings);
  if (hooks.length > 0) plan.hooks = hooks.map((hook) => ({ address: hook.address, phases: hookPhasesOf(hook.annotations) }));
  return { plan, live: observation.live, healthChanged, hooks };
}

/**
 * Puts the values of output references in, in dependency order: what the
 * referenced resource's kind knows from its (resolved) desired spec, else the
 * outputs recorded when it was last applied.
 */
function resolveOutputReferences(
  resources: readonly DesiredResource[],
  recorded: Map<string, RecordedResource>,
  connections: ProviderConnections,
): DesiredResource[] {
  const resolved = new Map<string, DesiredResource>();
  const errors: PlumbError[] = [];
  const lookup = (address: string, output: string): JsonValue | undefined => {
    const target = resolved.get(address);
    const predicted = target === undefined ? undefined : connections.handler(target.apiVersion, target.kind).outputs?.(target.spec, target.name)[output];
    return predicted ?? recorded.get(address)?.outputs[output];
  };
  for (const resource of resources) {
    if (!containsOutputReference(resource.spec)) {
      resolved.set(resource.address, resource);
      continue;
    }
    const { spec, unresolved } = substituteOutputReferences(resource.spec, lookup);
    for (const reference of unresolved) {
      errors.push(
        new PlumbError(
          "PLUMB_REFERENCE",
          `spec.${reference.path.join(".")} takes output "${reference.output}" of ${reference.resource}, which is not known yet`,
          {
            location: { resource: resource.address },
            hint: `${reference.resource} must be applied before its "${reference.output}" is known; check the output's name`,
          },
        ),
      );
    }
    resolved.set(resource.address, { ...resource, spec });
  }
  if (errors.length > 0) throw new PlumbErrorList(errors);
  return resources.map((resource) => resolved.get(resource.address) as DesiredResource);
}

/**
 * Secret references in desired specs get the salted digest of their current
 * value, so a rotated secret shows up as a change; the value never leaves here.
 */
async function withDigests(resources: readonly DesiredResource[], stack: string, secrets: SecretResolver): Promise<DesiredResource[]> {
  const errors: PlumbError[] = [];
  const result = await Promise.all(
    resources.map(async (resource) => {
      if (!containsSecretReference(resource.spec)) return resource;
      try {
        return { ...resource, spec: await withSecretDigests(resource.spec, `${stack}/${resource.address}`, secrets) };
      } catch (error) {
        errors.push(asResourceError(error, resource.address));
        return resource;
      }
    }),
  );
  if (errors.length > 0) throw new PlumbErrorList(errors);
  return result;
}

function targetOfRecord(record: RecordedResource): ObserveTarget {
  return { address: record.address, apiVersion: record.apiVersion, kind: record.kind, name: record.name, provider: record.provider, spec: record.appliedSpec };
}

export interface ApplyRunOptions {
  trigger: string;
  revision: string | null;
  /** Author and message of `revision`, for the audit trail. */
  commit?: { author: string; message: string };
  /** Who asked, when a person did (a token's name). */
  actor?: string | null;
  /** Aborts a wait for a sync wave's health (the agent is stopping). */
  signal?: AbortSignal;
  onProgress?: (progress: ApplyProgress) => void;
}

export interface AppliedRun {
  runId: string;
  result: ApplyResult;
}

/** Applies a plan inside a run record: the run is `running` until it ends, so a killed run is visible. */
export async function applyStackPlan(
  rendered: RenderedStack,
  planned: PlannedStack,
  store: Store,
  connections: ProviderConnections,
  options: ApplyRunOptions,
): Promise<AppliedRun> {
  const stack = rendered.definition.name;
  const summary = planned.plan.summary;
  const runId = await startRun(store, rendered, summary, { trigger: options.trigger, revision: options.revision, actor: options.actor ?? null });
  try {
    const context: ApplyContext = {
      store,
      connections,
      stack,
      runId,
      concurrency: rendered.definition.sync.concurrency,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(rendered.definition.sync.healthTimeout === undefined
        ? {}
        : { waveHealthTimeoutMs: parseDuration(rendered.definition.sync.healthTimeout, `stack ${stack}: sync.healthTimeout`) }),
      live: planned.live,
      audit: changeAuditContext(options),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    };
    const result = await applyWithHooks(planned, context);
    await finishRun(store, stack, runId, summary, result);
    return { runId, result };
  } catch (error) {
    await finishRun(store, stack, runId, summary, error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/**
 * The apply with the stack's hooks around it, when it changes anything: the
 * pre-sync hooks first (one that fails stops the sync before any change),
 * then the changes, then — once every changed resource is healthy — the
 * post-sync hooks; a change or a hook that fails, or a changed resource that
 * stays unhealthy before the post-sync hooks, runs the sync-failed hooks.
 */
async function applyWithHooks(planned: PlannedStack, context: ApplyContext): Promise<ApplyResult> {
  const work = planned.plan.changes.filter((change): change is ResourceChange & { action: keyof typeof pastTense } => change.action in pastTense);
  if (planned.hooks.length === 0 || work.length === 0) return applyPlan(planned.plan, context);
  const hookOutcomes: ChangeOutcome[] = [];
  const phase = async (name: HookPhase): Promise<string | undefined> => {
    const run = await runHooks(name, planned.hooks, context);
    hookOutcomes.push(...run.outcomes);
    return run.failure;
  };
  let failure = await phase("pre-sync");
  let result: ApplyResult;
  if (failure !== undefined) {
    const held = new PlumbError("PLUMB_DEPENDENCY_FAILED", `not applied: ${failure}`, {
      location: { stack: context.stack },
      hint: "fix the hook and sync again",
    });
    const skipped = work.map((change): ChangeOutcome => ({ address: change.address, action: change.action, status: "skipped", error: held }));
    await context.store.appendEvents(
      work.map((change) => ({ stack: context.stack, runId: context.runId, address: change.address, type: "resource.skipped", message: held.message })),
    );
    result = { outcomes: skipped, succeeded: 0, failed: 0, skipped: skipped.length, recorded: 0, orphaned: 0 };
  } else {
    result = await applyPlan(planned.plan, context);
    if (result.failed > 0) failure = `${result.failed} change(s) failed`;
    // Post-sync hooks wait for health; without any, health is the drift loop's to follow, as for any stack.
    else if (planned.hooks.some((hook) => hookPhasesOf(hook.annotations).includes("post-sync"))) {
      const applied = work.filter((change) => change.action !== "delete");
      const unhealthy = await waitUntilHealthy(applied, context.connections, context.waveHealthTimeoutMs ?? 600_000, context.signal);
      failure = unhealthy === undefined ? await phase("post-sync") : `not healthy: ${unhealthy}`;
    }
  }
  if (failure !== undefined) await phase("sync-failed");
  const outcomes = [...hookOutcomes, ...result.outcomes];
  const failed = outcomes.filter((outcome) => outcome.status === "failed").length;
  return {
    ...result,
    outcomes,
    succeeded: outcomes.filter((outcome) => outcome.status === "succeeded").length,
    // Changed resources that never became healthy fail the sync, though each change itself succeeded.
    failed: failure !== undefined && failed === 0 ? 1 : failed,
  };
}
