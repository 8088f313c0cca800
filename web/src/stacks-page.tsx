// The stacks table: search, filters, sorting and paging happen on the server,
// so the page stays fast with thousands of stacks; the event stream keeps it
// current, and the filters live in the URL so a view can be shared.

import { useCallback, useEffect, useRef, useState } from "react";
import { api, stackStates, type StackList } from "./api.js";
import { FavouriteStar, favouriteStacks, SavedViews } from "./saved-views.js";
import { StackTiles } from "./stack-tiles.js";
import { ago, Badge, Field, filtersInAddress, keepFiltersInAddress, shortRevision, stackState, stateLabel, useLiveReload, useViewChoice } from "./widgets.js";

const pageSize = 50;
/** Typing in the search or label box asks the server once the typing pauses this long. */
const typingPauseMs = 250;
const filterNames = ["q", "team", "environment", "stackSet", "state", "label", "favourites", "sort", "order", "offset"] as const;
type Filters = Partial<Record<(typeof filterNames)[number], string>>;

const columns = [
  { key: "name", label: "Stack" },
  { key: "state", label: "State" },
  { key: "environment", label: "Environment" },
  { key: "team", label: "Team" },
  { key: "stackset", label: "StackSet" },
  { key: undefined, label: "Labels" },
  { key: "revision", label: "Revision" },
  { key: "updated", label: "Updated" },
] as const;

/** Table or tiles: the choice is kept in this browser. */
const layoutKey = "plumb.stacksLayout";
const layouts = [
  { value: "table", label: "Table" },
  { value: "tiles", label: "Tiles" },
] as const;

function filtersFromQuery(parameters: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const name of filterNames) {
    const value = parameters.get(name);
    if (value !== null && value !== "") filters[name] = value;
  }
  return filters;
}

function filtersFromHash(): Filters {
  return filtersFromQuery(filtersInAddress());
}

/** The filters a saved view keeps: all but the page. */
function viewQuery(filters: Filters): string {
  return new URLSearchParams(
    Object.entries(filters).filter((entry): entry is [string, string] => entry[0] !== "offset" && entry[1] !== undefined && entry[1] !== ""),
  ).toString();
}

export function StacksPage() {
  const [filters, setFilters] = useState<Filters>(filtersFromHash);
  // What the server is asked for: the filters, once typing has paused.
  const [asked, setAsked] = useState<Filters>(filters);
  const [result, setResult] = useState<(StackList & { offset: number }) | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Each request takes a ticket; an answer to anything but the latest is dropped, so a slow early answer never replaces a newer one.
  const latestTicket = useRef(0);
  const [favourites, setFavourites] = useState(favouriteStacks);
  const [layout, layoutSwitch] = useViewChoice(layoutKey, layouts, "Show stacks as");
  const favouriteSet = new Set(favourites);
  const offset = Number(filters.offset ?? 0);

  useEffect(() => {
    const typed = (["q", "label"] as const).some((name) => (filters[name] ?? "") !== (asked[name] ?? ""));
    if (!typed) {
      setAsked(filters);
      return;
    }
    const timer = window.setTimeout(() => setAsked(filters), typingPauseMs);
    return () => window.clearTimeout(timer);
    // `asked` is compared, not followed: following it would re-arm the timer it just fired.
  }, [filters]);

  // The Stacks link in the navigation (a new address without filters) shows every stack again.
  useEffect(() => {
    const follow = () => setFilters(filtersFromHash());
    window.addEventListener("hashchange", follow);
    return () => window.removeEventListener("hashchange", follow);
  }, []);

  /** Changes some filters; any change but paging goes back to the first page. */
  const change = (changes: Filters) => {
    const next: Filters = { ...filters, offset: undefined, ...changes };
    setFilters(next);
    keepFiltersInAddress("/", Object.fromEntries(Object.entries(next).filter((entry): entry is [string, string] => entry[1] !== undefined)));
  };

  const load = useCallback(async () => {
    const ticket = ++latestTicket.current;
    const parameters = new URLSearchParams({ limit: String(pageSize) });
    for (const [name, value] of Object.entries(asked)) {
      if (value === undefined || value.trim() === "") continue;
      // Favourites live in this browser: the server is given their names.
      if (name === "favourites") {
        parameters.set("names", favourites.join(","));
        continue;
      }
      // A label filter is sent once it reads key=value; half-typed it would only be refused.
      if (name === "label" && !/^[^=]+=[^=]*$/.test(value.trim())) continue;
      parameters.set(name, value.trim());
    }
    try {
      const answer = await api<StackList>(`/api/v1/stacks?${parameters.toString()}`);
      if (ticket !== latestTicket.current) return;
      setResult({ ...answer, offset: Number(asked.offset ?? 0) });
      setError(null);
    } catch (failure) {
      if (ticket === latestTicket.current) setError((failure as Error).message);
    }
  }, [asked, favourites]);

  const reload = useCallback(() => void load(), [load]);
  useEffect(reload, [reload]);

  // A status change anywhere reloads the page in view, at most every 500 ms.
  useLiveReload(reload, 500);

  const total = result?.total ?? 0;
  // The pager counts the rows on screen, not the page asked for and not yet answered.
  const shownOffset = result?.offset ?? offset;
  const filtered = filterNames.some((name) => name !== "sort" && name !== "order" && name !== "offset" && (filters[name] ?? "") !== "");
  const sort = filters.sort ?? "name";
  const order = filters.order === "desc" ? "desc" : "asc";
  const facets = result?.facets;
  const select = (name: "team" | "environment" | "stackSet", label: string, values: string[] | undefined) => (
    <Field label={label}>
      {(id) => (
        <select id={id} value={filters[name] ?? ""} onChange={(event) => change({ [name]: event.target.value })}>
          <option value="">any</option>
          {(values ?? []).map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
          {filters[name] !== undefined && !(values ?? []).includes(filters[name]) ? <option value={filters[name]}>{filters[name]}</option> : null}
        </select>
      )}
    </Field>
  );
  return (
    <main>
      <h1>Stacks</h1>
      <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
        <Field label="Search">
          {(id) => <input id={id} type="search" placeholder="name" value={filters.q ?? ""} onChange={(event) => change({ q: event.target.value })} />}
        </Field>
        {select("team", "Team", facets?.teams)}
        {select("environment", "Environment", facets?.environments)}
        {facets === undefined || facets.stackSets.length === 0 ? null : select("stackSet", "StackSet", [...facets.stackSets, "-"])}
        <Field label="State">
          {(id) => (
            <select id={id} value={filters.state ?? ""} onChange={(event) => change({ state: event.target.value })}>
              <option value="">any</option>
              {stackStates.map((state) => (
                <option key={state} value={state}>
                  {stateLabel(state)}
                  {facets === undefined ? "" : ` (${facets.states[state]})`}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Label">
          {(id) => (
            <input id={id} type="text" placeholder="tier=gold" value={filters.label ?? ""} onChange={(event) => change({ label: event.target.value })} />
          )}
        </Field>
        <div className="field checkbox">
          <label>
            <input type="checkbox" checked={filters.favourites === "1"} onChange={(event) => change({ favourites: event.target.checked ? "1" : undefined })} />{" "}
            Favourites only
          </label>
        </div>
        <Field label="Sort by" className="phone-only">
          {(id) => (
            <select
              id={id}
              value={`${sort} ${order}`}
              onChange={(event) => {
                const [key, direction] = event.target.value.split(" ");
                change({ sort: key, order: direction });
              }}
            >
              {columns.flatMap((column) =>
                column.key === undefined
                  ? []
                  : [
                      <option key={`${column.key} asc`} value={`${column.key} asc`}>
                        {column.label} ↑
                      </option>,
                      <option key={`${column.key} desc`} value={`${column.key} desc`}>
                        {column.label} ↓
                      </option>,
                    ],
              )}
            </select>
          )}
        </Field>
      </form>
      <div className="list-tools">
        <SavedViews
          current={viewQuery(filters)}
          onChoose={(query) => {
            const chosen = filtersFromQuery(new URLSearchParams(query));
            change(Object.fromEntries(filterNames.map((name) => [name, chosen[name]])));
          }}
        />
        {layoutSwitch}
      </div>
      {filtered ? (
        <p className="filter-actions">
          <button
            type="button"
            className="link"
            onClick={() => change(Object.fromEntries(filterNames.filter((name) => name !== "sort" && name !== "order").map((name) => [name, undefined])))}
          >
            Clear filters
          </button>
        </p>
      ) : null}
      {error === null ? null : (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {layout === "tiles" ? <StackTiles stacks={result?.items ?? []} favourites={favouriteSet} onFavourites={setFavourites} /> : null}
      <table className="stacks" hidden={layout === "tiles"}>
        <thead>
          <tr>
            <th scope="col" className="favourite">
              <span className="sr-only">Favourite</span>
            </th>
            {columns.map((column) => {
              if (column.key === undefined)
                return (
                  <th key={column.label} scope="col">
                    {column.label}
                  </th>
                );
              const active = sort === column.key;
              return (
                <th key={column.key} scope="col" aria-sort={active ? (order === "asc" ? "ascending" : "descending") : "none"}>
                  <button type="button" className="sort" onClick={() => change({ sort: column.key, order: active && order === "asc" ? "desc" : "asc" })}>
                    {column.label}
                    <span aria-hidden="true">{active ? (order === "asc" ? " ▲" : " ▼") : ""}</span>
                  </button>
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {(result?.items ?? []).map((stack) => {
            const state = stackState(stack);
            return (
              <tr key={stack.name}>
                <td className="favourite">
                  <FavouriteStar stack={stack.name} favourite={favouriteSet.has(stack.name)} onChange={setFavourites} />
                </td>
                <th scope="row">
                  <a href={`#/stacks/${encodeURIComponent(stack.name)}`}>{stack.name}</a>
                </th>
                <td>
                  <Badge tone={state.tone}>{state.label}</Badge>
                  {stack.drift === null || stack.state === "Drifted" ? null : stack.drift.healed ? (
                    <Badge tone="muted" title="drift found at the last check was put back">
                      healed
                    </Badge>
                  ) : (
                    <Badge tone="warn">drift</Badge>
                  )}
                </td>
                <td data-label="env">{stack.environment ?? "—"}</td>
                <td data-label="team">{stack.labels.team ?? "—"}</td>
                <td data-label="stackset">
                  {stack.stackSet === null ? (
                    "—"
                  ) : (
                    <button type="button" className="link" onClick={() => change({ stackSet: stack.stackSet ?? undefined })}>
                      {stack.stackSet}
                    </button>
                  )}
                </td>
                <td className="labels">
                  {Object.entries(stack.labels)
                    .filter(([key]) => key !== "team" && key !== "plumb.dev/stackset")
                    .map(([key, value]) => (
                      <span key={key} className="label">
                        {key}={value}
                      </span>
                    ))}
                </td>
                <td>
                  <code>{shortRevision(stack.lastAppliedRevision)}</code>
                </td>
                <td>
                  {stack.updatedAt === null ? (
                    "—"
                  ) : (
                    <time dateTime={stack.updatedAt} title={new Date(stack.updatedAt).toLocaleString()}>
                      {ago(stack.updatedAt)}
                    </time>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {result !== null && result.items.length === 0 ? <p className="empty">No stacks match.</p> : null}
      <nav className="pager" aria-label="Pages">
        <button type="button" disabled={offset === 0} onClick={() => change({ offset: String(Math.max(0, offset - pageSize)) })}>
          Previous
        </button>
        <span>
          {total === 0 ? "0" : `${shownOffset + 1}–${Math.min(shownOffset + pageSize, total)}`} of {total}
        </span>
        <button type="button" disabled={offset + pageSize >= total} onClick={() => change({ offset: String(offset + pageSize) })}>
          Next
        </button>
      </nav>
    </main>
  );
}
