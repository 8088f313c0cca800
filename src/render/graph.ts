// Orders resources so that every dependency comes before its dependents, and
// finds every dependency cycle (each named in full) when there is no such order.

export interface GraphNode {
  address: string;
  dependsOn: readonly string[];
}

export type GraphResult = { order: string[] } | { cycles: string[][] };

/**
 * Kahn's algorithm over nodes visited in the order given, so the same input
 * always yields the same order. Edges to addresses outside `nodes` are ignored.
 */
export function orderGraph(nodes: readonly GraphNode[]): GraphResult {
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const node of nodes) {
    indegree.set(node.address, 0);
    dependents.set(node.address, []);
  }
  for (const node of nodes) {
    for (const dependency of node.dependsOn) {
      const list = dependents.get(dependency);
      if (list === undefined) continue;
      list.push(node.address);
      indegree.set(node.address, (indegree.get(node.address) ?? 0) + 1);
    }
  }
  const queue: string[] = nodes.filter((node) => indegree.get(node.address) === 0).map((node) => node.address);
  const order: string[] = [];
  for (let index = 0; index < queue.length; index++) {
    const address = queue[index] as string;
    order.push(address);
    for (const dependent of dependents.get(address) ?? []) {
      const remaining = (indegree.get(dependent) ?? 0) - 1;
      indegree.set(dependent, remaining);
      if (remaining === 0) queue.push(dependent);
    }
  }
  if (order.length === nodes.length) return { order };
  return { cycles: findCycles(nodes) };
}

/**
 * Strongly connected components with more than one member, or with an edge to
 * itself (Tarjan, iterative so a long chain cannot overflow the call stack).
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const edges = new Map<string, readonly string[]>();
  for (const node of nodes) edges.set(node.address, node.dependsOn);
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;

  for (const start of nodes) {
    if (index.has(start.address)) continue;
    const work: { address: string; next: number }[] = [{ address: start.address, next: 0 }];
    index.set(start.address, counter);
    lowLink.set(start.address, counter);
    counter++;
    stack.push(start.address);
    onStack.add(start.address);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { address: string; next: number };
      const successors = (edges.get(frame.address) ?? []).filter((successor) => edges.has(successor));
      if (frame.next < successors.length) {
        const successor = successors[frame.next] as string;
        frame.next++;
        if (!index.has(successor)) {
          index.set(successor, counter);
          lowLink.set(successor, counter);
          counter++;
          stack.push(successor);
          onStack.add(successor);
          work.push({ address: successor, next: 0 });
        } else if (onStack.has(successor)) {
          lowLink.set(frame.address, Math.min(lowLink.get(frame.address) as number, index.get(successor) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) lowLink.set(parent.address, Math.min(lowLink.get(parent.address) as number, lowLink.get(frame.address) as number));
      if (lowLink.get(frame.address) === index.get(frame.address)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.address);
        const selfLoop = component.length === 1 && (edges.get(frame.address) ?? []).includes(frame.address);
        if (component.length > 1 || selfLoop) cycles.push(component.sort());
      }
    }
  }
  return cycles;
}
