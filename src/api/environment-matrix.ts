// "What version is where": stacks grouped into applications (rows) by
// environment (columns), with the revision and state each runs. Computed on
// the server so the dashboard fetches one compact answer for the whole fleet.

import { stackState, type ListedStack, type StackState } from "./stack-list.js";

export interface MatrixCell {
  stack: string;
  revision: string | null;
  state: StackState;
  /** Set when the environment before this one (in the PromotionPolicy's order) runs a revision this one does not. */
  promotion?: { from: string; revision: string; allowed: boolean; rule?: string; reason?: string };
}

export interface EnvironmentMatrix {
  environments: string[];
  applications: { name: string; cells: Record<string, MatrixCell> }[];
}

/** Stacks without an environment go in this column. */
export const noEnvironment = "(none)";

/** The application a stack belongs to: its `app` label, else its name without a trailing `-<environment>`. */
export function applicationOf(stack: Pick<ListedStack, "name" | "labels" | "environment">): string {
  if (stack.labels.app !== undefined) return stack.labels.app;
  const suffix = stack.environment === null ? undefined : `-${stack.environment}`;
  return suffix !== undefined && stack.name.endsWith(suffix) && stack.name.length > suffix.length ? stack.name.slice(0, -suffix.length) : stack.name;
}

/**
 * `q`: a substring of the application's name, case-insensitive. Rows come
 * sorted; columns in `order` (the PromotionPolicy's environments) first, the
 * rest sorted after them.
 */
export function environmentMatrix(stacks: readonly ListedStack[], q?: string, order: readonly string[] = []): EnvironmentMatrix {
  const needle = q?.toLowerCase();
  const environments = new Set<string>();
  const applications = new Map<string, Record<string, MatrixCell>>();
  for (const stack of stacks) {
    const environment = stack.environment ?? noEnvironment;
    environments.add(environment);
    const name = applicationOf(stack);
    if (needle !== undefined && !name.toLowerCase().includes(needle)) continue;
    const cells = applications.get(name) ?? {};
    cells[environment] = { stack: stack.name, revision: stack.lastAppliedRevision, state: stackState(stack) };
    applications.set(name, cells);
  }
  return {
    environments: [...environments].sort((left, right) => {
      const rank = (environment: string) => (order.includes(environment) ? order.indexOf(environment) : order.length);
      return rank(left) - rank(right) || (left < right ? -1 : left > right ? 1 : 0);
    }),
    applications: [...applications].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)).map(([name, cells]) => ({ name, cells })),
  };
}
