// What an auditor asks for: the compliance report as tables, with the CSV a
// spreadsheet takes, and the audit trail with filters and an export.

import { useCallback, useEffect, useState } from "react";
import { api, type AuditEntry, type ComplianceReport } from "./api.js";
import { auditKinds } from "../../src/state/audit-kinds.js";
import {
  BarChart,
  Badge,
  countBy,
  DownloadButton,
  Field,
  filtersInAddress,
  keepFiltersInAddress,
  metadataCoverage,
  shortRevision,
  TableCard,
  useLiveReload,
  useSettled,
} from "./widgets.js";

export function CompliancePage() {
  const [report, setReport] = useState<ComplianceReport | null>(null);
  const [days, setDays] = useState(30);
  useEffect(() => {
    api<ComplianceReport>(`/api/v1/compliance?days=${days}`).then(setReport, () => setReport(null));
  }, [days]);
  if (report === null)
    return (
      <main>
        <h1>Compliance</h1>
        <p className="loading">Loading…</p>
      </main>
    );
  const resources = report.inventory.reduce((sum, row) => sum + row.resources, 0);
  const coverage = metadataCoverage(report);
  return (
    <main>
      <h1>Compliance</h1>
      <div className="actions">
        <label>
          ATO dates within{" "}
          <input
            type="number"
            min={1}
            max={3650}
            value={days}
            onChange={(event) => setDays(Math.max(1, Number(event.target.value) || 30))}
            style={{ width: "5rem" }}
          />{" "}
          days
        </label>
        <DownloadButton label="Download CSV" route={`/api/v1/compliance?format=csv&days=${days}`} fileName="compliance.csv" />
      </div>
      <section className="card" aria-label="Charts">
        <h2>At a glance</h2>
        <p>
          <strong>{coverage}%</strong> of {resources.toLocaleString()} resources carry every required metadata key
          {report.missingMetadata.length === 0 ? "." : `; ${report.missingMetadata.length.toLocaleString()} key(s) missing.`}
        </p>
        <div className="meter" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={coverage} aria-label="Metadata coverage">
          <span style={{ width: `${coverage}%` }} />
        </div>
        <div className="charts">
          <BarChart
            title="Resources by compliance level"
            rows={countBy(
              report.inventory,
              (row) => row.complianceLevel || "(none)",
              (row) => row.resources,
            )}
          />
          <BarChart
            title="Resources by team"
            rows={countBy(
              report.inventory,
              (row) => row.team || "(none)",
              (row) => row.resources,
            )}
          />
          <BarChart title="ATO dates" tone="bad" rows={countBy(report.ato, (row) => (row.status === "expired" ? "expired" : `expiring within ${days} days`))} />
          <BarChart title="Rule violations by rule" tone="warn" rows={countBy(report.violations, (row) => `${row.rule} (${row.level})`)} />
          <BarChart title="Missing metadata by key" tone="warn" rows={countBy(report.missingMetadata, (row) => row.key)} />
          <BarChart
            title="Drift healed in the last 30 days, by stack"
            tone="good"
            rows={report.drift.filter((row) => row.healed > 0).map((row) => ({ label: row.stack, value: row.healed }))}
          />
        </div>
      </section>
      <TableCard title="ATO dates expired or expiring" headings={["Stack", "ATO date", "Days left", "Status"]}>
        {report.ato.map((row) => (
          <tr key={row.stack}>
            <td>{row.stack}</td>
            <td>{row.atoDate}</td>
            <td>{row.daysLeft}</td>
            <td>
              <Badge tone={row.status === "expired" ? "bad" : "warn"}>{row.status}</Badge>
            </td>
          </tr>
        ))}
      </TableCard>
      <TableCard title="Rule violations" headings={["Stack", "Team", "Rule", "Level", "Message"]}>
        {report.violations.map((row, index) => (
          <tr key={index}>
            <td>{row.stack}</td>
            <td>{row.team}</td>
            <td>
              <code>{row.rule}</code>
            </td>
            <td>
              <Badge tone={row.level === "deny" ? "bad" : "warn"}>{row.level}</Badge>
            </td>
            <td className="message">{row.message}</td>
          </tr>
        ))}
      </TableCard>
      <TableCard title="Resources missing required metadata" headings={["Stack", "Team", "Resource", "Key"]}>
        {report.missingMetadata.map((row, index) => (
          <tr key={index}>
            <td>{row.stack}</td>
            <td>{row.team}</td>
            <td>
              <code>{row.resource}</code>
            </td>
            <td>{row.key}</td>
          </tr>
        ))}
      </TableCard>
      <TableCard title="Inventory" headings={["Team", "Owner", "Compliance level", "Resources"]}>
        {report.inventory.map((row) => (
          <tr key={`${row.team}/${row.owner}/${row.complianceLevel}`}>
            <td>{row.team}</td>
            <td>{row.owner}</td>
            <td>{row.complianceLevel}</td>
            <td>{row.resources}</td>
          </tr>
        ))}
      </TableCard>
      <TableCard title="Drift in the last 30 days" headings={["Stack", "Found", "Healed"]}>
        {report.drift
          .filter((row) => row.found > 0 || row.healed > 0)
          .map((row) => (
            <tr key={row.stack}>
              <td>{row.stack}</td>
              <td>{row.found}</td>
              <td>{row.healed}</td>
            </tr>
          ))}
      </TableCard>
    </main>
  );
}

const auditPage = 200;

/** A date input's day as the ISO instant it starts (UTC), or the start of the next day for an "until" bound. */
function dayBound(value: string, next: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return undefined;
  return new Date(Date.parse(`${value}T00:00:00Z`) + (next ? 86_400_000 : 0)).toISOString();
}

/** Which action a person took (sync, refresh, rollback, suspend, …), from an `action` event's summary. */
function actionOf(summary: unknown): string {
  const action = typeof summary === "object" && summary !== null ? (summary as { action?: unknown }).action : undefined;
  return typeof action === "string" ? action : "";
}

export function AuditPage() {
  const [kept] = useState(filtersInAddress);
  const [stack, setStack] = useState(kept.get("stack") ?? "");
  const [resource, setResource] = useState(kept.get("resource") ?? "");
  const [actor, setActor] = useState(kept.get("actor") ?? "");
  const [kind, setKind] = useState(kept.get("kind") ?? "");
  const [from, setFrom] = useState(kept.get("from") ?? "");
  const [to, setTo] = useState(kept.get("to") ?? "");
  const [stackNames, setStackNames] = useState<string[]>([]);
  useEffect(() => keepFiltersInAddress("/audit", { stack, resource, actor, kind, from, to }), [stack, resource, actor, kind, from, to]);
  // The stack box offers the names of the stacks the token sees, so nobody has to know one by heart.
  useEffect(() => {
    api<{ items: { name: string }[] }>("/api/v1/stacks?limit=500").then(
      (list) => setStackNames(list.items.map((item) => item.name)),
      () => setStackNames([]),
    );
  }, []);
  const [events, setEvents] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const filters = new URLSearchParams();
  for (const [name, value] of [
    ["stack", stack],
    ["resource", resource],
    ["actor", actor],
    ["kind", kind],
    ["since", dayBound(from, false)],
    ["until", dayBound(to, true)],
  ] as const) {
    if (value !== undefined && value.trim() !== "") filters.set(name, value.trim());
  }
  const query = useSettled(filters.toString(), 250);
  const load = useCallback(
    async (before?: number) => {
      try {
        const page = await api<{ items: AuditEntry[] }>(
          `/api/v1/audit?order=newest&limit=${auditPage}${before === undefined ? "" : `&before=${before}`}${query === "" ? "" : `&${query}`}`,
        );
        setEvents((current) => (before === undefined ? page.items : [...current, ...page.items]));
        setMore(page.items.length === auditPage);
        setError(null);
      } catch (failure) {
        setError((failure as Error).message);
      }
    },
    [query],
  );
  const olderShown = events.length > auditPage;
  // The newest events follow status changes (at most every 2 s) until older ones are being read.
  const reload = useCallback(() => {
    if (!olderShown) void load();
  }, [load, olderShown]);
  useEffect(() => void load(), [load]);
  useLiveReload(reload, 2000);
  return (
    <main>
      <h1>Audit trail</h1>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Stack">
          {(id) => (
            <>
              <input id={id} value={stack} list={`${id}-names`} autoComplete="off" onChange={(event) => setStack(event.target.value)} />
              <datalist id={`${id}-names`}>
                {stackNames.map((name) => (
                  <option key={name} value={name} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <Field label="Resource">
          {(id) => <input id={id} value={resource} placeholder="postgres.plumb.dev/v1/Role/app" onChange={(event) => setResource(event.target.value)} />}
        </Field>
        <Field label="Actor">{(id) => <input id={id} value={actor} placeholder="agent" onChange={(event) => setActor(event.target.value)} />}</Field>
        <Field label="Kind">
          {(id) => (
            <select id={id} value={kind} onChange={(event) => setKind(event.target.value)}>
              <option value="">any</option>
              {auditKinds.map((item) => (
                <option key={item}>{item}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label="From">{(id) => <input id={id} type="date" value={from} onChange={(event) => setFrom(event.target.value)} />}</Field>
        <Field label="To">{(id) => <input id={id} type="date" value={to} onChange={(event) => setTo(event.target.value)} />}</Field>
      </form>
      {error === null ? null : (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="actions">
        <DownloadButton label="Export CSV" route={`/api/v1/audit/export?format=csv${query === "" ? "" : `&${query}`}`} fileName="audit.csv" />
        <DownloadButton label="Export JSON lines" route={`/api/v1/audit/export?format=jsonl${query === "" ? "" : `&${query}`}`} fileName="audit.jsonl" />
        <span className="muted">{events.length} event(s) shown, newest first; exports hold every match, oldest first</span>
      </div>
      <TableCard label="Audit events" headings={["#", "When", "Kind", "Stack", "Resource", "Actor", "Commit"]}>
        {events.map((event) => (
          <tr key={event.sequence}>
            <td>{event.sequence}</td>
            <td>{new Date(event.at).toLocaleString()}</td>
            <td>
              {event.kind}
              {event.kind === "action" ? <span className="detail"> {actionOf(event.summary)}</span> : null}
            </td>
            <td>{event.stack}</td>
            <td>
              <code>{event.resource ?? "—"}</code>
            </td>
            <td>{event.actor}</td>
            <td>
              {event.commit === null ? (
                "—"
              ) : (
                <>
                  <code>{shortRevision(event.commit)}</code> {event.commitMessage}
                </>
              )}
            </td>
          </tr>
        ))}
      </TableCard>
      {more ? (
        <button type="button" onClick={() => void load(events[events.length - 1]?.sequence)}>
          Show older events
        </button>
      ) : null}
    </main>
  );
}
