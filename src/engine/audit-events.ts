// The record stage's audit events for changes: one per change made (and one
// more when the change rotated a secret), built in one place for apply and for
// the recovery of an interrupted run, with secret values redacted.

import { userInfo } from "node:os";
import { isSecretReference } from "../secrets/references.js";
import type { JsonObject } from "../sdk/resource.js";
import { redactSecrets, type AuditInput } from "../state/audit.js";
import type { JournalAudit } from "../state/store.js";
import type { ResourceChange } from "./plan.js";

/** Who made a run's changes and why; kept in each journal entry (as its `audit`) so recovery can record them. */
export type ChangeAuditContext = JournalAudit;

export function changeAuditContext(options: {
  trigger: string;
  revision: string | null;
  actor?: string | null;
  commit?: { author: string; message: string };
}): ChangeAuditContext {
  return {
    kind: options.trigger === "drift" ? "change.corrective" : options.trigger === "rollback" ? "change.rollback" : "change.intentional",
    actor: options.actor ?? (options.trigger === "cli" ? `cli:${userInfo().username}` : "agent"),
    trigger: options.trigger,
    commit: options.revision,
    author: options.commit?.author ?? null,
    commitMessage: options.commit?.message ?? null,
  };
}

function valueAtPointer(value: unknown, pointer: string): unknown {
  let node = value;
  for (const segment of pointer
    .split("/")
    .slice(1)
    .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"))) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

/** The audit events of one change that was made: the change, and a rotation for each secret reference whose digest moved. */
export function auditOfChange(change: ResourceChange, stack: string, context: ChangeAuditContext): AuditInput[] {
  const base = { actor: context.actor, stack, resource: change.address, commit: context.commit, author: context.author, commitMessage: context.commitMessage };
  // A changed digest of a secret reference on an existing resource: the secret was rotated in its store.
  const rotations: AuditInput[] =
    change.action === "create"
      ? []
      : change.diffs.flatMap((diff) => {
          if (!diff.path.endsWith("/digest")) return [];
          const reference = valueAtPointer(change.desiredSpec, diff.path.slice(0, -"/digest".length));
          if (!isSecretReference(reference)) return [];
          return [
            { ...base, kind: "secret.rotated" as const, summary: { field: diff.path.slice(0, -"/digest".length), secretRef: { ...reference.secretRef } } },
          ];
        });
  const summary: JsonObject = {
    action: change.action,
    trigger: context.trigger,
    reason: change.reason,
    fields: change.diffs.map((diff) => {
      const field = diff.path.split("/").pop() ?? "";
      return { path: diff.path, before: redactSecrets(diff.before, field), after: redactSecrets(diff.after, field) };
    }),
  };
  return [...rotations, { ...base, kind: context.kind, summary }];
}

/** The audit event for a change an interrupted run made, found and adopted by recovery. */
export function auditOfRecovered(
  stack: string,
  address: string,
  action: string,
  resolution: string,
  message: string,
  context: ChangeAuditContext | undefined,
): AuditInput {
  return {
    kind: context?.kind ?? "change.intentional",
    actor: context?.actor ?? "agent",
    stack,
    resource: address,
    commit: context?.commit ?? null,
    author: context?.author ?? null,
    commitMessage: context?.commitMessage ?? null,
    summary: { action, trigger: context?.trigger ?? "unknown", recovered: true, resolution, reason: message, fields: [] },
  };
}
