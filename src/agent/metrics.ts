// Prometheus metrics of one agent: runs, their durations, drift found and
// healed, queue depth and git errors. Labels stay low-cardinality (no stack names).

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({
    name: "plumb_runs_total",
    help: "Apply runs by trigger and result.",
    labelNames: ["trigger", "result"],
    registers: [this.registry],
  });
  readonly runDuration = new Histogram({
    name: "plumb_run_duration_seconds",
    help: "Time from the start of a sync or drift check to its end.",
    labelNames: ["kind"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly driftFound = new Counter({ name: "plumb_drift_detected_total", help: "Resources found drifted by drift checks.", registers: [this.registry] });
  readonly driftHealed = new Counter({ name: "plumb_drift_healed_total", help: "Drifted resources reverted by self-heal.", registers: [this.registry] });
  readonly queueDepth = new Gauge({ name: "plumb_queue_depth", help: "Jobs waiting for a worker.", registers: [this.registry] });
  readonly gitErrors = new Counter({ name: "plumb_git_fetch_errors_total", help: "Failed ls-remote, fetch or checkout calls.", registers: [this.registry] });
  readonly leasesHeld = new Gauge({ name: "plumb_leases_held", help: "Stacks this agent holds the lease of.", registers: [this.registry] });
  readonly leaseLosses = new Counter({
    name: "plumb_lease_losses_total",
    help: "Leases this agent lost before giving them back (not renewed in time, or taken by another agent).",
    registers: [this.registry],
  });
  readonly failovers = new Counter({
    name: "plumb_failovers_total",
    help: "Stacks this agent took over from an agent whose lease ran out.",
    registers: [this.registry],
  });
  readonly agentsLive = new Gauge({ name: "plumb_agents_live", help: "Agents heartbeating on the store, this one included.", registers: [this.registry] });
  readonly stacks = new Gauge({ name: "plumb_stacks", help: "Managed stacks by Ready condition.", labelNames: ["ready"], registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "plumb_process_" });
  }
}
