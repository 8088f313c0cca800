// One stack: conditions and revisions, the resource tree (claims with what
// they composed) with status, health and drift, the desired-vs-live diff of a
// resource, runs and events — and the actions the token allows, each asking first.

import { useCallback, useEffect, useRef, useState } from "react";
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
  type StackSummary,
} from "./api.js";
import { ResourceGraph } from "./resource-graph.js";
import { SyncPreview, type SyncPreviewAnswer } from "./sync-preview.js";
import { Badge, ConfirmButton, runTone, shortRevision, stackState, syncAndHealth, TableCard, useLiveReload } from "./widgets.js";
import type { SyncPolicy } from "../../src/stack-definition.js";

interface StackData {
  stack: StackSummary;
  resources: ResourceItem[];
  claims: ClaimItem[];
  runs: RunItem[];
  events: { id: number; createdAt: string; type: string; message: string; address: string | null }[];
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

function tone(value: string): string {
  return value === "Synced" || value === "Healthy" ? "good" : value === "Failed" || value === "Degraded" ? "bad" : "muted";
}

type TreeRow = { type: "claim"; claim: ClaimItem; depth: number } | { type: "resource"; resource: ResourceItem; depth: number };

/** Claims first, each followed by what it composed (nested claims recursively), then the other resources. */
function treeRows(data: StackData): TreeRow[] {
  const byAddress = new Map(data.resources.map((resource) => [resource.address, resource]));
  const claims = new Map(data.claims.map((claim) => [claim.address, claim]));
  const rows: TreeRow[] = [];
  const placed = new Set<string>();
  const addClaim = (claim: ClaimItem, depth: number) => {
    rows.push({ type: "claim", claim, depth });
    for (const child of claim.children) {
      const nested = claims.get(child);
      if (nested !== undefined) addClaim(nested, depth + 1);
      const resource = byAddress.get(child);
      if (resource !== undefined) {
        placed.add(child);
        rows.push({ type: "resource", resource, depth: depth + 1 });
      }
    }
  };
  for (const claim of data.claims.filter((item) => item.composite === null)) addClaim(claim, 0);
  for (const resource of data.resources) if (!placed.has(resource.address)) rows.push({ type: "resource", resource, depth: 0 });
  return rows;
}

const rowHeight = 44;
const overscan = 10;

/** What a person may choose resources for (a selective sync or its dry run); absent for a read-only token. */
interface Choice {
  chosen: ReadonlySet<string>;
  toggle: (address: string) => void;
}

function Row({ row, onDiff, choice }: { row: TreeRow; onDiff: (address: string) => void; choice: Choice | undefined }) {
  const indent = { paddingLeft: `${0.5 + row.depth * 1.25}rem` };
  if (row.type === "claim") {
    const { claim } = row;
    return (
      <tr className="claim">
        {choice === undefined ? null : <td />}
        <td className="name" style={indent}>
          <span className="kind">{claim.kind}</span> {claim.name}
        </td>
        <td>
          <Badge tone={claim.ready ? "good" : "warn"} title={claim.reason}>
            {claim.ready ? "Ready" : "Not ready"}
          </Badge>
        </td>
        <td className="muted">{claim.children.length} composed</td>
      </tr>
    );
  }
  const { resource } = row;
  return (
    <tr data-address={resource.address}>
      {choice === undefined ? null : (
        <td className="choose">
          <input
            type="checkbox"
            aria-label={`Choose ${resource.address}`}
            checked={choice.chosen.has(resource.address)}
            onChange={() => choice.toggle(resource.address)}
          />
        </td>
      )}
      <td className="name" style={indent}>
        <span className="kind">{resource.kind}</span> {resource.name}
      </td>
      <td>
        <Badge tone={tone(resource.status)}>{resource.status}</Badge>
        <Badge tone={tone(resource.health)}>{resource.health}</Badge>
        {resource.drift === null ? null : (
          <Badge tone="warn" title={resource.drift.join(", ")}>
            drift: {resource.drift.join(", ")}
          </Badge>
        )}
        {resource.healed === null ? null : (
          <Badge tone="muted" title={`changed by hand and put back: ${resource.healed.join(", ")}`}>
            healed: {resource.healed.join(", ")}
          </Badge>
        )}
      </td>
      <td>
        <button type="button" className="link" onClick={() => onDiff(resource.address)} aria-label={`Diff of ${resource.address}`}>
          Diff
        </button>
      </td>
    </tr>
  );
}

/**
 * The resource tree, windowed: only the rows in view (and a few around them)
 * are in the page, so a stack of thousands of resources renders as fast as one of fifty.
 */
function ResourceTree({ data, onDiff, choice }: { data: StackData; onDiff: (address: string) => void; choice: Choice | undefined }) {
  const rows = treeRows(data);
  const [scrollTop, setScrollTop] = useState(0);
  const viewport = Math.min(rows.length, 14) * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return (
    <div className="scroll tree" style={{ maxHeight: `${viewport + rowHeight}px` }} onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}>
      <table className="resources">
        <thead>
          <tr>
            {choice === undefined ? null : (
              <th scope="col" className="choose">
                <span className="sr-only">Chosen</span>
              </th>
            )}
            <th scope="col" className="name">
              Resource
            </th>
            <th scope="col">Status</th>
            <th scope="col" className="diff-link">
              <span className="sr-only">Diff</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {first > 0 ? <tr aria-hidden="true" style={{ height: `${first * rowHeight}px` }} /> : null}
          {rows.slice(first, last).map((row) => (
            <Row key={row.type === "claim" ? row.claim.address : row.resource.address} row={row} onDiff={onDiff} choice={choice} />
          ))}
          {last < rows.length ? <tr aria-hidden="true" style={{ height: `${(rows.length - last) * rowHeight}px` }} /> : null}
        </tbody>
      </table>
    </div>
  );
}

/** The whole object on both sides: the spec applied last (secrets as references) and the live object read now (secret values hidden). */
function Manifests({ stack, address }: { stack: string; address: string }) {
  const [manifest, setManifest] = useState<{ desired: unknown; live: unknown } | string | null>(null);
  useEffect(() => {
    let current = true;
    setManifest(null);
    api<{ desired: unknown; live: unknown }>(`/api/v1/stacks/${encodeURIComponent(stack)}/manifest?address=${encodeURIComponent(address)}`).then(
      (answer) => current && setManifest(answer),
      (failure: Error) => current && setManifest(failure.message),
    );
    return () => {
      current = false;
    };
  }, [stack, address]);
  if (manifest === null) return <p className="loading">Loading the manifests…</p>;
  if (typeof manifest === "string")
    return (
      <p role="alert" className="error">
        {manifest}
      </p>
    );
  return (
    <div className="manifests">
      <section aria-label="Desired manifest">
        <h3>Desired (applied last)</h3>
        <pre tabIndex={0}>{JSON.stringify(manifest.desired, null, 2)}</pre>
      </section>
      <section aria-label="Live manifest">
        <h3>Live (read now)</h3>
        <pre tabIndex={0}>{manifest.live === null ? "(does not exist)" : JSON.stringify(manifest.live, null, 2)}</pre>
      </section>
    </div>
  );
}

function DiffPanel({
  stack,
  address,
  changes,
  events,
  onClose,
}: {
  stack: string;
  address: string;
  changes: PlanChange[] | null;
  /** This resource's own events, newest first. */
  events: StackData["events"];
  onClose: () => void;
}) {
  const change = changes?.find((item) => item.address === address);
  const panel = useRef<HTMLElement>(null);
  // Opening a diff brings it into view and puts the focus on it; closing puts the focus back on the resource's Diff button.
  useEffect(() => {
    panel.current?.scrollIntoView({ block: "nearest" });
    panel.current?.focus({ preventScroll: true });
  }, [address]);
  const close = () => {
    onClose();
    const opener =
      document.querySelector<HTMLElement>(`button[aria-label="${CSS.escape(`Diff of ${address}`)}"]`) ??
      document.querySelector<SVGGElement>(`.graph [data-address="${CSS.escape(address)}"]`);
    opener?.focus();
  };
  return (
    <section
      ref={panel}
      tabIndex={-1}
      className="card diff"
      aria-label={`Diff of ${address}`}
      onKeyDown={(event) => {
        if (event.key === "Escape") close();
      }}
    >
      <header>
        <h2>
          Desired vs live: <code>{address}</code>
        </h2>
        <button type="button" onClick={close}>
          Close
        </button>
      </header>
      {changes === null ? (
        <p>Loading…</p>
      ) : change === undefined ? (
        <p className="good-text">In sync: live matches what Git declares.</p>
      ) : (
        <>
          <p>
            {change.action}: {change.reason}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Live</th>
                <th scope="col">Desired</th>
              </tr>
            </thead>
            <tbody>
              {change.diffs.map((diff) => (
                <tr key={diff.path}>
                  <td>
                    <code>{diff.path}</code>
                    {diff.drift ? <Badge tone="warn">drift</Badge> : null}
                  </td>
                  <td>
                    <code>{diff.before === undefined ? "(absent)" : JSON.stringify(diff.before)}</code>
                  </td>
                  <td>
                    <code>{diff.after === undefined ? "(absent)" : JSON.stringify(diff.after)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <Manifests stack={stack} address={address} />
      <h3>Events of this resource</h3>
      {events.length === 0 ? (
        <p className="muted">None recently.</p>
      ) : (
        <ul className="events">
          {events.map((event) => (
            <li key={event.id}>
              <time>{new Date(event.createdAt).toLocaleString()}</time> <span className="kind">{event.type}</span> {event.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

interface RunDetail {
  run: RunItem;
  changes: { address: string; action: string; state: string; outcome: string | null; at: string }[];
}

/** One run; "Details" opens its error and the journal of what it changed, fetched when asked for. */
function RunRows({ stack, run }: { stack: string; run: RunItem }) {
  const [detail, setDetail] = useState<RunDetail | string | null>(null);
  const [open, setOpen] = useState(false);
  const toggle = () => {
    setOpen(!open);
    if (!open && detail === null)
      api<RunDetail>(`/api/v1/stacks/${encodeURIComponent(stack)}/runs/${run.id}`).then(setDetail, (failure: Error) => setDetail(failure.message));
  };
  const summary =
    run.planSummary === null
      ? ""
      : (["create", "update", "replace", "delete"] as const)
          .filter((key) => (run.planSummary?.[key] ?? 0) > 0)
          .map((key) => `${run.planSummary?.[key]} ${key}`)
          .join(", ") || "none";
  return (
    <>
      <tr>
        <td>{new Date(run.startedAt).toLocaleString()}</td>
        <td>{run.trigger}</td>
        <td>
          <code>{shortRevision(run.revision)}</code>
        </td>
        <td>
          <Badge tone={runTone(run.result)}>{run.result}</Badge>
        </td>
        <td>{summary}</td>
        <td>{run.actor ?? "agent"}</td>
        <td>
          <button type="button" className="link" aria-expanded={open} onClick={toggle}>
            Details<span className="sr-only"> of the run at {new Date(run.startedAt).toLocaleString()}</span>
          </button>
        </td>
      </tr>
      {open ? (
        <tr className="run-detail">
          <td colSpan={7}>
            {run.error === null ? null : <p className="message error">{run.error}</p>}
            {detail === null ? (
              <p className="loading">Loading…</p>
            ) : typeof detail === "string" ? (
              <p role="alert" className="error">
                {detail}
              </p>
            ) : detail.changes.length === 0 ? (
              <p className="muted">This run changed nothing.</p>
            ) : (
              <ul className="events">
                {detail.changes.map((change) => (
                  <li key={`${change.address}/${change.at}`}>
                    <Badge tone={change.state === "applied" ? "good" : change.state === "failed" ? "bad" : "muted"}>{change.action}</Badge>{" "}
                    <code>{change.address}</code>{" "}
                    <span className="muted">
                      {change.state}
                      {change.outcome === null ? "" : `: ${change.outcome}`}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** List or graph: the choice is kept for every stack page. */
const viewKey = "plumb.resourceView";

export function StackPage({ name, session }: { name: string; session: Session }) {
  const [data, setData] = useState<StackData | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [diffOf, setDiffOf] = useState<string | null>(null);
  const [changes, setChanges] = useState<PlanChange[] | null>(null);
  const [rollbackTo, setRollbackTo] = useState("");
  const [view, setView] = useState<"list" | "graph">(() => (localStorage.getItem(viewKey) === "graph" ? "graph" : "list"));
  const chooseView = (choice: "list" | "graph") => {
    localStorage.setItem(viewKey, choice);
    setView(choice);
  };
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
        <div className="view-switch" role="group" aria-label="Show resources as">
          {(["list", "graph"] as const).map((choice) => (
            <button key={choice} type="button" aria-pressed={view === choice} onClick={() => chooseView(choice)}>
              {choice === "list" ? "List" : "Graph"}
            </button>
          ))}
        </div>
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

      <TableCard title="Runs" headings={["Started", "Trigger", "Revision", "Result", "Changes", "By", ""]}>
        {data.runs.map((run) => (
          <RunRows key={run.id} stack={stack.name} run={run} />
        ))}
      </TableCard>

      <TableCard title="Changes" className="stacked" headings={["When", "What", "Resource", "Who", "Commit"]}>
        {data.changes.map((change) => (
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
          {data.events.map((event) => (
            <li key={event.id}>
              <time>{new Date(event.createdAt).toLocaleTimeString()}</time> <span className="kind">{event.type}</span>{" "}
              {event.address === null ? null : <code className="address">{event.address}</code>} {event.message}
            </li>
          ))}
        </ul>
      </section>
    </main>
  );
}
