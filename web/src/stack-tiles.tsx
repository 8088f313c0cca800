// The stacks as tiles: one card a stack with its state, sync and health
// words, environment, team, revision and age — the summary view for a wall
// screen or a quick look, over the same page of results as the table.

import type { StackSummary } from "./api.js";
import { FavouriteStar } from "./saved-views.js";
import { ago, Badge, shortRevision, stackState, syncAndHealth } from "./widgets.js";

export function StackTiles({
  stacks,
  favourites,
  onFavourites,
}: {
  stacks: readonly StackSummary[];
  favourites: ReadonlySet<string>;
  onFavourites: (favourites: string[]) => void;
}) {
  return (
    <ul className="stack-tiles" aria-label="Stacks as tiles">
      {stacks.map((stack) => {
        const state = stackState(stack);
        const words = syncAndHealth(stack);
        return (
          <li key={stack.name} className={`stack-tile ${state.tone}`} data-stack={stack.name}>
            <div className="stack-tile-head">
              <a href={`#/stacks/${encodeURIComponent(stack.name)}`}>{stack.name}</a>
              <FavouriteStar stack={stack.name} favourite={favourites.has(stack.name)} onChange={onFavourites} />
            </div>
            <p>
              <Badge tone={state.tone}>{state.label}</Badge> <Badge tone={words.sync.tone}>{words.sync.word}</Badge>{" "}
              <Badge tone={words.health.tone}>{words.health.word}</Badge>
            </p>
            <dl>
              <dt>Environment</dt>
              <dd>{stack.environment ?? "—"}</dd>
              <dt>Team</dt>
              <dd>{stack.labels.team ?? "—"}</dd>
              <dt>Revision</dt>
              <dd>
                <code>{shortRevision(stack.lastAppliedRevision)}</code>
              </dd>
              <dt>Updated</dt>
              <dd>{stack.updatedAt === null ? "—" : ago(stack.updatedAt)}</dd>
            </dl>
          </li>
        );
      })}
    </ul>
  );
}
