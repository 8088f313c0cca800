// Renders a plan for people (text, markdown for pull requests) and machines (json).

import type { JsonValue } from "../../sdk/resource.js";
import type { FieldDiff } from "./diff.js";
import type { Plan, PlanAction, ResourceChange } from "./plan.js";
import { escapeMarkdown } from "../../markdown.js";
import { planHasChanges } from "./plan.js";

export type PlanFormat = "text" | "json" | "markdown";

const symbols: Record<PlanAction, string> = { create: "+", update: "~", replace: "-/+", delete: "-", orphan: "o", retain: "!", noop: "=" };
const maxValueLength = 120;

export interface TextOptions {
  color: boolean;
  /** List resources that need no change too. */
  showUnchanged?: boolean;
}

function displayValue(value: JsonValue | undefined): string {
  if (value === undefined) return "(unset)";
  const text = JSON.stringify(value);
  return text.length > maxValueLength ? `${text.slice(0, maxValueLength)}… (${text.length} chars)` : text;
}

function describeDiff(change: ResourceChange, diff: FieldDiff): string {
  const field = diff.path.slice(1).replaceAll("/", ".");
  const suffix = `${diff.forcesReplacement ? "  # forces replacement" : ""}${diff.drift && change.action !== "create" ? "  # drift" : ""}`;
  if (change.action === "create") return `${field}: ${displayValue(diff.after)}${suffix}`;
  return `${field}: ${displayValue(diff.before)} → ${displayValue(diff.after)}${suffix}`;
}

export function summaryLine(plan: Plan): string {
  const { create, update, replace, delete: deletions, orphan, retain, noop } = plan.summary;
  // A create of something Plumb made before and someone deleted is a repair, and reads as one.
  const recreate = plan.changes.filter((change) => change.action === "create" && change.drift).length;
  const creates =
    recreate === 0
      ? `${create} to create`
      : recreate === create
        ? `${create} to recreate (deleted outside Plumb)`
        : `${create} to create (${recreate} deleted outside Plumb)`;
  const changes = planHasChanges(plan)
    ? `${creates}, ${update} to update, ${replace} to replace, ${deletions} to delete${orphan > 0 ? `, ${orphan} to stop managing` : ""}`
    : "no changes";
  const adopted = plan.changes.filter((change) => change.adopt === true).length;
  const extra = [`${noop} unchanged`, ...(retain > 0 ? [`${retain} retained`] : []), ...(adopted > 0 ? [`${adopted} adopted`] : [])].join(", ");
  return `Plan: ${changes}; ${extra}.`;
}

export function formatPlanText(plan: Plan, options: TextOptions): string {
  const paint = (code: string, text: string) => (options.color ? `\u001b[${code}m${text}\u001b[0m` : text);
  const colors: Record<PlanAction, string> = { create: "32", update: "33", replace: "35", delete: "31", orphan: "36", retain: "36", noop: "2" };
  const lines = [`Stack ${plan.stack}${plan.environment === null ? "" : ` (environment ${plan.environment})`}`, ""];
  for (const change of plan.changes) {
    if (change.action === "noop" && change.adopt !== true && !options.showUnchanged) continue;
    const verb =
      change.adopt === true
        ? `adopt (${change.action === "noop" ? "as it is" : change.action})`
        : change.action === "create" && change.drift
          ? "recreate"
          : change.action;
    const wave = change.wave === undefined ? "" : ` [wave ${change.wave}]`;
    lines.push(`  ${paint(colors[change.action], `${symbols[change.action].padEnd(3)} ${change.address}`)}${wave}  ${verb}: ${change.reason}`);
    for (const diff of change.diffs) lines.push(`        ${describeDiff(change, diff)}`);
  }
  if (lines.length === 2) lines.push("  Every resource is in sync with the source.");
  if (planHasChanges(plan)) for (const hook of plan.hooks ?? []) lines.push(`  ${paint("36", `↻   ${hook.address}`)}  hook: ${hook.phases.join(", ")}`);
  lines.push("");
  for (const warning of plan.warnings) lines.push(paint("33", `warning: ${warning}`));
  lines.push(summaryLine(plan));
  return lines.join("\n");
}

export function formatPlanMarkdown(plan: Plan): string {
  const { summary } = plan;
  const lines = [
    `### Plumb plan for \`${plan.stack}\`${plan.environment === null ? "" : ` (${escapeMarkdown(plan.environment)})`}`,
    "",
    "| create | update | replace | delete | stop managing | retained | unchanged |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${summary.create} | ${summary.update} | ${summary.replace} | ${summary.delete} | ${summary.orphan} | ${summary.retain} | ${summary.noop} |`,
    "",
  ];
  const changes = plan.changes.filter((change) => change.action !== "noop" || change.adopt === true);
  if (changes.length === 0) lines.push("No changes: every resource is in sync with the source.");
  for (const change of changes) {
    lines.push(`- **${change.adopt === true ? "adopt" : change.action}** \`${change.address.replaceAll("`", "'")}\` — ${escapeMarkdown(change.reason)}`);
    if (change.diffs.length > 0) {
      lines.push("  ```diff");
      for (const diff of change.diffs) {
        const field = diff.path.slice(1).replaceAll("/", ".");
        if (change.action !== "create") lines.push(`  - ${field}: ${displayValue(diff.before)}`.replaceAll("```", "'''"));
        lines.push(`  + ${field}: ${displayValue(diff.after)}`.replaceAll("```", "'''"));
      }
      lines.push("  ```");
    }
  }
  for (const warning of plan.warnings) lines.push("", `> **warning:** ${escapeMarkdown(warning)}`);
  return lines.join("\n");
}

export function formatPlanJson(plan: Plan): string {
  return JSON.stringify({ formatVersion: 1, hasChanges: planHasChanges(plan), ...plan }, null, 2);
}

export function formatPlan(plan: Plan, format: PlanFormat, options: TextOptions): string {
  switch (format) {
    case "json":
      return formatPlanJson(plan);
    case "markdown":
      return formatPlanMarkdown(plan);
    case "text":
      return formatPlanText(plan, options);
  }
}
