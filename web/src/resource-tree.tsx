// A stack's resources as a list: the tree of composite claims with what they
// composed, each resource with status, health and drift badges, a Diff link
// and (for a person who may sync) a box that chooses it; windowed, so a stack
// of thousands of resources draws as fast as one of fifty.

import { useState } from "react";
import type { ClaimItem, ResourceItem } from "./api.js";
import { Badge } from "./widgets.js";

interface TreeData {
  resources: readonly ResourceItem[];
  claims: readonly ClaimItem[];
}

function tone(value: string): string {
  return value === "Synced" || value === "Healthy" ? "good" : value === "Failed" || value === "Degraded" ? "bad" : "muted";
}

type TreeRow = { type: "claim"; claim: ClaimItem; depth: number } | { type: "resource"; resource: ResourceItem; depth: number };

/** Claims first, each followed by what it composed (nested claims recursively), then the other resources. */
function treeRows(data: TreeData): TreeRow[] {
  const byAddress = new Map(data.resources.map((resource) => [resource.address, resource]));
  const claims = new Map(data.claims.map((claim) => [claim.address, claim]));
  const rows: TreeRow[] = [];
  const placed = new Set<string>();
  const addClaim = (claim: ClaimItem, depth: number) => {
    rows.push({ type: "claim", claim, depth });
    for (const child of claim.children) {
      const nested = claims.get(child);
      if (nested !== undefined) addClaim(nested, depth + 1);
      const resource = byAddress.get(child);
      if (resource !== undefined) {
        placed.add(child);
        rows.push({ type: "resource", resource, depth: depth + 1 });
      }
    }
  };
  for (const claim of data.claims.filter((item) => item.composite === null)) addClaim(claim, 0);
  for (const resource of data.resources) if (!placed.has(resource.address)) rows.push({ type: "resource", resource, depth: 0 });
  return rows;
}

const rowHeight = 44;
const overscan = 10;

/** What a person may choose resources for (a selective sync or its dry run); absent for a read-only token. */
export interface Choice {
  chosen: ReadonlySet<string>;
  toggle: (address: string) => void;
}

function Row({ row, onDiff, choice }: { row: TreeRow; onDiff: (address: string) => void; choice: Choice | undefined }) {
  const indent = { paddingLeft: `${0.5 + row.depth * 1.25}rem` };
  if (row.type === "claim") {
    const { claim } = row;
    return (
      <tr className="claim">
        {choice === undefined ? null : <td />}
        <td className="name" style={indent}>
          <span className="kind">{claim.kind}</span> {claim.name}
        </td>
        <td>
          <Badge tone={claim.ready ? "good" : "warn"} title={claim.reason}>
            {claim.ready ? "Ready" : "Not ready"}
          </Badge>
        </td>
        <td className="muted">{claim.children.length} composed</td>
      </tr>
    );
  }
  const { resource } = row;
  return (
    <tr data-address={resource.address}>
      {choice === undefined ? null : (
        <td className="choose">
          <input
            type="checkbox"
            aria-label={`Choose ${resource.address}`}
            checked={choice.chosen.has(resource.address)}
            onChange={() => choice.toggle(resource.address)}
          />
        </td>
      )}
      <td className="name" style={indent}>
        <span className="kind">{resource.kind}</span> {resource.name}
        {resource.wave === undefined ? null : (
          <Badge tone="muted" title="plumb.dev/sync-wave: lower waves are applied, and healthy, first">
            wave {resource.wave}
          </Badge>
        )}
      </td>
      <td>
        <Badge tone={tone(resource.status)}>{resource.status}</Badge>
        <Badge tone={tone(resource.health)}>{resource.health}</Badge>
        {resource.drift === null ? null : (
          <Badge tone="warn" title={resource.drift.join(", ")}>
            drift: {resource.drift.join(", ")}
          </Badge>
        )}
        {resource.healed === null ? null : (
          <Badge tone="muted" title={`changed by hand and put back: ${resource.healed.join(", ")}`}>
            healed: {resource.healed.join(", ")}
          </Badge>
        )}
      </td>
      <td>
        <button type="button" className="link" onClick={() => onDiff(resource.address)} aria-label={`Diff of ${resource.address}`}>
          Diff
        </button>
      </td>
    </tr>
  );
}

/**
 * The resource tree, windowed: only the rows in view (and a few around them)
 * are in the page, so a stack of thousands of resources renders as fast as one of fifty.
 */
export function ResourceTree({ data, onDiff, choice }: { data: TreeData; onDiff: (address: string) => void; choice: Choice | undefined }) {
  const rows = treeRows(data);
  const [scrollTop, setScrollTop] = useState(0);
  const viewport = Math.min(rows.length, 14) * rowHeight;
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(rows.length, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return (
    <div className="scroll tree" style={{ maxHeight: `${viewport + rowHeight}px` }} onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)}>
      <table className="resources">
        <thead>
          <tr>
            {choice === undefined ? null : (
              <th scope="col" className="choose">
                <span className="sr-only">Chosen</span>
              </th>
            )}
            <th scope="col" className="name">
              Resource
            </th>
            <th scope="col">Status</th>
            <th scope="col" className="diff-link">
              <span className="sr-only">Diff</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {first > 0 ? <tr aria-hidden="true" style={{ height: `${first * rowHeight}px` }} /> : null}
          {rows.slice(first, last).map((row) => (
            <Row key={row.type === "claim" ? row.claim.address : row.resource.address} row={row} onDiff={onDiff} choice={choice} />
          ))}
          {last < rows.length ? <tr aria-hidden="true" style={{ height: `${(rows.length - last) * rowHeight}px` }} /> : null}
        </tbody>
      </table>
    </div>
  );
}
