// The compliance report: inventory by team, owner and level; ATO dates that
// expired or expire soon; resources missing required metadata; violations by
// team and rule; drift found and healed per stack; sync health per stack.
// A pure function of the stacks' renders, the policy, statuses and audit events.

import { escapeMarkdown } from "../markdown.js";
import { csvField } from "../csv.js";
import type { DesiredResource } from "../stack-model.js";
import type { AuditEvent } from "../state/audit.js";
import type { Condition } from "../state/store.js";
import { enrichResources, type CompliancePolicy, type Violation } from "./compliance.js";
import type { ComplianceReport } from "./report-schema.js";

export type { ComplianceReport };

export interface ReportStack {
  name: string;
  labels: Record<string, string>;
  metadata: Record<string, string>;
  conditions: Condition[];
  /** The last render of the stack (applied, or attempted and denied). */
  resources: readonly DesiredResource[];
  /** What the platform's TypeScript rules found in that render. */
  ruleViolations: readonly Violation[];
}

const dayMs = 86_400_000;

export function buildComplianceReport(
  stacks: readonly ReportStack[],
  policy: CompliancePolicy | undefined,
  audit: readonly AuditEvent[],
  options: { today: string; expiringWithinDays: number },
): ComplianceReport {
  const inventory = new Map<string, { team: string; owner: string; complianceLevel: string; resources: number }>();
  const report: ComplianceReport = {
    generatedAt: new Date().toISOString(),
    expiringWithinDays: options.expiringWithinDays,
    inventory: [],
    ato: [],
    missingMetadata: [],
    violations: [],
    drift: [],
    health: [],
  };
  const todayMs = Date.parse(options.today);
  // One pass over the audit events, not one per stack.
  const driftByStack = new Map<string, { found: number; healed: number }>();
  for (const event of audit) {
    if (event.kind !== "drift.detected" && event.kind !== "change.corrective") continue;
    const counts = driftByStack.get(event.stack) ?? { found: 0, healed: 0 };
    if (event.kind === "drift.detected") counts.found++;
    else counts.healed++;
    driftByStack.set(event.stack, counts);
  }
  for (const stack of stacks) {
    const team = stack.labels.team ?? "(no team)";
    const enriched =
      policy === undefined
        ? undefined
        : enrichResources(
            stack.resources,
            new Map(),
            policy,
            { stack: stack.name, source: "", commit: null, metadata: stack.metadata, today: options.today },
            () => undefined,
          );
    for (const resource of stack.resources) {
      const owner = (resource.labels.owner ?? stack.metadata.owner) || "(none)";
      const level = stack.metadata.complianceLevel ?? policy?.spec.keys.complianceLevel?.default ?? "(none)";
      const key = `${team}\u0000${owner}\u0000${level}`;
      const entry = inventory.get(key) ?? { team, owner, complianceLevel: level, resources: 0 };
      entry.resources++;
      inventory.set(key, entry);
    }
    for (const violation of [...stack.ruleViolations, ...(enriched?.violations ?? [])]) {
      report.violations.push({
        stack: stack.name,
        team,
        resource: violation.address,
        rule: violation.rule,
        level: violation.level,
        message: violation.message,
      });
      if (violation.rule.startsWith("required/"))
        report.missingMetadata.push({ stack: stack.name, team, resource: violation.address, key: violation.rule.slice("required/".length) });
    }
    const atoDate = stack.metadata.atoDate;
    if (atoDate !== undefined && !Number.isNaN(Date.parse(atoDate))) {
      const daysLeft = Math.floor((Date.parse(atoDate) - todayMs) / dayMs);
      if (daysLeft < 0) report.ato.push({ stack: stack.name, atoDate, daysLeft, status: "expired" });
      else if (daysLeft <= options.expiringWithinDays) report.ato.push({ stack: stack.name, atoDate, daysLeft, status: "expiring" });
    }
    const { found, healed } = driftByStack.get(stack.name) ?? { found: 0, healed: 0 };
    report.drift.push({ stack: stack.name, found: found + healed, healed });
    const ready = stack.conditions.find((condition) => condition.type === "Ready");
    report.health.push({
      stack: stack.name,
      ready: ready?.status ?? "Unknown",
      reason: ready?.reason ?? "",
      stalled: stack.conditions.some((condition) => condition.type === "Stalled" && condition.status === "True"),
      degraded: stack.conditions.some((condition) => condition.type === "Degraded" && condition.status === "True"),
    });
  }
  report.inventory = [...inventory.values()].sort((left, right) => left.team.localeCompare(right.team) || left.owner.localeCompare(right.owner));
  report.ato.sort((left, right) => left.daysLeft - right.daysLeft);
  return report;
}

/** One CSV with a `section` column, so every part of the report fits a spreadsheet. */
export function reportCsv(report: ComplianceReport): string {
  const lines = ["section,stack,team,owner,resource,key,value,detail"];
  const row = (...cells: unknown[]) => lines.push(cells.map(csvField).join(","));
  for (const item of report.inventory) row("inventory", "", item.team, item.owner, "", "complianceLevel", item.complianceLevel, `${item.resources} resources`);
  for (const item of report.ato)
    row(`ato-${item.status}`, item.stack, "", "", "", "atoDate", item.atoDate, item.daysLeft < 0 ? `${-item.daysLeft} days ago` : `in ${item.daysLeft} days`);
  for (const item of report.missingMetadata) row("missing-metadata", item.stack, item.team, "", item.resource, item.key, "", "");
  for (const item of report.violations) row("violation", item.stack, item.team, "", item.resource, item.rule, item.level, item.message);
  for (const item of report.drift) row("drift-30d", item.stack, "", "", "", "found/healed", `${item.found}/${item.healed}`, "");
  for (const item of report.health)
    row("health", item.stack, "", "", "", "Ready", item.ready, `${item.reason}${item.stalled ? " stalled" : ""}${item.degraded ? " degraded" : ""}`);
  return `${lines.join("\n")}\n`;
}

/** A table cell: HTML and Markdown syntax in labels and names shows as text, never as markup a renderer runs. */
const markdownCell = (value: unknown) => escapeMarkdown(String(value));

export function reportMarkdown(report: ComplianceReport): string {
  const table = (headings: string[], rows: unknown[][]) =>
    rows.length === 0
      ? "_none_\n"
      : `| ${headings.join(" | ")} |\n| ${headings.map(() => "---").join(" | ")} |\n${rows.map((cells) => `| ${cells.map(markdownCell).join(" | ")} |`).join("\n")}\n`;
  return [
    `# Compliance report\n\nGenerated ${report.generatedAt}.\n`,
    "## Inventory\n",
    table(
      ["team", "owner", "compliance level", "resources"],
      report.inventory.map((item) => [item.team, item.owner, item.complianceLevel, item.resources]),
    ),
    `## ATO dates expired or expiring within ${report.expiringWithinDays} days\n`,
    table(
      ["stack", "ATO date", "days left", "status"],
      report.ato.map((item) => [item.stack, item.atoDate, item.daysLeft, item.status]),
    ),
    "## Resources missing required metadata\n",
    table(
      ["stack", "team", "resource", "missing"],
      report.missingMetadata.map((item) => [item.stack, item.team, item.resource, item.key]),
    ),
    "## Policy violations\n",
    table(
      ["stack", "team", "resource", "rule", "level", "message"],
      report.violations.map((item) => [item.stack, item.team, item.resource, item.rule, item.level, item.message]),
    ),
    "## Drift in the last 30 days\n",
    table(
      ["stack", "found", "healed"],
      report.drift.map((item) => [item.stack, item.found, item.healed]),
    ),
    "## Sync health\n",
    table(
      ["stack", "Ready", "reason", "stalled", "degraded"],
      report.health.map((item) => [item.stack, item.ready, item.reason, item.stalled, item.degraded]),
    ),
  ].join("\n");
}
