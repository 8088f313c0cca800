// The resource graph's layout: columns follow dependencies, folded claims hide
// what they composed and take over its edges, tall columns wrap, cycles end.
import { describe, expect, it } from "vitest";
import { layoutGraph, rowsPerColumn, type GraphInput } from "../web/src/graph-layout.js";

const resource = (address: string, dependsOn: string[] = [], composite: string | null = null) => ({ address, dependsOn, composite });

describe("resource graph layout", () => {
  it("puts what a resource depends on in an earlier column", () => {
    const layout = layoutGraph({
      resources: [resource("app", ["schema", "role"]), resource("schema", ["db"]), resource("db"), resource("role")],
      claims: [],
      collapsed: new Set(),
    });
    const x = new Map(layout.nodes.map((node) => [node.address, node.x]));
    expect(x.get("db")).toBe(x.get("role"));
    expect(x.get("schema")).toBeGreaterThan(x.get("db") as number);
    expect(x.get("app")).toBeGreaterThan(x.get("schema") as number);
    expect(layout.edges).toEqual(
      expect.arrayContaining([
        { from: "schema", to: "app", type: "depends" },
        { from: "db", to: "schema", type: "depends" },
      ]),
    );
    expect(layout.width).toBeGreaterThan((x.get("app") as number) + 200);
  });

  it("a folded claim hides what it composed, nested claims too, and takes over their edges", () => {
    const input: GraphInput = {
      claims: [
        { address: "claim/outer", composite: null, children: ["claim/inner", "db"] },
        { address: "claim/inner", composite: "claim/outer", children: ["role"] },
      ],
      resources: [resource("db", [], "claim/outer"), resource("role", ["db"], "claim/inner"), resource("app", ["role"])],
      collapsed: new Set(["claim/outer"]),
    };
    const folded = layoutGraph(input);
    expect(folded.nodes.map((node) => node.address).sort()).toEqual(["app", "claim/outer"]);
    expect(folded.nodes.find((node) => node.address === "claim/outer")?.hidden).toBe(2);
    expect(folded.edges).toEqual([{ from: "claim/outer", to: "app", type: "depends" }]);

    const open = layoutGraph({ ...input, collapsed: new Set() });
    expect(open.nodes).toHaveLength(5);
    expect(open.edges).toEqual(
      expect.arrayContaining([
        { from: "claim/outer", to: "claim/inner", type: "composed" },
        { from: "claim/inner", to: "role", type: "composed" },
        { from: "db", to: "role", type: "depends" },
        { from: "role", to: "app", type: "depends" },
      ]),
    );
  });

  it("wraps a tall column and survives a dependency cycle", () => {
    const many = Array.from({ length: rowsPerColumn * 3 + 1 }, (_, index) => resource(`file-${index}`));
    const layout = layoutGraph({ resources: [...many, resource("a", ["b"]), resource("b", ["a"])], claims: [], collapsed: new Set() });
    expect(layout.nodes).toHaveLength(many.length + 2);
    const columns = new Set(layout.nodes.filter((node) => node.address.startsWith("file-")).map((node) => node.x));
    expect(columns.size).toBe(4);
    const rows = new Set(layout.nodes.map((node) => node.y));
    expect(rows.size).toBe(rowsPerColumn);
    // No two nodes share a place.
    expect(new Set(layout.nodes.map((node) => `${node.x},${node.y}`)).size).toBe(layout.nodes.length);
  });
});
