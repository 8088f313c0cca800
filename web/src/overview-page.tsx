// At a glance: stacks by state, drift per day, the compliance headline
// numbers, the fleet's recent runs and the latest changes.

import { useCallback, useEffect, useState } from "react";
import { api, stackStates, type AuditEntry, type ComplianceSummary, type RunItem, type StackList } from "./api.js";
import { ago, Badge, runTone, shortRevision, stateLabel, TableCard, useLiveReload } from "./widgets.js";

const day = 86_400_000;

interface DailyCounts {
  since: string;
  items: { day: string; kind: string; count: number }[];
}

/** Bars per day for the last 30 days: drift found and left in place (amber) and found and healed (green), counted by the server over the whole trail. */
function DriftChart({ daily }: { daily: DailyCounts }) {
  const first = Date.parse(`${daily.since}T00:00:00Z`);
  const days = Array.from({ length: 30 }, (_, index) => new Date(first + index * day).toISOString().slice(0, 10));
  const count = (kind: string, when: string) => daily.items.find((item) => item.kind === kind && item.day === when)?.count ?? 0;
  const found = days.map((when) => count("drift.detected", when));
  const healed = days.map((when) => count("change.corrective", when));
  const highest = Math.max(1, ...found, ...healed);
  const width = 1000;
  const height = 130;
  const bar = width / days.length;
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 1}`} role="img" aria-label={`Drift per day over 30 days: ${sum(found)} left in place, ${sum(healed)} healed`}>
        {days.map((when, index) => {
          const foundHeight = ((found[index] ?? 0) / highest) * height;
          const healedHeight = ((healed[index] ?? 0) / highest) * height;
          return (
            <g key={when}>
              <title>{`${when}: ${found[index] ?? 0} left in place, ${healed[index] ?? 0} healed`}</title>
              <rect x={index * bar + 2} y={height - foundHeight} width={bar / 2 - 2} height={foundHeight} className="found" />
              <rect x={index * bar + bar / 2} y={height - healedHeight} width={bar / 2 - 2} height={healedHeight} className="healed" />
            </g>
          );
        })}
        <line x1="0" x2={width} y1={height} y2={height} className="axis" />
      </svg>
      <div className="ticks">
        <span>{days[0]}</span>
        <span>today</span>
      </div>
      <figcaption>
        <span className="key found" /> left in place ({sum(found)}) <span className="key healed" /> healed ({sum(healed)})
      </figcaption>
    </figure>
  );
}

function duration(run: RunItem): string {
  if (run.finishedAt === null) return "running";
  const milliseconds = Date.parse(run.finishedAt) - Date.parse(run.startedAt);
  if (milliseconds < 1000) return `${milliseconds} ms`;
  return milliseconds < 60_000 ? `${(milliseconds / 1000).toFixed(1)} s` : `${Math.round(milliseconds / 60_000)} min`;
}

export function OverviewPage() {
  const [list, setList] = useState<StackList | null>(null);
  const [changes, setChanges] = useState<AuditEntry[]>([]);
  const [runs, setRuns] = useState<RunItem[]>([]);
  const [daily, setDaily] = useState<DailyCounts | null>(null);
  const [compliance, setCompliance] = useState<ComplianceSummary | null>(null);
  // Live: the counts, runs, changes and chart follow status changes, at most every 2 s.
  const load = useCallback(() => {
    api<StackList>("/api/v1/stacks?limit=1").then(setList, () => setList(null));
    api<{ items: RunItem[] }>("/api/v1/runs?limit=10").then(
      (result) => setRuns(result.items),
      () => setRuns([]),
    );
    api<{ items: AuditEntry[] }>("/api/v1/audit?order=newest&limit=10").then(
      (result) => setChanges(result.items),
      () => setChanges([]),
    );
    api<DailyCounts>("/api/v1/audit/daily?days=30").then(setDaily, () => setDaily(null));
  }, []);
  useEffect(load, [load]);
  useLiveReload(load, 2000);
  useEffect(() => {
    // Four numbers: the summary, not the whole report.
    api<ComplianceSummary>("/api/v1/compliance/summary").then(setCompliance, () => setCompliance(null));
  }, []);
  const coverage = compliance?.metadataCoverage;
  return (
    <main>
      <h1>Overview</h1>
      <section className="tiles" aria-label="Stacks by state">
        {stackStates.map((state) => (
          <a key={state} className={list?.facets.states[state] === 0 ? "tile zero" : "tile"} href={`#/?state=${state}`}>
            <span className="number">{list?.facets.states[state] ?? "…"}</span>
            <span>{stateLabel(state)}</span>
          </a>
        ))}
      </section>
      <section className="card">
        <h2>Drift, last 30 days</h2>
        {daily === null ? <p className="loading">Loading…</p> : <DriftChart daily={daily} />}
      </section>
      <section className="tiles" aria-label="Compliance at a glance">
        <a className="tile" href="#/compliance">
          <span className="number">{coverage === undefined ? "…" : `${coverage}%`}</span>
          <span>Resources with all required metadata</span>
        </a>
        <a className="tile" href="#/compliance">
          <span className="number">{compliance?.atoExpired ?? "…"}</span>
          <span>ATO expired</span>
        </a>
        <a className="tile" href="#/compliance">
          <span className="number">{compliance?.atoExpiring ?? "…"}</span>
          <span>ATO expiring in 30 days</span>
        </a>
        <a className="tile" href="#/compliance">
          <span className="number">{compliance?.violations ?? "…"}</span>
          <span>Rule violations</span>
        </a>
      </section>
      <TableCard title="Recent runs" headings={["Started", "Stack", "Trigger", "Result", "Revision", "Took"]}>
        {runs.map((run) => (
          <tr key={run.id}>
            <td>
              <time dateTime={run.startedAt} title={new Date(run.startedAt).toLocaleString()}>
                {ago(run.startedAt)}
              </time>
            </td>
            <td>
              <a href={`#/stacks/${encodeURIComponent(run.stack)}`}>{run.stack}</a>
            </td>
            <td>
              {run.trigger}
              {run.actor === null ? "" : ` by ${run.actor}`}
            </td>
            <td>
              <Badge tone={runTone(run.result)}>{run.result}</Badge>
            </td>
            <td>
              <code>{shortRevision(run.revision)}</code>
            </td>
            <td>{duration(run)}</td>
          </tr>
        ))}
      </TableCard>
      <TableCard title="Latest changes" headings={["When", "What", "Stack", "Resource", "Who"]}>
        {changes.map((change) => (
          <tr key={change.sequence}>
            <td>
              <time dateTime={change.at} title={new Date(change.at).toLocaleString()}>
                {ago(change.at)}
              </time>
            </td>
            <td>{change.kind}</td>
            <td>
              <a href={`#/stacks/${encodeURIComponent(change.stack)}`}>{change.stack}</a>
            </td>
            <td>
              <code>{change.resource ?? "—"}</code>
            </td>
            <td>{change.actor}</td>
          </tr>
        ))}
      </TableCard>
    </main>
  );
}
