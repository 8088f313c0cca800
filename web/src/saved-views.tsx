// What a person keeps in this browser: favourite stacks (a star on each) and
// named views of the stacks page (its filters and sort), both in localStorage,
// so nothing about one person's habits reaches the server or another person.

import { useState } from "react";

const favouritesKey = "plumb.favourites";
const viewsKey = "plumb.savedViews";

export interface SavedView {
  name: string;
  /** The stacks page's filters as an address query: q=pay&team=payments&sort=state. */
  query: string;
}

function readList<Item>(key: string, valid: (item: unknown) => item is Item): Item[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(key) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter(valid) : [];
  } catch {
    // Something else wrote the key; it starts again empty rather than breaking the page.
    return [];
  }
}

export function favouriteStacks(): string[] {
  return readList(favouritesKey, (item): item is string => typeof item === "string");
}

export function setFavourite(stack: string, favourite: boolean): string[] {
  const next = favouriteStacks().filter((name) => name !== stack);
  if (favourite) next.push(stack);
  next.sort();
  localStorage.setItem(favouritesKey, JSON.stringify(next));
  return next;
}

export function savedViews(): SavedView[] {
  return readList(
    viewsKey,
    (item): item is SavedView =>
      typeof item === "object" && item !== null && typeof (item as SavedView).name === "string" && typeof (item as SavedView).query === "string",
  );
}

function storeViews(views: SavedView[]): SavedView[] {
  localStorage.setItem(viewsKey, JSON.stringify(views));
  return views;
}

export function FavouriteStar({ stack, favourite, onChange }: { stack: string; favourite: boolean; onChange: (favourites: string[]) => void }) {
  return (
    <button
      type="button"
      className={`star${favourite ? " on" : ""}`}
      aria-pressed={favourite}
      aria-label={`Favourite ${stack}`}
      title={favourite ? "A favourite: click to remove" : "Add to favourites"}
      onClick={() => onChange(setFavourite(stack, !favourite))}
    >
      {favourite ? "★" : "☆"}
    </button>
  );
}

/** Choose a saved view, save the one on screen under a name, or delete the one chosen. */
export function SavedViews({ current, onChoose }: { current: string; onChoose: (query: string) => void }) {
  const [views, setViews] = useState(savedViews);
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState("");
  const chosen = views.find((view) => view.query === current);
  const save = () => {
    const trimmed = name.trim();
    if (trimmed === "") return;
    setViews(storeViews([...views.filter((view) => view.name !== trimmed), { name: trimmed, query: current }].sort((a, b) => a.name.localeCompare(b.name))));
    setNaming(false);
    setName("");
  };
  return (
    <div className="saved-views">
      <label>
        Saved views
        <select value={chosen?.name ?? ""} onChange={(event) => onChoose(views.find((view) => view.name === event.target.value)?.query ?? "")}>
          <option value="">{views.length === 0 ? "none saved yet" : "choose a view"}</option>
          {views.map((view) => (
            <option key={view.name} value={view.name}>
              {view.name}
            </option>
          ))}
        </select>
      </label>
      {naming ? (
        <form
          className="save-view"
          onSubmit={(event) => {
            event.preventDefault();
            save();
          }}
        >
          <label>
            View name
            <input type="text" value={name} maxLength={80} autoFocus onChange={(event) => setName(event.target.value)} />
          </label>
          <button type="submit" disabled={name.trim() === ""}>
            Save
          </button>
          <button type="button" onClick={() => setNaming(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <button type="button" onClick={() => setNaming(true)}>
          Save this view
        </button>
      )}
      {chosen === undefined ? null : (
        <button type="button" className="link" onClick={() => setViews(storeViews(views.filter((view) => view !== chosen)))}>
          Delete view “{chosen.name}”
        </button>
      )}
    </div>
  );
}
