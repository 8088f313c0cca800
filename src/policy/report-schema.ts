// The compliance report's shape as a schema: the report builder returns it,
// the API serialises and documents it, and the dashboard types itself from it.

import { Type, type Static } from "@sinclair/typebox";

const count = Type.Integer({ minimum: 0 });

export const complianceReportSchema = Type.Object({
  generatedAt: Type.String(),
  expiringWithinDays: count,
  inventory: Type.Array(Type.Object({ team: Type.String(), owner: Type.String(), complianceLevel: Type.String(), resources: count })),
  ato: Type.Array(
    Type.Object({
      stack: Type.String(),
      atoDate: Type.String(),
      daysLeft: Type.Integer(),
      status: Type.Union([Type.Literal("expired"), Type.Literal("expiring")]),
    }),
  ),
  missingMetadata: Type.Array(Type.Object({ stack: Type.String(), team: Type.String(), resource: Type.String(), key: Type.String() })),
  violations: Type.Array(
    Type.Object({ stack: Type.String(), team: Type.String(), resource: Type.String(), rule: Type.String(), level: Type.String(), message: Type.String() }),
  ),
  drift: Type.Array(Type.Object({ stack: Type.String(), found: count, healed: count })),
  health: Type.Array(Type.Object({ stack: Type.String(), ready: Type.String(), reason: Type.String(), stalled: Type.Boolean(), degraded: Type.Boolean() })),
});
export type ComplianceReport = Static<typeof complianceReportSchema>;

/** The headline numbers of a report (report-summary.ts counts them). */
export const complianceSummarySchema = Type.Object({
  generatedAt: Type.String(),
  resources: Type.Integer({ minimum: 0 }),
  metadataCoverage: Type.Number({ minimum: 0, maximum: 100, description: "Per cent of resources with every required metadata key, to one decimal." }),
  atoExpired: Type.Integer({ minimum: 0 }),
  atoExpiring: Type.Integer({ minimum: 0 }),
  violations: Type.Integer({ minimum: 0 }),
});
export type ComplianceSummary = Static<typeof complianceSummarySchema>;
