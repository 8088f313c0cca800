// One stack: sync and health, its sync policy, conditions and revisions, its
// resources as a list or a graph, a resource's diff, a sync's dry run, runs,
// changes and events — and the actions the token allows, each asking first.

import { useCallback, useEffect, useState } from "react";
import {
  api,
  commitHref,
  safeHref,
  type AuditEntry,
  type ClaimItem,
  type PlanChange,
  type ResourceItem,
  type RunItem,
  type Session,
  type StackEvent,
  type StackSummary,
} from "./api.js";
import { DiffPanel } from "./diff-panel.js";
import { ResourceGraph } from "./resource-graph.js";
import { ResourceTree } from "./resource-tree.js";
import { RunRows } from "./run-rows.js";
import { SyncPreview, type SyncPreviewAnswer } from "./sync-preview.js";
import { Badge, ConfirmButton, useFirst, useViewChoice, shortRevision, stackState, syncAndHealth, TableCard, useLiveReload } from "./widgets.js";
import type { SyncPolicy } from "../../src/stack-definition.js";

interface StackData {
  stack: StackSummary;
  resources: ResourceItem[];
  claims: ClaimItem[];
  runs: RunItem[];
  events: StackEvent[];
  changes: AuditEntry[];
  sync: SyncPolicy;
}

/** The sync policy in a line: what is on, how often, how it retries, and its windows; what the stack leaves out is said as its default. */
function syncPolicyText(sync: SyncPolicy): string {
  const parts = [
    sync.auto === true ? "automatic" : "manual",
    sync.prune === true ? "prune" : "no prune",
    sync.selfHeal === true ? "self-heal" : "drift reported only",
    `commits every ${sync.interval ?? "1m (default)"}`,
    `drift every ${sync.driftInterval ?? "5m (default)"}`,
    sync.retry?.limit === undefined ? "retries until it succeeds" : `retries ${sync.retry.limit}×`,
  ];
  for (const window of sync.windows ?? []) parts.push(`${window.kind} window ${window.schedule} for ${window.duration}`);
  if (sync.preventDrift === true) parts.push("drift prevented at admission");
  return parts.join(" · ");
}

/** List or graph: the choice is kept for every stack page. */
const viewKey = "plumb.resourceView";
const resourceViews = [
  { value: "list", label: "List" },
  { value: "graph", label: "Graph" },
] as const;

export function StackPage({ name, session }: { name: string; session: Session }) {
  const [data, setData] = useState<StackData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [diffOf, setDiffOf] = useState<string | null>(null);
  const [changes, setChanges] = useState<PlanChange[] | null>(null);
  const [rollbackTo, setRollbackTo] = useState("");
  const [view, viewSwitch] = useViewChoice(viewKey, resourceViews, "Show resources as");
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [preview, setPreview] = useState<SyncPreviewAnswer | string | null>(null);
  const toggle = (address: string) => {
    const next = new Set(chosen);
    if (next.has(address)) next.delete(address);
    else next.add(address);
    setChosen(next);
  };
  const dryRun = async () => {
    const only = chosen.size === 0 ? null : [...chosen].sort();
    try {
      const answer = await api<Omit<SyncPreviewAnswer, "chosen">>(`${route}/sync`, {
        method: "POST",
        body: { dryRun: true, ...(only === null ? {} : { resources: only }) },
      });
      setPreview({ ...answer, chosen: only });
    } catch (failure) {
      setPreview((failure as Error).message);
    }
  };
  // The newest ten of each history; the rest one click away.
  const [runs, moreRuns] = useFirst(data?.runs ?? [], "runs");
  const [auditChanges, moreChanges] = useFirst(data?.changes ?? [], "changes");
  const [events, moreEvents] = useFirst(data?.events ?? [], "events");
  const openDiff = (address: string) => {
    setChanges(null);
    setDiffOf(address);
  };
  const route = `/api/v1/stacks/${encodeURIComponent(name)}`;

  const load = useCallback(async () => {
    try {
      const [stack, resources, runs, events, audit, policy] = await Promise.all([
        api<StackSummary>(route),
        api<{ items: ResourceItem[]; claims: ClaimItem[] }>(`${route}/resources`),
        api<{ items: RunItem[] }>(`${route}/runs?limit=50`),
        api<{ items: StackData["events"] }>(`${route}/events?limit=30`),
        api<{ items: StackData["changes"] }>(`/api/v1/audit?stack=${encodeURIComponent(name)}&limit=25&order=newest`),
        api<{ sync: SyncPolicy }>(`${route}/sync-policy`),
      ]);
      setData({
        stack,
        resources: resources.items,
        claims: resources.claims,
        runs: runs.items,
        events: events.items.slice(0, 30),
        changes: audit.items,
        sync: policy.sync,
      });
      setError(null);
    } catch (failure) {
      setError((failure as Error).message);
    }
  }, [route]);

  const loadDiff = useCallback(async () => {
    try {
      setChanges((await api<{ changes: PlanChange[] }>(`${route}/plan`)).changes);
    } catch {
      setChanges([]);
    }
  }, [route]);

  // Every event of this stack reloads it, at most every 300 ms.
  const reload = useCallback(() => void load(), [load]);
  useEffect(reload, [reload]);
  useLiveReload(reload, 300, name);

  useEffect(() => {
    if (diffOf !== null) void loadDiff();
  }, [diffOf, data, loadDiff]);

  const act = (action: string, body?: unknown) => async () => {
    try {
      const result = await api<{ message: string }>(`${route}/${action}`, { method: "POST", ...(body === undefined ? {} : { body }) });
      setNotice(result.message);
    } catch (failure) {
      setNotice((failure as Error).message);
    }
    void load();
  };

  if (error !== null && data === null)
    return (
      <main>
        <p role="alert" className="error">
          {error}
        </p>
      </main>
    );
  if (data === null)
    return (
      <main>
        <p className="loading">Loading…</p>
      </main>
    );
  const { stack } = data;
  const state = stackState(stack);
  const words = syncAndHealth(stack);
  // Each revision a rollback can go to, with when it was applied and, from the audit trail, its commit's author and message.
  const commits = new Map(data.changes.flatMap((change) => (change.commit === null ? [] : [[change.commit, change] as const])));
  const revisions = [
    ...new Map(
      data.runs
        .filter((run) => run.result === "succeeded" && run.revision !== null && run.revision !== stack.lastAppliedRevision)
        .map((run) => [run.revision as string, run.finishedAt ?? run.startedAt] as const)
        .reverse(),
    ),
  ]
    .reverse()
    .map(([revision, appliedAt]) => {
      const commit = commits.get(revision);
      const parts = [shortRevision(revision), new Date(appliedAt).toLocaleString()];
      if (commit?.author) parts.push(commit.author);
      if (commit?.commitMessage) parts.push(commit.commitMessage.length > 60 ? `${commit.commitMessage.slice(0, 59)}…` : commit.commitMessage);
      return { revision, text: parts.join(" · ") };
    });
  const canOperate = session.grants.some(
    (grant) => grant.role === "platform-admin" || (grant.role !== "viewer" && (grant.project === null || grant.project === stack.project)),
  );
  const repo = safeHref(stack.source.repo);
  const commit = commitHref(stack.source.repo, stack.lastAppliedRevision);
  return (
    <main>
      <p className="crumbs">
        <a href="#/">Stacks</a> / {stack.name}
      </p>
      <h1>
        {stack.name} <Badge tone={state.tone}>{state.label}</Badge>
      </h1>
      <dl className="facts">
        <dt>Sync</dt>
        <dd>
          <Badge tone={words.sync.tone}>{words.sync.word}</Badge>
        </dd>
        <dt>Health</dt>
        <dd>
          <Badge tone={words.health.tone}>{words.health.word}</Badge>
        </dd>
        <dt>Environment</dt>
        <dd>{stack.environment ?? "—"}</dd>
        <dt>Applied</dt>
        <dd>
          {commit === undefined ? (
            <code>{shortRevision(stack.lastAppliedRevision)}</code>
          ) : (
            <a href={commit} rel="noreferrer noopener" target="_blank">
              <code>{shortRevision(stack.lastAppliedRevision)}</code>
            </a>
          )}
        </dd>
        <dt>Attempted</dt>
        <dd>
          <code>{shortRevision(stack.lastAttemptedRevision)}</code>
        </dd>
        <dt>Source</dt>
        <dd>
          {repo === undefined ? (
            (stack.source.repo ?? stack.source.file)
          ) : (
            <a href={repo} rel="noreferrer noopener" target="_blank">
              {stack.source.repo}
            </a>
          )}
          {stack.source.path === undefined ? null : (
            <>
              {" "}
              · <code>{stack.source.path}</code>
            </>
          )}
        </dd>
        <dt>Labels</dt>
        <dd className="labels">
          {Object.entries(stack.labels).map(([key, value]) => (
            <span key={key} className="label">
              {key}={value}
            </span>
          ))}
        </dd>
        <dt>Sync policy</dt>
        <dd className="sync-policy">{syncPolicyText(data.sync)}</dd>
      </dl>

      {canOperate ? (
        <section className="actions" aria-label="Actions">
          <ConfirmButton label="Sync now" question={`Sync ${stack.name} now?`} onConfirm={act("sync")} />
          <button type="button" onClick={() => void dryRun()}>
            {chosen.size === 0 ? "Dry run" : `Dry run of ${chosen.size} chosen`}
          </button>
          {chosen.size === 0 ? null : (
            <>
              <ConfirmButton
                label={`Sync ${chosen.size} chosen`}
                question={`Sync only the ${chosen.size} chosen resource(s) of ${stack.name}?`}
                onConfirm={act("sync", { resources: [...chosen].sort() })}
              />
              <button type="button" className="link" onClick={() => setChosen(new Set())}>
                Clear the choice
              </button>
            </>
          )}
          <ConfirmButton label="Refresh" question={`Re-read ${stack.name}'s live state?`} onConfirm={act("refresh")} />
          {stack.suspended ? (
            <ConfirmButton label="Resume" question={`Resume ${stack.name}?`} onConfirm={act("resume")} />
          ) : (
            <ConfirmButton label="Suspend" question={`Suspend ${stack.name}?`} onConfirm={act("suspend")} />
          )}
          <span className="rollback">
            <label>
              Roll back to
              <select value={rollbackTo} onChange={(event) => setRollbackTo(event.target.value)}>
                <option value="">choose a revision</option>
                {revisions.map(({ revision, text }) => (
                  <option key={revision} value={revision}>
                    {text}
                  </option>
                ))}
              </select>
            </label>
            <ConfirmButton
              label="Roll back"
              question={`Roll ${stack.name} back to ${shortRevision(rollbackTo)}? It is suspended afterwards.`}
              disabled={rollbackTo === ""}
              onConfirm={act("rollback", { revision: rollbackTo })}
            />
          </span>
        </section>
      ) : null}
      {preview === null ? null : <SyncPreview preview={preview} onClose={() => setPreview(null)} />}
      {notice === null ? null : (
        <p role="status" className="notice">
          {notice}
        </p>
      )}

      <section className="card">
        <h2>Conditions</h2>
        <table className="conditions">
          <tbody>
            {stack.conditions.map((condition) => (
              <tr key={condition.type}>
                <th scope="row">{condition.type}</th>
                <td>
                  <Badge
                    tone={condition.status === "True" ? (condition.type === "Ready" ? "good" : condition.type === "Reconciling" ? "busy" : "bad") : "muted"}
                  >
                    {condition.status}
                  </Badge>{" "}
                  {condition.reason}
                </td>
                <td className="message">{condition.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="card">
        <h2>
          Resources <span className="count">{data.resources.length}</span>
        </h2>
        {viewSwitch}
        {view === "graph" ? (
          <ResourceGraph resources={data.resources} claims={data.claims} selected={diffOf} onSelect={openDiff} />
        ) : (
          <ResourceTree data={data} onDiff={openDiff} choice={canOperate ? { chosen, toggle } : undefined} />
        )}
      </section>
      {diffOf === null ? null : (
        <DiffPanel
          stack={stack.name}
          address={diffOf}
          changes={changes}
          events={data.events.filter((event) => event.address === diffOf)}
          onClose={() => setDiffOf(null)}
        />
      )}

      <TableCard title="Runs" headings={["Started", "Trigger", "Revision", "Result", "Changes", "By", ""]} footer={moreRuns}>
        {runs.map((run) => (
          <RunRows key={run.id} stack={stack.name} run={run} />
        ))}
      </TableCard>

      <TableCard title="Changes" className="stacked" headings={["When", "What", "Resource", "Who", "Commit"]} footer={moreChanges}>
        {auditChanges.map((change) => (
          <tr key={change.sequence}>
            <td>{new Date(change.at).toLocaleString()}</td>
            <td>{change.kind}</td>
            <td>
              <code>{change.resource ?? "—"}</code>
            </td>
            <td>{change.actor}</td>
            <td>
              {change.commit === null ? (
                "—"
              ) : (
                <>
                  <code>{shortRevision(change.commit)}</code> {change.commitMessage}
                  {change.author === null ? null : <span className="muted"> — {change.author}</span>}
                </>
              )}
            </td>
          </tr>
        ))}
      </TableCard>

      <section className="card">
        <h2>Events</h2>
        <ul className="events">
          {events.map((event) => (
            <li key={event.id}>
              <time>{new Date(event.createdAt).toLocaleTimeString()}</time> <span className="kind">{event.type}</span>{" "}
              {event.address === null ? null : <code className="address">{event.address}</code>} {event.message}
            </li>
          ))}
        </ul>
        {moreEvents}
      </section>
    </main>
  );
}
