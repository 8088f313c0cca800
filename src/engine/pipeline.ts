// Runs the stages in order for one stack: policy, observe and plan against a
// rendered stack (observe/, plan/), and apply (apply/) inside a run record
// (record/). The CLI and the agent call these instead of wiring the stages
// themselves.

import { PlumbError, PlumbErrorList } from "../errors.js";
import { containsOutputReference, substituteOutputReferences } from "../render/output-references.js";
import type { DesiredResource, RenderedStack } from "../stack-model.js";
import { containsSecretReference, withSecretDigests, type SecretResolver } from "../secrets/references.js";
import type { LiveObject } from "../sdk/provider.js";
import type { JsonValue } from "../sdk/resource.js";
import { runPolicyStage, type ComplianceOptions } from "../policy/stage.js";
import type { RecordedResource, Store } from "../state/store.js";
import { applyPlan, type ApplyProgress, type ApplyResult } from "./apply/apply.js";
import { changeAuditContext } from "./record/audit-events.js";
import { recordHealth } from "./record/health.js";
import { finishRun, startRun } from "./record/runs.js";
import { parseDuration } from "../schedule.js";
import type { ProviderConnections } from "./connections.js";
import { asResourceError, observe, type ObserveTarget } from "./observe/observe.js";
import { createPlan, type Plan } from "./plan/plan.js";

export interface SyncOverrides {
  prune?: boolean;
  allowEmpty?: boolean;
}

export interface PlannedStack {
  plan: Plan;
  live: Map<string, LiveObject | null>;
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
  const desired = policy.resources;
  const warnings = policy.findings.map((violation) => `policy rule ${violation.rule} (${violation.level}): ${violation.message}`);
  // Observe finds each object by what was applied last and reads it in the spelling of what is wanted now (tags included).
  const desiredByAddress = new Map(desired.map((resource) => [resource.address, resource]));
  const targets: ObserveTarget[] = resources.map((resource) => ({
    ...resource,
    spec: recordedByAddress.get(resource.address)?.appliedSpec ?? resource.spec,
    desired: desiredByAddress.get(resource.address)?.spec ?? resource.spec,
  }));
  for (const record of recorded) {
    if (!desiredByAddress.has(record.address)) targets.push(targetOfRecord(record));
  }
  const observation = await observe(targets, connections);
  if (observation.errors.length > 0) throw new PlumbErrorList(observation.errors);
  const healthChanged = await recordHealth(store, recorded, observation.live, (record) => connections.handler(record.apiVersion, record.kind));
  const plan = createPlan({
    stack,
    environment: rendered.definition.environment ?? null,
    digest: rendered.digest,
    desired,
    recorded,
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
  return { plan, live: observation.live, healthChanged };
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
    const result = await applyPlan(planned.plan, {
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
    });
    await finishRun(store, stack, runId, summary, result);
    return { runId, result };
  } catch (error) {
    await finishRun(store, stack, runId, summary, error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}
