// At a glance: stacks by condition, drift found and healed per day, the
// compliance headline numbers and the latest changes; and the environments
// matrix — which revision each application runs where.

import { useEffect, useState } from "react";
import { api, type AuditEntry, type ComplianceReport, type StackSummary } from "./api.js";
import { Badge, shortRevision, stackState, TableCard } from "./widgets.js";

const conditions = ["Ready", "NotReady", "Stalled", "Degraded", "Reconciling"] as const;
const day = 86_400_000;

/** Bars per day for the last 30 days: drift found (amber) and healed (green). */
function DriftChart({ changes }: { changes: AuditEntry[] }) {
  const today = Math.floor(Date.now() / day);
  const days = Array.from({ length: 30 }, (_, index) => today - 29 + index);
  const count = (kind: string, when: number) => changes.filter((change) => change.kind === kind && Math.floor(Date.parse(change.at) / day) === when).length;
  const found = days.map((when) => count("drift.detected", when));
  const healed = days.map((when) => count("change.corrective", when));
  const highest = Math.max(1, ...found, ...healed);
  const width = 600;
  const height = 120;
  const bar = width / days.length;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height + 16}`} role="img" aria-label={`Drift found and healed per day over 30 days: ${found.reduce((a, b) => a + b, 0)} found, ${healed.reduce((a, b) => a + b, 0)} healed`}>
        {days.map((when, index) => {
          const foundHeight = (found[index] ?? 0) / highest * height;
          const healedHeight = (healed[index] ?? 0) / highest * height;
          return (
            <g key={when}>
              <rect x={index * bar + 2} y={height - foundHeight} width={bar / 2 - 2} height={foundHeight} className="found" />
              <rect x={index * bar + bar / 2} y={height - healedHeight} width={bar / 2 - 2} height={healedHeight} className="healed" />
            </g>
          );
        })}
        <line x1="0" x2={width} y1={height} y2={height} className="axis" />
        <text x="0" y={height + 14} className="tick">30 days ago</text>
        <text x={width} y={height + 14} className="tick" textAnchor="end">today</text>
      </svg>
      <figcaption><span className="key found" /> drift found <span className="key healed" /> healed</figcaption>
    </figure>
  );
}

export function OverviewPage() {
  const [counts, setCounts] = useState<Record<string, number> | null>(null);
  const [changes, setChanges] = useState<AuditEntry[]>([]);
  const [compliance, setCompliance] = useState<ComplianceReport | null>(null);
  useEffect(() => {
    void Promise.all(conditions.map(async (condition) => [condition, (await api<{ total: number }>(`/api/v1/stacks?condition=${condition}&limit=1`)).total] as const)).then((pairs) => setCounts(Object.fromEntries(pairs)));
    const since = new Date(Date.now() - 30 * day).toISOString();
    api<{ items: AuditEntry[] }>(`/api/v1/audit?order=newest&limit=1000&since=${encodeURIComponent(since)}`).then((result) => setChanges(result.items), () => setChanges([]));
    api<ComplianceReport>("/api/v1/compliance").then(setCompliance, () => setCompliance(null));
  }, []);
  return (
    <main>
      <h1>Overview</h1>
      <section className="tiles" aria-label="Stacks by condition">
        {conditions.map((condition) => (
          <a key={condition} className="tile" href={`#/?condition=${condition}`}>
            <span className="number">{counts?.[condition] ?? "…"}</span>
            <span>{condition === "NotReady" ? "Not ready" : condition}</span>
          </a>
        ))}
      </section>
      <section className="card">
        <h2>Drift, last 30 days</h2>
        <DriftChart changes={changes} />
      </section>
      <section className="tiles" aria-label="Compliance at a glance">
        <a className="tile" href="#/compliance"><span className="number">{compliance?.ato.filter((row) => row.status === "expired").length ?? "…"}</span><span>ATO expired</span></a>
        <a className="tile" href="#/compliance"><span className="number">{compliance?.ato.filter((row) => row.status === "expiring").length ?? "…"}</span><span>ATO expiring in 30 days</span></a>
        <a className="tile" href="#/compliance"><span className="number">{compliance?.violations.length ?? "…"}</span><span>Rule violations</span></a>
        <a className="tile" href="#/compliance"><span className="number">{compliance?.missingMetadata.length ?? "…"}</span><span>Missing metadata</span></a>
      </section>
      <TableCard title="Latest changes" headings={["When", "What", "Stack", "Resource", "Who"]}>
        {changes.slice(0, 10).map((change) => (
          <tr key={change.sequence}>
            <td>{new Date(change.at).toLocaleString()}</td>
            <td>{change.kind}</td>
            <td><a href={`#/stacks/${encodeURIComponent(change.stack)}`}>{change.stack}</a></td>
            <td><code>{change.resource ?? "—"}</code></td>
            <td>{change.actor}</td>
          </tr>
        ))}
      </TableCard>
    </main>
  );
}

/** The application a stack belongs to: its `app` label, else its name without a trailing -<environment>. */
function applicationOf(stack: StackSummary): string {
  if (stack.labels.app !== undefined) return stack.labels.app;
  return stack.environment !== null && stack.name.endsWith(`-${stack.environment}`) ? stack.name.slice(0, -stack.environment.length - 1) : stack.name;
}

export function EnvironmentsPage() {
  const [stacks, setStacks] = useState<StackSummary[] | null>(null);
  useEffect(() => {
    void (async () => {
      const all: StackSummary[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = await api<{ total: number; items: StackSummary[] }>(`/api/v1/stacks?limit=500&offset=${offset}`);
        all.push(...page.items);
        if (all.length >= page.total || page.items.length === 0) break;
      }
      setStacks(all);
    })();
  }, []);
  if (stacks === null) return <main><h1>Environments</h1><p className="loading">Loading…</p></main>;
  const environments = [...new Set(stacks.map((stack) => stack.environment ?? "(none)"))].sort();
  const applications = new Map<string, Map<string, StackSummary>>();
  for (const stack of stacks) {
    const row = applications.get(applicationOf(stack)) ?? new Map<string, StackSummary>();
    row.set(stack.environment ?? "(none)", stack);
    applications.set(applicationOf(stack), row);
  }
  return (
    <main>
      <h1>Environments</h1>
      <p className="muted">Which revision each application runs in each environment (stacks grouped by their <code>app</code> label, else by name without the environment).</p>
      <TableCard headings={["Application", ...environments]}>
        {[...applications.entries()].sort(([left], [right]) => left.localeCompare(right)).map(([application, row]) => (
          <tr key={application}>
            <th scope="row">{application}</th>
            {environments.map((environment) => {
              const stack = row.get(environment);
              if (stack === undefined) return <td key={environment} className="muted">—</td>;
              const state = stackState(stack);
              return (
                <td key={environment}>
                  <a href={`#/stacks/${encodeURIComponent(stack.name)}`}><code>{shortRevision(stack.lastAppliedRevision)}</code></a> <Badge tone={state.tone}>{state.label}</Badge>
                </td>
              );
            })}
          </tr>
        ))}
      </TableCard>
    </main>
  );
}
