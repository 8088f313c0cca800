// The stacks list's filters, sort orders and facets: pure functions over the
// summaries the API returns, so the dashboard pages through thousands of stacks
// on the server and every client sees one order.

/** The parts of a stack summary the list filters and sorts on. */
export interface ListedStack {
  name: string;
  labels: Record<string, string>;
  environment: string | null;
  suspended: boolean;
  conditions: readonly { type: string; status: string; reason: string }[];
  lastAppliedRevision: string | null;
  updatedAt: string | null;
  /** The StackSet that makes it, if one does. */
  stackSet?: string | null;
}

export const stackStates = ["Stalled", "Degraded", "Drifted", "NotReady", "Reconciling", "Unknown", "Suspended", "Ready"] as const;
export type StackState = (typeof stackStates)[number];

const isTrue = (stack: Pick<ListedStack, "conditions">, type: string): boolean =>
  stack.conditions.some((condition) => condition.type === type && condition.status === "True");

/** One word for a stack's state, the same everywhere it is shown: the most pressing condition wins. */
export function stackState(stack: Pick<ListedStack, "suspended" | "conditions">): StackState {
  if (stack.suspended) return "Suspended";
  if (isTrue(stack, "Stalled")) return "Stalled";
  if (isTrue(stack, "Degraded")) return "Degraded";
  if (isTrue(stack, "Reconciling")) return "Reconciling";
  const ready = stack.conditions.find((condition) => condition.type === "Ready");
  if (ready?.status === "True") return "Ready";
  if (ready?.reason === "Drifted") return "Drifted";
  if (ready === undefined || ready.status === "Unknown") return "Unknown";
  return "NotReady";
}

/** Sorting by state puts what needs a person first: the order of `stackStates`. */
const stateRank = new Map<StackState, number>(stackStates.map((state, index) => [state, index]));

export const sortKeys = ["name", "state", "environment", "team", "stackset", "revision", "updated"] as const;
export type SortKey = (typeof sortKeys)[number];
export const conditionFilters = ["Ready", "NotReady", "Stalled", "Degraded", "Reconciling"] as const;

export interface StackListQuery {
  /** Substring of the name, case-insensitive. */
  q?: string;
  /** `key=value`. */
  label?: string;
  team?: string;
  environment?: string;
  /** A StackSet's name, or "-" for the stacks no StackSet makes. */
  stackSet?: string;
  condition?: (typeof conditionFilters)[number];
  state?: StackState;
  /** Only these stacks, by name, comma-separated (a person's favourites). */
  names?: string;
  sort?: SortKey;
  order?: "asc" | "desc";
}

export function filterStacks<T extends ListedStack>(stacks: readonly T[], query: StackListQuery): T[] {
  const needle = query.q?.toLowerCase();
  const [labelKey, labelValue] = query.label === undefined ? [] : splitLabel(query.label);
  const names = query.names === undefined ? undefined : new Set(query.names.split(",").map((name) => name.trim()));
  return stacks.filter((stack) => {
    if (names !== undefined && !names.has(stack.name)) return false;
    if (needle !== undefined && !stack.name.toLowerCase().includes(needle)) return false;
    if (labelKey !== undefined && stack.labels[labelKey] !== labelValue) return false;
    if (query.team !== undefined && stack.labels.team !== query.team) return false;
    if (query.environment !== undefined && (stack.environment ?? "") !== query.environment) return false;
    if (query.stackSet !== undefined && (stack.stackSet ?? "-") !== query.stackSet) return false;
    if (query.state !== undefined && stackState(stack) !== query.state) return false;
    if (query.condition === "NotReady") return !isTrue(stack, "Ready");
    if (query.condition !== undefined) return isTrue(stack, query.condition);
    return true;
  });
}

function splitLabel(label: string): [string, string] {
  const at = label.indexOf("=");
  return [label.slice(0, at), label.slice(at + 1)];
}

/** Empty values sort last in either direction; ties fall back to the name, so pages never overlap. */
export function sortStacks<T extends ListedStack>(stacks: readonly T[], sort: SortKey = "name", order: "asc" | "desc" = "asc"): T[] {
  const value = (stack: T): string | number | null => {
    switch (sort) {
      case "name":
        return stack.name;
      case "state":
        return stateRank.get(stackState(stack)) ?? stackStates.length;
      case "environment":
        return stack.environment;
      case "team":
        return stack.labels.team ?? null;
      case "stackset":
        return stack.stackSet ?? null;
      case "revision":
        return stack.lastAppliedRevision;
      case "updated":
        return stack.updatedAt;
    }
  };
  const direction = order === "desc" ? -1 : 1;
  const keyed = stacks.map((stack) => ({ stack, key: value(stack) }));
  keyed.sort((left, right) => {
    if (left.key !== right.key) {
      if (left.key === null) return 1;
      if (right.key === null) return -1;
      return (left.key < right.key ? -1 : 1) * direction;
    }
    return left.stack.name < right.stack.name ? -1 : left.stack.name > right.stack.name ? 1 : 0;
  });
  return keyed.map((item) => item.stack);
}

export interface StackFacets {
  environments: string[];
  teams: string[];
  stackSets: string[];
  /** How many stacks are in each state. */
  states: Record<StackState, number>;
}

/** The values the filters can take and the fleet's count per state, over every stack (not just the filtered ones). */
/**
 * The filter menus: every team, environment and StackSet of `stacks`, so a
 * menu never loses its other choices; the states are counted over `counted`
 * (the stacks the other filters leave), so "Ready (2)" means two rows.
 */
export function stackFacets(stacks: readonly ListedStack[], counted: readonly ListedStack[] = stacks): StackFacets {
  const environments = new Set<string>();
  const teams = new Set<string>();
  const stackSets = new Set<string>();
  const states = Object.fromEntries(stackStates.map((state) => [state, 0])) as Record<StackState, number>;
  for (const stack of stacks) {
    if (stack.environment !== null) environments.add(stack.environment);
    if (stack.labels.team !== undefined) teams.add(stack.labels.team);
    if (stack.stackSet !== undefined && stack.stackSet !== null) stackSets.add(stack.stackSet);
  }
  for (const stack of counted) states[stackState(stack)] += 1;
  return { environments: [...environments].sort(), teams: [...teams].sort(), stackSets: [...stackSets].sort(), states };
}
