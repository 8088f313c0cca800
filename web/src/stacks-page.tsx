// The stacks table: search, filters and paging happen on the server, so the
// page stays fast with thousands of stacks; the event stream keeps it current.

import { useCallback, useEffect, useRef, useState } from "react";
import { api, subscribe, type StackSummary } from "./api.js";
import { Badge, shortRevision, stackState } from "./widgets.js";

const pageSize = 50;
const conditions = ["", "Ready", "NotReady", "Stalled", "Degraded", "Reconciling"];

export function StacksPage() {
  const [query, setQuery] = useState("");
  const [label, setLabel] = useState("");
  // The overview's tiles link here with ?condition=… in the hash.
  const [condition, setCondition] = useState(() => new URLSearchParams(window.location.hash.split("?")[1] ?? "").get("condition") ?? "");
  const [offset, setOffset] = useState(0);
  const [result, setResult] = useState<{ total: number; items: StackSummary[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const pending = useRef<number | undefined>(undefined);

  const load = useCallback(async () => {
    const parameters = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
    if (query.trim() !== "") parameters.set("q", query.trim());
    if (/^[^=]+=[^=]*$/.test(label.trim())) parameters.set("label", label.trim());
    if (condition !== "") parameters.set("condition", condition);
    try {
      setResult(await api<{ total: number; items: StackSummary[] }>(`/api/v1/stacks?${parameters.toString()}`));
      setError(null);
    } catch (failure) {
      setError((failure as Error).message);
    }
  }, [query, label, condition, offset]);

  useEffect(() => {
    void load();
  }, [load]);

  // A status change anywhere reloads the page in view, at most every 500 ms.
  useEffect(() => {
    const controller = new AbortController();
    subscribe(
      (type) => {
        if (type !== "status" || pending.current !== undefined) return;
        pending.current = window.setTimeout(() => {
          pending.current = undefined;
          void load();
        }, 500);
      },
      controller.signal,
    );
    return () => controller.abort();
  }, [load]);

  const total = result?.total ?? 0;
  return (
    <main>
      <h1>Stacks</h1>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <label>
          Search
          <input type="search" placeholder="name" value={query} onChange={(event) => { setQuery(event.target.value); setOffset(0); }} />
        </label>
        <label>
          Label
          <input type="text" placeholder="team=payments" value={label} onChange={(event) => { setLabel(event.target.value); setOffset(0); }} />
        </label>
        <label>
          Condition
          <select value={condition} onChange={(event) => { setCondition(event.target.value); setOffset(0); }}>
            {conditions.map((item) => (
              <option key={item} value={item}>{item === "" ? "any" : item}</option>
            ))}
          </select>
        </label>
      </form>
      {error === null ? null : <p role="alert" className="error">{error}</p>}
      <table className="stacks">
        <thead>
          <tr>
            <th scope="col">Stack</th>
            <th scope="col">State</th>
            <th scope="col">Environment</th>
            <th scope="col">Labels</th>
            <th scope="col">Revision</th>
          </tr>
        </thead>
        <tbody>
          {(result?.items ?? []).map((stack) => {
            const state = stackState(stack);
            return (
              <tr key={stack.name}>
                <th scope="row"><a href={`#/stacks/${encodeURIComponent(stack.name)}`}>{stack.name}</a></th>
                <td><Badge tone={state.tone}>{state.label}</Badge>{stack.drift === null ? null : <Badge tone="warn">drift</Badge>}</td>
                <td>{stack.environment ?? "—"}</td>
                <td className="labels">{Object.entries(stack.labels).map(([key, value]) => <span key={key} className="label">{key}={value}</span>)}</td>
                <td><code>{shortRevision(stack.lastAppliedRevision)}</code></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {result !== null && result.items.length === 0 ? <p className="empty">No stacks match.</p> : null}
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - pageSize))}>Previous</button>
        <span>{total === 0 ? "0" : `${offset + 1}–${Math.min(offset + pageSize, total)}`} of {total}</span>
        <button type="button" disabled={offset + pageSize >= total} onClick={() => setOffset(offset + pageSize)}>Next</button>
      </nav>
    </main>
  );
}
