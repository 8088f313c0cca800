// The stack's resources as a graph: an arrow from each resource to what
// depends on it and from each claim to what it composed, every node with its
// health icon, sync state and drift; a claim folds away what it composed.
// Only the part in view (and a screen around it) is in the page.

import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import type { ClaimItem, ResourceItem } from "./api.js";
import { layoutGraph, nodeHeight, nodeWidth } from "./graph-layout.js";

type Health = ResourceItem["health"] | "Ready" | "NotReady";

/** The health icon: a check, a partial ring, a cross or a question mark in a circle, each with its own colour. */
function HealthIcon({ health, x, y }: { health: Health; x: number; y: number }) {
  const kind =
    health === "Healthy" || health === "Ready"
      ? "healthy"
      : health === "Degraded"
        ? "degraded"
        : health === "Progressing" || health === "NotReady"
          ? "progressing"
          : "unknown";
  return (
    <g className={`health-icon ${kind}`} transform={`translate(${x} ${y})`} aria-hidden="true">
      <circle r="8" />
      {kind === "healthy" ? <path d="M-4 0 L-1 3 L4 -3" /> : null}
      {kind === "degraded" ? <path d="M-3.5 -3.5 L3.5 3.5 M3.5 -3.5 L-3.5 3.5" /> : null}
      {kind === "progressing" ? <path d="M0 -5 A5 5 0 0 1 5 0" /> : null}
      {kind === "unknown" ? (
        <text y="4" textAnchor="middle">
          ?
        </text>
      ) : null}
    </g>
  );
}

function clip(text: string, characters: number): string {
  return text.length > characters ? `${text.slice(0, characters - 1)}…` : text;
}

/**
 * One node: a button with the health icon, kind and name, and something in its
 * top-right corner. Its accessible name starts with the text on screen, so what
 * a person sees is what a voice command says (each text ends in a space: SVG
 * text elements are joined without one).
 */
function GraphNode({
  x,
  y,
  className,
  address,
  kind,
  name,
  health,
  title,
  corner,
  cornerText,
  description,
  expanded,
  onActivate,
}: {
  x: number;
  y: number;
  className: string;
  address: string;
  kind: string;
  name: string;
  health: Health;
  title: string;
  corner: ReactNode;
  /** The corner's text as it reads on screen ("" for a drawn mark). */
  cornerText: string;
  description: string;
  expanded?: boolean;
  onActivate: () => void;
}) {
  const shownKind = clip(kind, 22);
  const shownName = clip(name, 26);
  return (
    <g
      className={`node ${className}`}
      transform={`translate(${x} ${y})`}
      role="button"
      tabIndex={0}
      {...(expanded === undefined ? {} : { "aria-expanded": expanded })}
      aria-label={`${shownKind} ${shownName}${cornerText}, ${description}`}
      data-address={address}
      onClick={onActivate}
      onKeyDown={(event: KeyboardEvent) => {
        if (event.key !== "Enter" && event.key !== " ") return;
        event.preventDefault();
        onActivate();
      }}
    >
      <title>{title}</title>
      <rect width={nodeWidth} height={nodeHeight} rx="6" />
      <HealthIcon health={health} x={16} y={nodeHeight / 2} />
      <text x="32" y="18" className="node-kind">
        {`${shownKind} `}
      </text>
      <text x="32" y="35" className="node-name">
        {`${shownName} `}
      </text>
      {corner}
    </g>
  );
}

export function ResourceGraph({
  resources,
  claims,
  selected,
  onSelect,
}: {
  resources: readonly ResourceItem[];
  claims: readonly ClaimItem[];
  selected: string | null;
  onSelect: (address: string) => void;
}) {
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const layout = useMemo(() => layoutGraph({ resources, claims, collapsed }), [resources, claims, collapsed]);
  const resourceByAddress = useMemo(() => new Map(resources.map((resource) => [resource.address, resource])), [resources]);
  const claimByAddress = useMemo(() => new Map(claims.map((claim) => [claim.address, claim])), [claims]);
  const position = useMemo(() => new Map(layout.nodes.map((node) => [node.address, node])), [layout]);
  // Only what is in view (and a screen around it) is drawn, so a stack of thousands of resources draws as fast as one of fifty.
  const region = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ left: 0, top: 0, width: 1600, height: 1000 });
  const measure = () => {
    const element = region.current;
    if (element !== null) setView({ left: element.scrollLeft, top: element.scrollTop, width: element.clientWidth, height: element.clientHeight });
  };
  useEffect(() => {
    const element = region.current;
    if (element === null) return;
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  const inView = (left: number, top: number, right: number, bottom: number) =>
    right >= view.left - view.width && left <= view.left + 2 * view.width && bottom >= view.top - view.height && top <= view.top + 2 * view.height;
  const toggle = (address: string) => {
    const next = new Set(collapsed);
    if (next.has(address)) next.delete(address);
    else next.add(address);
    setCollapsed(next);
  };
  return (
    <div ref={region} className="scroll graph" role="region" aria-label="Resource graph" tabIndex={0} onScroll={measure}>
      <svg width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`}>
        <defs>
          <marker id="graph-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0 0 L8 4 L0 8 z" className="arrow-head" />
          </marker>
        </defs>
        <g className="edges">
          {layout.edges.map((edge) => {
            const from = position.get(edge.from);
            const to = position.get(edge.to);
            if (from === undefined || to === undefined) return null;
            if (!inView(Math.min(from.x, to.x), Math.min(from.y, to.y), Math.max(from.x, to.x) + nodeWidth, Math.max(from.y, to.y) + nodeHeight)) return null;
            const startX = from.x + nodeWidth;
            const startY = from.y + nodeHeight / 2;
            const endX = to.x;
            const endY = to.y + nodeHeight / 2;
            const bend = Math.max(24, (endX - startX) / 2);
            return (
              <path
                key={`${edge.from}>${edge.to}`}
                className={`edge ${edge.type}`}
                d={`M${startX} ${startY} C${startX + bend} ${startY} ${endX - bend} ${endY} ${endX} ${endY}`}
                markerEnd="url(#graph-arrow)"
              />
            );
          })}
        </g>
        {layout.nodes.map((node) => {
          if (!inView(node.x, node.y, node.x + nodeWidth, node.y + nodeHeight)) return null;
          if (node.type === "claim") {
            const claim = claimByAddress.get(node.address);
            if (claim === undefined) return null;
            const folded = collapsed.has(claim.address);
            return (
              <GraphNode
                key={node.address}
                x={node.x}
                y={node.y}
                className={`claim${folded ? " folded" : ""}`}
                address={claim.address}
                kind={claim.kind}
                name={claim.name}
                health={claim.ready ? "Ready" : "NotReady"}
                title={claim.reason}
                corner={
                  folded ? (
                    <text x={nodeWidth - 10} y="18" textAnchor="end" className="fold-mark">
                      +{node.hidden}
                    </text>
                  ) : (
                    <path className="fold-mark" d={`M${nodeWidth - 20} 14 h10`} />
                  )
                }
                cornerText={folded ? ` +${node.hidden}` : ""}
                description={`${claim.ready ? "ready" : `not ready, ${claim.reason}`}; ${folded ? `folded, ${node.hidden} composed resources hidden; press to unfold` : `${claim.children.length} composed; press to fold`}`}
                expanded={!folded}
                onActivate={() => toggle(claim.address)}
              />
            );
          }
          const resource = resourceByAddress.get(node.address);
          if (resource === undefined) return null;
          const drift = resource.drift !== null;
          const sync = resource.status === "Failed" ? "Failed" : drift ? "Drift" : "Synced";
          return (
            <GraphNode
              key={node.address}
              x={node.x}
              y={node.y}
              className={`resource${selected === resource.address ? " selected" : ""}${resource.status === "Failed" ? " failed" : ""}${drift ? " drifted" : ""}`}
              address={resource.address}
              kind={resource.kind}
              name={resource.name}
              health={resource.health}
              title={resource.address}
              corner={
                <text x={nodeWidth - 10} y="18" textAnchor="end" className={`node-sync ${resource.status === "Failed" ? "bad" : drift ? "warn" : "good"}`}>
                  {sync}
                </text>
              }
              cornerText={` ${sync}`}
              description={`${resource.health}: ${resource.address}; press to open its diff`}
              onActivate={() => onSelect(resource.address)}
            />
          );
        })}
      </svg>
    </div>
  );
}
