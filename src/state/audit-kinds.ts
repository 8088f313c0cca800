// The kinds of event on the audit trail, apart from the chain's code so the
// dashboard (a browser bundle) lists the same kinds the server filters by.

export const auditKinds = [
  /** An apply from a commit, a manual sync or the CLI. */
  "change.intentional",
  /** Drift reverted by self-heal. */
  "change.corrective",
  /** Changes applied by a rollback to an earlier revision. */
  "change.rollback",
  /** Drift found and left in place. */
  "drift.detected",
  /** A person acted through the API: sync, refresh, suspend, resume, rollback, token. */
  "action",
  "policy.denied",
  /** A person signed in to the dashboard through single sign-on, or out. */
  "sign-in",
  "sign-out",
  /** A stack tried something outside its project (a provider instance, kind, secret, namespace, database or role). */
  "project.denied",
  /** A secret's value changed in its store and the resources using it were updated; never the value. */
  "secret.rotated",
  /** An existing object recorded as managed by plumb import. */
  "resource.imported",
] as const;
export type AuditKind = (typeof auditKinds)[number];
