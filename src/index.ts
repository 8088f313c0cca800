// Plumb as a library: the stages the CLI and the agent wire together.

export { PlumbError, PlumbErrorList, errorMessage } from "./errors.js";
export { renderStack, type RenderOptions } from "./render/load-stack.js";
export type { DesiredResource, RenderedClaim, RenderedStack } from "./stack-model.js";
export { loadPlatformLibrary, type CompositeKind, type PlatformLibrary } from "./render/platform-library.js";
export { defaultSandboxLimits, type SandboxLimits } from "./render/sandbox.js";
export { defaultRegistry, ProviderRegistry } from "./providers/registry.js";
export { ProviderConnections } from "./engine/connections.js";
export { planStack, applyStackPlan, type PlannedStack, type SyncOverrides } from "./engine/pipeline.js";
export { createPlan, planHasChanges, type Plan, type ResourceChange } from "./engine/plan/plan.js";
export { formatPlan, type PlanFormat } from "./engine/plan/plan-format.js";
export { resolvePendingJournal } from "./engine/apply/recover.js";
export { withStackLock } from "./engine/apply/lock.js";
export { openSqliteStore } from "./state/sqlite.js";
export { scanPlatform, type PlatformScan, type PlatformStack } from "./agent/platform.js";
export type { Store, RecordedResource, RunRecord, JournalEntry, EventRecord } from "./state/store.js";
export type { AnyProvider, KindHandler, LiveObject, ProviderDefinition, Target } from "./sdk/provider.js";
