// What an auditor asks for: the compliance report as tables, with the CSV a
// spreadsheet takes, and the audit trail with filters and an export.

import { useEffect, useState } from "react";
import { api, savedToken, type AuditEntry, type ComplianceReport } from "./api.js";
import { Badge, shortRevision, TableCard } from "./widgets.js";

/** Downloads an API response as a file: the token goes in a header, so a plain link cannot. */
async function download(route: string, fileName: string): Promise<void> {
  const response = await fetch(route, { headers: { authorization: `Bearer ${savedToken() ?? ""}` } });
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = fileName;
  link.click();
  URL.revokeObjectURL(url);
}

export function CompliancePage() {
  const [report, setReport] = useState<ComplianceReport | null>(null);
  const [days, setDays] = useState(30);
  useEffect(() => {
    api<ComplianceReport>(`/api/v1/compliance?days=${days}`).then(setReport, () => setReport(null));
  }, [days]);
  if (report === null) return <main><h1>Compliance</h1><p className="loading">Loading…</p></main>;
  return (
    <main>
      <h1>Compliance</h1>
      <div className="actions">
        <label>ATO dates within <input type="number" min={1} max={3650} value={days} onChange={(event) => setDays(Math.max(1, Number(event.target.value) || 30))} style={{ width: "5rem" }} /> days</label>
        <button type="button" onClick={() => void download(`/api/v1/compliance?format=csv&days=${days}`, "compliance.csv")}>Download CSV</button>
      </div>
      <TableCard title="ATO dates expired or expiring" headings={["Stack", "ATO date", "Days left", "Status"]}>
        {report.ato.map((row) => <tr key={row.stack}><td>{row.stack}</td><td>{row.atoDate}</td><td>{row.daysLeft}</td><td><Badge tone={row.status === "expired" ? "bad" : "warn"}>{row.status}</Badge></td></tr>)}
      </TableCard>
      <TableCard title="Rule violations" headings={["Stack", "Team", "Rule", "Level", "Message"]}>
        {report.violations.map((row, index) => <tr key={index}><td>{row.stack}</td><td>{row.team}</td><td><code>{row.rule}</code></td><td><Badge tone={row.level === "deny" ? "bad" : "warn"}>{row.level}</Badge></td><td className="message">{row.message}</td></tr>)}
      </TableCard>
      <TableCard title="Resources missing required metadata" headings={["Stack", "Team", "Resource", "Key"]}>
        {report.missingMetadata.map((row, index) => <tr key={index}><td>{row.stack}</td><td>{row.team}</td><td><code>{row.resource}</code></td><td>{row.key}</td></tr>)}
      </TableCard>
      <TableCard title="Inventory" headings={["Team", "Owner", "Compliance level", "Resources"]}>
        {report.inventory.map((row) => <tr key={`${row.team}/${row.owner}/${row.complianceLevel}`}><td>{row.team}</td><td>{row.owner}</td><td>{row.complianceLevel}</td><td>{row.resources}</td></tr>)}
      </TableCard>
      <TableCard title="Drift in the last 30 days" headings={["Stack", "Found", "Healed"]}>
        {report.drift.filter((row) => row.found > 0).map((row) => <tr key={row.stack}><td>{row.stack}</td><td>{row.found}</td><td>{row.healed}</td></tr>)}
      </TableCard>
    </main>
  );
}

export function AuditPage() {
  const [stack, setStack] = useState("");
  const [resource, setResource] = useState("");
  const [actor, setActor] = useState("");
  const [kind, setKind] = useState("");
  const [events, setEvents] = useState<AuditEntry[]>([]);
  const query = new URLSearchParams({ limit: "500", order: "newest", ...(stack.trim() === "" ? {} : { stack: stack.trim() }), ...(resource.trim() === "" ? {} : { resource: resource.trim() }) }).toString();
  useEffect(() => {
    api<{ items: AuditEntry[] }>(`/api/v1/audit?${query}`).then((result) => setEvents(result.items), () => setEvents([]));
  }, [query]);
  const shown = events.filter((event) => (actor === "" || event.actor.includes(actor)) && (kind === "" || event.kind === kind));
  const kinds = [...new Set(events.map((event) => event.kind))].sort();
  return (
    <main>
      <h1>Audit trail</h1>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <label>Stack<input value={stack} onChange={(event) => setStack(event.target.value)} /></label>
        <label>Resource<input value={resource} placeholder="postgres.plumb.dev/v1/Role/app" onChange={(event) => setResource(event.target.value)} /></label>
        <label>Actor<input value={actor} onChange={(event) => setActor(event.target.value)} /></label>
        <label>Kind<select value={kind} onChange={(event) => setKind(event.target.value)}><option value="">any</option>{kinds.map((item) => <option key={item}>{item}</option>)}</select></label>
      </form>
      <div className="actions">
        <button type="button" onClick={() => void download(`/api/v1/audit?${query}`, "audit.json")}>Export JSON</button>
        <span className="muted">{shown.length} of the latest {events.length} events</span>
      </div>
      <TableCard headings={["#", "When", "Kind", "Stack", "Resource", "Actor", "Commit"]}>
        {shown.map((event) => (
          <tr key={event.sequence}>
            <td>{event.sequence}</td>
            <td>{new Date(event.at).toLocaleString()}</td>
            <td>{event.kind}</td>
            <td>{event.stack}</td>
            <td><code>{event.resource ?? "—"}</code></td>
            <td>{event.actor}</td>
            <td>{event.commit === null ? "—" : <><code>{shortRevision(event.commit)}</code> {event.commitMessage}</>}</td>
          </tr>
        ))}
      </TableCard>
    </main>
  );
}
