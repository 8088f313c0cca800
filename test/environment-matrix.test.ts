// The environments matrix: applications by environment, from stack summaries.

import { describe, expect, it } from "vitest";
import { applicationOf, environmentMatrix } from "../src/api/environment-matrix.js";
import type { ListedStack } from "../src/api/stack-list.js";

const stack = (name: string, environment: string | null, labels: Record<string, string> = {}, revision: string | null = "abc"): ListedStack => ({
  name,
  labels,
  environment,
  suspended: false,
  conditions: [{ type: "Ready", status: "True", reason: "Succeeded" }],
  lastAppliedRevision: revision,
  updatedAt: null,
});

describe("environment matrix", () => {
  it("names the application by the app label, else by the stack name without its environment", () => {
    expect(applicationOf(stack("payments-prod", "prod"))).toBe("payments");
    expect(applicationOf(stack("payments-prod", "prod", { app: "ledger" }))).toBe("ledger");
    expect(applicationOf(stack("payments", "prod"))).toBe("payments");
    expect(applicationOf(stack("-prod", "prod"))).toBe("-prod");
    expect(applicationOf(stack("tools", null))).toBe("tools");
  });

  it("puts each stack in its application's row under its environment, sorted, with a search", () => {
    const stacks = [
      stack("search-prod", "prod", {}, "s2"),
      stack("payments-dev", "dev", {}, "p1"),
      stack("payments-prod", "prod", {}, "p2"),
      stack("tools", null),
    ];
    const matrix = environmentMatrix(stacks);
    expect(matrix.environments).toEqual(["(none)", "dev", "prod"]);
    expect(matrix.applications.map((application) => application.name)).toEqual(["payments", "search", "tools"]);
    expect(matrix.applications[0]?.cells).toEqual({
      dev: { stack: "payments-dev", revision: "p1", state: "Ready" },
      prod: { stack: "payments-prod", revision: "p2", state: "Ready" },
    });
    const searched = environmentMatrix(stacks, "PAY");
    expect(searched.applications.map((application) => application.name)).toEqual(["payments"]);
    // The columns stay the fleet's, so a search never hides where else the application could run.
    expect(searched.environments).toEqual(["(none)", "dev", "prod"]);
  });
});
