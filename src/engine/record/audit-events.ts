// The record stage's audit events, every kind built here and nowhere else:
// one per change made (and one more when the change rotated a secret), for
// apply and for the recovery of an interrupted run, with secret values
// redacted; a policy denial; drift left in place; a person's action.

import { userInfo } from "node:os";
import type { PlumbError } from "../../errors.js";
import { isSecretReference } from "../../secrets/references.js";
import type { JsonObject } from "../../sdk/resource.js";
import { redactSecrets, type AuditInput } from "../../state/audit.js";
import type { JournalAudit } from "../../state/store.js";
import type { ResourceChange } from "../plan/plan.js";

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

/** A commit's identity on the audit trail: the revision, and its author and subject when the mirror knows them. */
export interface AuditCommit {
  revision: string | null;
  author?: string;
  message?: string;
}

function commitFields(commit: AuditCommit): Pick<AuditInput, "commit" | "author" | "commitMessage"> {
  return { commit: commit.revision, author: commit.author ?? null, commitMessage: commit.message ?? null };
}

/** One event per resource a policy rule denied, with the rule's message and the file and line of the resource. */
export function auditOfPolicyDenial(
  stack: string,
  actor: string,
  commit: AuditCommit,
  denials: readonly PlumbError[],
  kind: "policy.denied" | "project.denied" = "policy.denied",
): AuditInput[] {
  return denials.map((problem) => ({
    kind,
    actor,
    stack,
    resource: problem.location.resource ?? null,
    ...commitFields(commit),
    summary: {
      message: problem.message,
      ...(problem.location.file === undefined ? {} : { file: problem.location.file }),
      ...(problem.location.line === undefined ? {} : { line: problem.location.line }),
    },
  }));
}

/** One event per drifted resource the stack's policy left in place, with the fields that differ. */
export function auditOfDriftLeft(stack: string, commit: AuditCommit, drifted: Readonly<Record<string, readonly string[]>>): AuditInput[] {
  return Object.entries(drifted).map(([address, fields]) => ({
    kind: "drift.detected",
    actor: "agent",
    stack,
    resource: address,
    ...commitFields(commit),
    summary: { fields: [...fields], healed: false },
  }));
}

/** A person's action through the API (sync, refresh, suspend, resume, rollback, a token made); `stack` is "(api)" for none. */
/** A person signed in through single sign-on, or out: who, and the groups their roles came from. */
export function auditOfSession(kind: "sign-in" | "sign-out", person: string, groups: readonly string[]): AuditInput {
  return { kind, actor: person, stack: "(api)", resource: null, commit: null, author: null, commitMessage: null, summary: { groups: [...groups] } };
}

export function auditOfAction(actor: string, stack: string, action: string, details: JsonObject = {}): AuditInput {
  return { kind: "action", actor, stack, resource: null, commit: null, author: null, commitMessage: null, summary: { action, ...details } };
}
