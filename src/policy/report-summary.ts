// The compliance report's headline numbers, for the dashboard's overview and
// anything else that needs four numbers rather than the whole report. Pure
// with no run-time imports, so the server and the dashboard count the same way.

import type { ComplianceReport, ComplianceSummary } from "./report-schema.js";

/** Per cent of resources that carry every required key, rounded down to one decimal (100 with no resources). */
export function metadataCoverage(report: Pick<ComplianceReport, "inventory" | "missingMetadata">): number {
  const total = report.inventory.reduce((sum, row) => sum + row.resources, 0);
  const missing = new Set(report.missingMetadata.map((row) => `${row.stack}\u0000${row.resource}`)).size;
  return total === 0 ? 100 : Math.floor(((total - missing) / total) * 1000) / 10;
}

export function complianceSummary(report: ComplianceReport): ComplianceSummary {
  return {
    generatedAt: report.generatedAt,
    resources: report.inventory.reduce((sum, row) => sum + row.resources, 0),
    metadataCoverage: metadataCoverage(report),
    atoExpired: report.ato.filter((row) => row.status === "expired").length,
    atoExpiring: report.ato.filter((row) => row.status === "expiring").length,
    violations: report.violations.length,
  };
}
