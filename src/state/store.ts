// The state store interface: one contract for the engine, agent and CLI, over
// the embedded SQLite store through Kysely (a PostgreSQL backend is to share the queries).

import type { HealthStatus } from "../sdk/provider.js";
import type { AuditEvent, AuditHead, AuditInput, AuditKind } from "./audit.js";
import type { DeletionPolicy, JsonObject } from "../sdk/resource.js";
import type { Leases } from "./leases.js";
import type { NotificationQueue } from "./notification-queue.js";
import type { StoreChannel } from "./notifications.js";

export type ChangeAction = "create" | "update" | "replace" | "delete";

export type ResourceStatus = "Synced" | "Failed";

/** What the store remembers of one resource after Plumb applied or adopted it. */
export interface RecordedResource {
  stack: string;
  address: string;
  apiVersion: string;
  kind: string;
  name: string;
  provider: string;
  /** The spec Plumb last applied. */
  appliedSpec: JsonObject;
  /** Leaf paths of `appliedSpec` Plumb manages (`/content`, `/mode`). */
  managedFields: string[];
  outputs: JsonObject;
  /** sha256 of the live spec as last observed. */
  liveHash: string | null;
  status: ResourceStatus;
  health: HealthStatus;
  dependsOn: string[];
  /** False when the resource is protected from pruning. */
  prune: boolean;
  deletionPolicy: DeletionPolicy;
  lastRunId: string | null;
  updatedAt: string;
}

export type RunResult = "running" | "succeeded" | "failed" | "interrupted";

export interface PlanSummary {
  create: number;
  update: number;
  replace: number;
  delete: number;
  /** Left in place and no longer managed (deletion policy Retain). */
  orphan: number;
  retain: number;
  noop: number;
}

export interface RunRecord {
  id: string;
  stack: string;
  /** What started the run: `cli`, `poll`, `webhook`, `api`, `drift`, `rollback`, `platform`. */
  trigger: string;
  /** The commit, when the source is a git checkout. */
  revision: string | null;
  /** Hash of the rendered desired graph. */
  digest: string;
  environment: string | null;
  planSummary: PlanSummary | null;
  result: RunResult;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** Who asked: a token's name for API actions; null for automatic runs. */
  actor: string | null;
}

export type JournalState = "pending" | "applied" | "failed" | "resolved";

export interface JournalIntent {
  apiVersion: string;
  kind: string;
  name: string;
  provider: string;
  /** The spec that identifies the object to act on (recorded identity for deletes and replaces). */
  targetSpec: JsonObject;
  /** The spec being applied; absent for deletes. */
  desiredSpec?: JsonObject;
  dependsOn: string[];
  prune: boolean;
  deletionPolicy: DeletionPolicy;
  /** Who made the change and why, so recovery can put an interrupted change on the audit trail. */
  audit?: JournalAudit;
  /** A sync hook's change: recovery puts it on the audit trail but never records a resource. */
  hook?: boolean;
}

/** The audit context of a journaled change (the engine's ChangeAuditContext). */
export interface JournalAudit {
  kind: AuditKind;
  actor: string;
  trigger: string;
  commit: string | null;
  author: string | null;
  commitMessage: string | null;
}

export interface JournalEntry {
  id: string;
  runId: string;
  stack: string;
  address: string;
  action: ChangeAction;
  intent: JournalIntent;
  state: JournalState;
  outcome: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EventInput {
  stack: string;
  runId: string | null;
  address: string | null;
  type: string;
  message: string;
  data?: JsonObject;
}

export interface StoredEvent extends EventInput {
  createdAt: string;
}

export interface EventRecord extends EventInput {
  id: number;
  createdAt: string;
}

export interface StackRecord {
  name: string;
  directory: string | null;
  environment: string | null;
  definition: JsonObject;
  updatedAt: string;
}

export interface LockHolder {
  holder: string;
  acquiredAt: string;
  expiresAt: string;
}

export type ConditionType = "Ready" | "Reconciling" | "Stalled" | "Degraded";

/** Flux-style status condition. */
export interface Condition {
  type: ConditionType;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/** Fields that differ between desired and live, found by a drift check. */
export interface DriftSummary {
  checkedAt: string;
  /** Resource address → JSON pointers of the fields that drifted (or "missing"). */
  resources: Record<string, string[]>;
  healed: boolean;
}

/** The agent's view of a stack. */
export interface StackStatus {
  stack: string;
  suspended: boolean;
  conditions: Condition[];
  lastAppliedRevision: string | null;
  lastAttemptedRevision: string | null;
  /** Digest of the render last applied, to find it again for drift checks and rollbacks. */
  lastAppliedDigest: string | null;
  drift: DriftSummary | null;
  updatedAt: string;
}

/** A render kept so that drift checks and rollbacks can use it without the source. */
export interface RenderRecord {
  stack: string;
  digest: string;
  revision: string | null;
  rendered: JsonObject;
  createdAt: string;
}

/** viewer reads; operator also syncs, refreshes, suspends, resumes and rolls back; admin also manages tokens; platform-admin all of it everywhere. */
export const tokenRoles = ["viewer", "operator", "admin", "platform-admin"] as const;
export type TokenRole = (typeof tokenRoles)[number];

export interface ApiToken {
  id: string;
  name: string;
  role: TokenRole;
  /** The project the token is for; null: every project (a platform-wide viewer, operator or admin). */
  project: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  /** Who created it: a token's name, or null for the bootstrap token. */
  createdBy: string | null;
}

/** A person signed in through single sign-on; the cookie's value is never stored, only its hash. */
export interface UserSession {
  subject: string;
  name: string;
  groups: string[];
  csrf: string;
  createdAt: string;
  expiresAt: string;
}

/** What to do to the resources table when a journal entry completes. */
export type ResourceEffect = { put: RecordedResource } | { remove: { stack: string; address: string } } | { none: true };

export interface Store {
  close(): Promise<void>;

  /** Leases, agents and handed-over actions: how several agents share the stacks. */
  readonly leases: Leases;
  /** Messages for the platform's notification sinks. */
  readonly notificationQueue: NotificationQueue;
  /** Hears what any process on the store signals (LISTEN/NOTIFY on PostgreSQL); a hint to look now, never the only path. */
  listen(channel: StoreChannel, listener: (payload: string) => void): () => void;

  saveStack(stack: Omit<StackRecord, "updatedAt">): Promise<void>;
  listStacks(): Promise<StackRecord[]>;

  listResources(stack: string): Promise<RecordedResource[]>;
  getResource(stack: string, address: string): Promise<RecordedResource | undefined>;
  /** Upserts many records in one transaction, with the audit events that record why (plumb import). */
  putResources(records: readonly RecordedResource[], audit?: readonly AuditInput[]): Promise<void>;
  /** Forgets records without touching the live objects (they are no longer managed). */
  removeResources(stack: string, addresses: readonly string[]): Promise<void>;

  /**
   * Takes the stack's lock unless someone else holds an unexpired one that
   * `canSteal` does not release; returns the current holder when refused.
   */
  acquireLock(
    stack: string,
    holder: string,
    ttlMs: number,
    canSteal: (current: LockHolder) => boolean,
  ): Promise<{ acquired: true } | { acquired: false; current: LockHolder }>;
  renewLock(stack: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLock(stack: string, holder: string): Promise<void>;

  createRun(run: RunRecord): Promise<void>;
  finishRun(id: string, result: Exclude<RunResult, "running">, error: string | null, planSummary: PlanSummary | null): Promise<void>;
  /** Marks runs left `running` by a process that died as interrupted; returns their ids. */
  interruptRuns(stack: string): Promise<string[]>;
  /** Newest first; `stack` undefined lists every stack's runs (the fleet's recent activity). */
  /** Newest first: of one stack, of several, or of every stack. */
  listRuns(stack: string | readonly string[] | undefined, limit: number): Promise<RunRecord[]>;

  /** Writes an intent before a change is made. */
  addJournalEntry(entry: Omit<JournalEntry, "id" | "createdAt" | "updatedAt" | "state" | "outcome">): Promise<string>;
  /** Records a change's outcome and its effect on the resources table atomically. */
  /** Ends a journal entry, applies its effect on the resource records and appends its audit events, all in one transaction. */
  completeJournalEntry(
    id: string,
    state: Exclude<JournalState, "pending">,
    outcome: string,
    effect: ResourceEffect,
    audit?: readonly AuditInput[],
  ): Promise<void>;
  pendingJournalEntries(stack: string): Promise<JournalEntry[]>;
  listJournal(stack: string, runId?: string): Promise<JournalEntry[]>;

  appendEvents(events: readonly EventInput[]): Promise<void>;
  /** Calls `listener` with appended events, in order: this process's on SQLite, every agent's on PostgreSQL (the live event stream); returns the unsubscribe. */
  onEvents(listener: (events: readonly StoredEvent[]) => void): () => void;
  listEvents(stack: string, limit: number): Promise<EventRecord[]>;
  /** Events of every stack after `afterId`, oldest first, for the event stream. */
  eventsAfter(afterId: number, limit: number): Promise<EventRecord[]>;

  getStackStatus(stack: string): Promise<StackStatus | undefined>;
  listStackStatuses(): Promise<StackStatus[]>;
  /** Writes everything but `suspended`, which only setSuspended changes once the row exists. */
  putStackStatus(status: Omit<StackStatus, "updatedAt">): Promise<void>;
  setSuspended(stack: string, suspended: boolean): Promise<void>;
  /** Every status write on the store, as onEvents is for events. */
  onStatus(listener: (status: StackStatus) => void): () => void;
  removeStack(stack: string): Promise<void>;

  /** Keeps a render once per stack and digest. */
  saveRender(render: Omit<RenderRecord, "createdAt">): Promise<void>;
  getRender(stack: string, digest: string): Promise<RenderRecord | undefined>;

  /** Stores a token by its hash only. */
  createToken(token: ApiToken, tokenHash: string): Promise<void>;
  /** The token with this hash, revoked and expired ones included (the caller says why they are refused). */
  findToken(tokenHash: string): Promise<ApiToken | undefined>;
  countTokens(): Promise<number>;
  /** Every token (never its value or hash), oldest first. */
  listTokens(): Promise<ApiToken[]>;
  /** Marks a token revoked; false when there is none by that name or it is revoked already. */
  revokeToken(name: string, at: string): Promise<boolean>;
  markTokenUsed(id: string, at: string): Promise<void>;
  createSession(idHash: string, session: UserSession): Promise<void>;
  /** The session with this hash, unless it has expired (expired ones are removed when a new session is made). */
  findSession(idHash: string, now: string): Promise<UserSession | undefined>;
  deleteSession(idHash: string): Promise<UserSession | undefined>;

  /** Appends to the audit hash chain, in order, atomically. */
  appendAudit(events: readonly AuditInput[]): Promise<void>;
  /** Audit events in chain order, after `afterSequence`, optionally from a time or for a stack. */
  listAudit(filter: AuditFilter): Promise<AuditEvent[]>;
  auditHead(): Promise<AuditHead | undefined>;
  /** Events per UTC day and kind at or after `since` (ISO), for charts over a fleet's whole trail. */
  countAuditByDay(since: string, stacks?: readonly string[]): Promise<{ day: string; kind: string; count: number }[]>;
}

export interface AuditFilter {
  afterSequence?: number;
  /** ISO timestamp: events at or after it. */
  since?: string;
  /** One stack, or any of several (what the caller may see). */
  stack?: string | readonly string[];
  resource?: string;
  /** ISO timestamp: events before it. */
  until?: string;
  /** Events before this sequence number (paging newest first). */
  beforeSequence?: number;
  /** One kind, or any of several. */
  kind?: string | readonly string[];
  actor?: string;
  limit: number;
  /** Newest first instead of chain order: the latest changes without reading the whole trail. */
  newestFirst?: boolean;
}
