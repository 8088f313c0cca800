// Table shapes as Kysely sees them. JSON columns are stored as text so the same
// queries serve SQLite and PostgreSQL.

import type { Generated } from "kysely";

export interface StacksTable {
  name: string;
  directory: string | null;
  environment: string | null;
  definition: string;
  updated_at: string;
}

export interface ResourcesTable {
  stack: string;
  address: string;
  api_version: string;
  kind: string;
  name: string;
  provider: string;
  applied_spec: string;
  managed_fields: string;
  outputs: string;
  live_hash: string | null;
  status: string;
  health: string;
  depends_on: string;
  prune: number;
  deletion_policy: string;
  last_run_id: string | null;
  updated_at: string;
}

export interface RunsTable {
  id: string;
  stack: string;
  trigger: string;
  revision: string | null;
  digest: string;
  environment: string | null;
  plan_summary: string | null;
  result: string;
  error: string | null;
  started_at: string;
  finished_at: string | null;
  actor: string | null;
  /** The agent that ran it (its --agent-name), null for the CLI. */
  agent: string | null;
}

export interface JournalTable {
  id: string;
  run_id: string;
  stack: string;
  address: string;
  action: string;
  intent: string;
  state: string;
  outcome: string | null;
  created_at: string;
  updated_at: string;
  /** The lease epoch the entry was written under; null outside an agent's lease (the CLI). */
  epoch: number | null;
}

export interface EventsTable {
  id: Generated<number>;
  stack: string;
  run_id: string | null;
  address: string | null;
  type: string;
  message: string;
  data: string | null;
  created_at: string;
}

export interface LocksTable {
  stack: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
}

export interface StackStatusTable {
  stack: string;
  suspended: number;
  conditions: string;
  last_applied_revision: string | null;
  last_attempted_revision: string | null;
  last_applied_digest: string | null;
  drift: string | null;
  updated_at: string;
  epoch: number | null;
}

export interface RendersTable {
  stack: string;
  digest: string;
  revision: string | null;
  rendered: string;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  name: string;
  token_hash: string;
  role: string;
  project: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
  created_by: string | null;
}

export interface SessionsTable {
  id_hash: string;
  subject: string;
  name: string;
  groups: string;
  csrf: string;
  created_at: string;
  expires_at: string;
}

export interface AuditEventsTable {
  sequence: number;
  at: string;
  kind: string;
  actor: string;
  stack: string;
  resource: string | null;
  commit_sha: string | null;
  author: string | null;
  commit_message: string | null;
  summary: string;
  previous_hash: string;
  hash: string;
}

export interface AuditHeadTable {
  id: number;
  count: number;
  hash: string;
}

/** Which agent works on a stack: one row per stack, its epoch raised on every claim (fencing). */
export interface LeasesTable {
  stack: string;
  holder: string | null;
  epoch: number;
  /** Milliseconds since 1970 on the store's clock, never an agent's. */
  expires_at: number;
  acquired_at: string | null;
}

/** The agents sharing the store, by their heartbeats. */
export interface AgentsTable {
  id: string;
  name: string;
  started_at: string;
  heartbeat_at: number;
}

/** An action taken on an agent that does not hold the stack, for the one that does. */
export interface StackRequestsTable {
  id: Generated<number>;
  stack: string;
  kind: string;
  trigger: string;
  actor: string | null;
  revision: string | null;
  force: number;
  override: number;
  /** JSON array of addresses for a selective sync; null for a whole one. */
  only_resources: string | null;
  created_at: string;
}

/** A message for a notification sink: queued, claimed by a sender, delivered, or given up on. */
export interface NotificationsTable {
  id: string;
  sink: string;
  trigger: string;
  stack: string;
  dedup_key: string;
  /** The message as JSON (no secret: the sink's address and credentials are resolved when sending). */
  payload: string;
  /** pending, delivered or failed (given up on). */
  state: string;
  attempts: number;
  /** The same news again within the de-duplication window: counted here, not sent. */
  repeats: number;
  /** Milliseconds since the epoch: when it may be sent (again); a claim moves it on, so a sender that died lets go. */
  next_attempt_at: number;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

export interface Database {
  notifications: NotificationsTable;
  leases: LeasesTable;
  agents: AgentsTable;
  stack_requests: StackRequestsTable;
  stacks: StacksTable;
  resources: ResourcesTable;
  runs: RunsTable;
  journal: JournalTable;
  events: EventsTable;
  locks: LocksTable;
  stack_status: StackStatusTable;
  renders: RendersTable;
  api_tokens: ApiTokensTable;
  sessions: SessionsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
}
