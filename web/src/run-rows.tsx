// One run of a stack as table rows: when, why, which revision, the result and
// what it planned; "Details" opens its error and the journal of what it changed.

import { useState } from "react";
import { api, type RunItem } from "./api.js";
import { Badge, runTone, shortRevision } from "./widgets.js";

interface RunDetail {
  run: RunItem;
  changes: { address: string; action: string; state: string; outcome: string | null; at: string }[];
}

/** One run; "Details" opens its error and the journal of what it changed, fetched when asked for. */
export function RunRows({ stack, run }: { stack: string; run: RunItem }) {
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
