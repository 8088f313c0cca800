// What the agent's parts share about its stacks: the store, the status book,
// the platform, the managed stacks, and the facts every part looks up the
// same way (the render applied last, a commit's author, what the policy stage
// needs, a failure as a PlumbError).

import type { Logger } from "pino";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import type { ComplianceOptions } from "../policy/stage.js";
import type { ProviderRegistry } from "../providers/registry.js";
import type { AdmissionEndpoint } from "../render/admission-guards.js";
import type { RenderedStack } from "../stack-model.js";
import type { SandboxLimits } from "../render/sandbox.js";
import { redactUrl, type GitMirrors } from "../source/git.js";
import { storeError } from "../state/sqlite.js";
import type { Store } from "../state/store.js";
import type { ManagedStack } from "./managed-stack.js";
import type { AgentMetrics } from "./metrics.js";
import type { PlatformSource } from "./platform-source.js";
import { stackOrigin, type PlatformOrigin, type SshSettings, type StackOrigin } from "./platform.js";
import type { StackStatusBook } from "./stack-status.js";

export interface StackContext {
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
  /** The agent's admission webhook, for stacks with sync.preventDrift; undefined when it serves none. */
  admission: AdmissionEndpoint | undefined;
  metrics: AgentMetrics;
  logger: Logger;
  /** Aborted when the agent stops: work that waits (a sync wave's health) gives up. */
  stopping?: AbortSignal;
}

/** The render applied last: kept in memory, else read back from the store after a restart. */
export async function appliedRender(context: StackContext, name: string, managed: ManagedStack): Promise<RenderedStack | undefined> {
  if (managed.applied !== undefined) return managed.applied;
  const status = await context.book.status(name);
  if (status.lastAppliedDigest === null) return undefined;
  const record = await context.store.getRender(name, status.lastAppliedDigest);
  managed.applied = record === undefined ? undefined : (record.rendered as unknown as RenderedStack);
  return managed.applied;
}

/** Author and subject of a commit the mirror holds; undefined for local sources or unknown commits. */
export async function commitOf(context: StackContext, managed: ManagedStack, revision: string): Promise<{ author: string; message: string } | undefined> {
  if (managed.origin?.kind !== "git") return undefined;
  try {
    const info = await context.mirrors.commitInfo(managed.origin.source, revision);
    return { author: `${info.author} <${info.email}>`, message: info.message };
  } catch {
    return undefined;
  }
}

/** What the policy stage needs for this stack at `revision`; undefined without a CompliancePolicy. */
export async function complianceFor(context: StackContext, managed: ManagedStack, revision: string): Promise<ComplianceOptions | undefined> {
  const policy = context.platform.policy;
  if (policy === undefined) return undefined;
  managed.origin ??= await stackOrigin(managed.platform, context.origin, context.platform.secrets, context.ssh);
  const origin = managed.origin;
  if (origin.kind === "local") return { policy, source: origin.directory, commit: null };
  const commit = await commitOf(context, managed, revision);
  return { policy, source: sourceLabel(origin), commit: { sha: revision, author: commit?.author ?? "" } };
}

/** Where a stack comes from, as people read it: a directory, or a repository URL (credentials removed) and path. */
export function sourceLabel(origin: StackOrigin): string {
  if (origin.kind === "local") return origin.directory;
  return `${redactUrl(origin.source.url)}${origin.path === "." ? "" : `#${origin.path}`}`;
}

/**
 * A lost lease is not the stack's failure and says nothing about it: the job
 * ends at once, recording nothing, and the agent that holds the stack now
 * carries on. Called first in every catch of a job.
 */
export function rethrowLeaseLoss(error: unknown): void {
  const problems = error instanceof PlumbErrorList ? error.errors : [error];
  const lost = problems.find((problem) => problem instanceof PlumbError && problem.code === "PLUMB_LEASE_LOST");
  if (lost !== undefined) throw lost;
}

export function asPlumbError(error: unknown, stack: string): PlumbError {
  if (error instanceof PlumbError) return error;
  // The store's own failures (a full disk, a damaged file) say so, not "provider operation".
  if (typeof error === "object" && error !== null && "code" in error && String(error.code).startsWith("SQLITE_")) return storeError(error, "the state store");
  return new PlumbError("PLUMB_PROVIDER_OPERATION", errorMessage(error), { location: { stack }, cause: error });
}
