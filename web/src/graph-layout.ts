// Lays a stack's resources and claims out as a left-to-right graph: what a
// resource depends on stands in a column before it, a claim before what it
// composed. Pure (no DOM), so it is unit-tested and costs the same at any size.

export interface GraphInput {
  resources: readonly { address: string; dependsOn: readonly string[]; composite: string | null }[];
  claims: readonly { address: string; composite: string | null; children: readonly string[] }[];
  /** Claims shown folded: what they composed is hidden and its edges end at the claim. */
  collapsed: ReadonlySet<string>;
}

export interface GraphNode {
  address: string;
  type: "resource" | "claim";
  x: number;
  y: number;
  /** For a folded claim, how many resources it hides. */
  hidden: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  /** `depends`: `to` depends on `from`; `composed`: the claim `from` composed `to`. */
  type: "depends" | "composed";
}

export interface GraphLayout {
  nodes: GraphNode[];
  edges: GraphEdge[];
  width: number;
  height: number;
}

export const nodeWidth = 230;
export const nodeHeight = 46;
const columnGap = 56;
const rowGap = 12;
const margin = 12;
/** A column this tall wraps into the next one, so a stack of a thousand independent resources is a block, not a strip. */
export const rowsPerColumn = 20;

/** Where each address is shown: itself, or the outermost folded claim above it. */
function shownAs(input: GraphInput): Map<string, string> {
  const parentOf = new Map<string, string>();
  for (const claim of input.claims) for (const child of claim.children) parentOf.set(child, claim.address);
  const shown = new Map<string, string>();
  const resolve = (address: string): string => {
    const known = shown.get(address);
    if (known !== undefined) return known;
    let result = address;
    const seen = new Set<string>();
    for (let parent = parentOf.get(address); parent !== undefined && !seen.has(parent); parent = parentOf.get(parent)) {
      seen.add(parent);
      if (input.collapsed.has(parent)) result = parent;
    }
    shown.set(address, result);
    return result;
  };
  for (const claim of input.claims) resolve(claim.address);
  for (const resource of input.resources) resolve(resource.address);
  return shown;
}

export function layoutGraph(input: GraphInput): GraphLayout {
  const shown = shownAs(input);
  const visible: { address: string; type: GraphNode["type"] }[] = [
    ...input.claims.filter((claim) => shown.get(claim.address) === claim.address).map((claim) => ({ address: claim.address, type: "claim" as const })),
    ...input.resources
      .filter((resource) => shown.get(resource.address) === resource.address)
      .map((resource) => ({ address: resource.address, type: "resource" as const })),
  ];
  const hidden = new Map<string, number>();
  for (const resource of input.resources) {
    const at = shown.get(resource.address);
    if (at !== undefined && at !== resource.address) hidden.set(at, (hidden.get(at) ?? 0) + 1);
  }

  const edges: GraphEdge[] = [];
  const edgeKeys = new Set<string>();
  const addEdge = (from: string | undefined, to: string | undefined, type: GraphEdge["type"]) => {
    if (from === undefined || to === undefined || from === to) return;
    const key = `${from}\n${to}`;
    if (edgeKeys.has(key)) return;
    edgeKeys.add(key);
    edges.push({ from, to, type });
  };
  for (const claim of input.claims) {
    if (shown.get(claim.address) !== claim.address) continue;
    for (const child of claim.children) if (shown.get(child) === child) addEdge(claim.address, child, "composed");
  }
  for (const resource of input.resources) for (const dependency of resource.dependsOn) addEdge(shown.get(dependency), shown.get(resource.address), "depends");

  // A node's column is the longest chain of edges leading to it; a cycle (which the engine refuses) is cut where it closes.
  const incoming = new Map<string, string[]>();
  for (const edge of edges) {
    const sources = incoming.get(edge.to);
    if (sources === undefined) incoming.set(edge.to, [edge.from]);
    else sources.push(edge.from);
  }
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const layerOf = (address: string): number => {
    const known = layer.get(address);
    if (known !== undefined) return known;
    if (visiting.has(address)) return 0;
    visiting.add(address);
    let value = 0;
    for (const from of incoming.get(address) ?? []) value = Math.max(value, layerOf(from) + 1);
    visiting.delete(address);
    layer.set(address, value);
    return value;
  };
  const layers: string[][] = [];
  for (const node of visible) {
    const index = layerOf(node.address);
    (layers[index] ??= []).push(node.address);
  }

  // Inside a column, a node sits near the nodes that lead to it (their mean row), so edges cross less.
  const row = new Map<string, number>();
  const nodes: GraphNode[] = [];
  const types = new Map(visible.map((node) => [node.address, node.type]));
  let column = 0;
  let tallest = 0;
  for (const members of layers) {
    if (members === undefined || members.length === 0) continue;
    const weight = (address: string) => {
      const sources = incoming.get(address) ?? [];
      const placed = sources.map((source) => row.get(source)).filter((value): value is number => value !== undefined);
      return placed.length === 0 ? Number.POSITIVE_INFINITY : placed.reduce((sum, value) => sum + value, 0) / placed.length;
    };
    const ordered = members.map((address, index) => ({ address, index, weight: weight(address) })).sort((a, b) => a.weight - b.weight || a.index - b.index);
    ordered.forEach(({ address }, index) => {
      const wrapped = Math.floor(index / rowsPerColumn);
      const position = index % rowsPerColumn;
      row.set(address, position);
      nodes.push({
        address,
        type: types.get(address) ?? "resource",
        x: margin + (column + wrapped) * (nodeWidth + columnGap),
        y: margin + position * (nodeHeight + rowGap),
        hidden: hidden.get(address) ?? 0,
      });
      tallest = Math.max(tallest, position + 1);
    });
    column += Math.ceil(ordered.length / rowsPerColumn);
  }
  return {
    nodes,
    edges,
    width: margin * 2 + Math.max(1, column) * (nodeWidth + columnGap) - columnGap,
    height: margin * 2 + Math.max(1, tallest) * (nodeHeight + rowGap) - rowGap,
  };
}
