// The environments matrix — which revision each application runs where — from
// one compact API answer for the whole fleet; a search narrows it and only the
// first rows are drawn until asked for all.

import { useCallback, useEffect, useState } from "react";
import { api, type StackStateWord } from "./api.js";
import { Badge, Field, filtersInAddress, keepFiltersInAddress, shortRevision, stackStateTone, stateLabel, TableCard, useLiveReload } from "./widgets.js";

interface Promotion {
  from: string;
  revision: string;
  allowed: boolean;
  rule?: string;
  reason?: string;
}

interface EnvironmentMatrix {
  environments: string[];
  applications: { name: string; cells: Record<string, { stack: string; revision: string | null; state: StackStateWord; promotion?: Promotion }> }[];
}

/** What waits to come into this cell from the environment before it, and whether the PromotionPolicy lets it. */
function PendingPromotion({ application, environment, promotion }: { application: string; environment: string; promotion: Promotion }) {
  const command = `plumb promote ${application} --from ${promotion.from} --to ${environment}`;
  return (
    <div className="promotion">
      {promotion.allowed ? (
        <Badge tone="accent" title={`Promotable: ${command}`}>
          {shortRevision(promotion.revision)} from {promotion.from}: promotable
        </Badge>
      ) : (
        <Badge tone="muted" title={promotion.reason}>
          {shortRevision(promotion.revision)} from {promotion.from}: held by {promotion.rule}
        </Badge>
      )}
    </div>
  );
}

const firstRows = 100;

export function EnvironmentsPage() {
  const [matrix, setMatrix] = useState<EnvironmentMatrix | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [query, setQuery] = useState(() => filtersInAddress().get("q") ?? "");
  const [all, setAll] = useState(false);
  useEffect(() => keepFiltersInAddress("/environments", { q: query }), [query]);
  // Live: a new revision anywhere reloads the matrix, at most every 2 s.
  const load = useCallback(() => {
    api<EnvironmentMatrix>("/api/v1/environments").then(
      (result) => {
        setMatrix(result);
        setError(null);
      },
      (failure: Error) => setError(failure.message),
    );
  }, []);
  useEffect(load, [load]);
  useLiveReload(load, 2000);
  if (matrix === null)
    return (
      <main>
        <h1>Environments</h1>
        {error === null ? (
          <p className="loading">Loading…</p>
        ) : (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </main>
    );
  const needle = query.trim().toLowerCase();
  const matching = needle === "" ? matrix.applications : matrix.applications.filter((application) => application.name.toLowerCase().includes(needle));
  const shown = all ? matching : matching.slice(0, firstRows);
  return (
    <main>
      <h1>Environments</h1>
      <p className="muted">
        Which revision each application runs in each environment (stacks grouped by their <code>app</code> label, else by name without the environment), and
        what waits to be promoted from the environment before, with the rule that holds it.
      </p>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Application">
          {(id) => <input id={id} type="search" placeholder="name" value={query} onChange={(event) => setQuery(event.target.value)} />}
        </Field>
      </form>
      {error === null ? null : (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <TableCard label="Applications by environment" headings={["Application", ...matrix.environments]}>
        {shown.map((application) => (
          <tr key={application.name}>
            <th scope="row">{application.name}</th>
            {matrix.environments.map((environment) => {
              const cell = application.cells[environment];
              if (cell === undefined)
                return (
                  <td key={environment} className="muted">
                    —
                  </td>
                );
              return (
                <td key={environment}>
                  <a href={`#/stacks/${encodeURIComponent(cell.stack)}`} title={cell.stack}>
                    <code>{shortRevision(cell.revision)}</code>
                  </a>{" "}
                  <Badge tone={stackStateTone(cell.state)}>{stateLabel(cell.state)}</Badge>
                  {cell.promotion === undefined ? null : (
                    <PendingPromotion application={application.name} environment={environment} promotion={cell.promotion} />
                  )}
                </td>
              );
            })}
          </tr>
        ))}
      </TableCard>
      {shown.length < matching.length ? (
        <p>
          Showing {shown.length} of {matching.length} applications.{" "}
          <button type="button" onClick={() => setAll(true)}>
            Show all {matching.length}
          </button>
        </p>
      ) : null}
    </main>
  );
}
