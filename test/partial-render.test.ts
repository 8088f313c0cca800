// What a stack runs after a selective sync: the chosen resources from the new
// render (created, changed or gone), every other one as applied before.
import { describe, expect, it } from "vitest";
import { partialRender } from "../src/agent/partial-render.js";
import type { DesiredResource, RenderedStack } from "../src/stack-model.js";
import { desiredFile } from "./helpers.js";

const resource = (name: string, content: string) => desiredFile(name, { path: `${name}.txt`, content });

const render = (digest: string, resources: DesiredResource[]): RenderedStack =>
  ({ directory: "/x", definition: { name: "s" }, resources, files: [], claims: [], policyViolations: [], digest }) as unknown as RenderedStack;

const contents = (rendered: RenderedStack) => Object.fromEntries(rendered.resources.map((item) => [item.name, item.spec.content]));

describe("the render a selective sync leaves", () => {
  const before = render("old", [resource("kept", "1"), resource("changed", "1"), resource("dropped", "1"), resource("left", "1")]);
  const after = render("new", [resource("kept", "2"), resource("changed", "2"), resource("added", "2"), resource("new-not-chosen", "2")]);

  it("takes the chosen resources from the new render — changed, created or removed — and keeps the rest as applied", () => {
    const chosen = new Set(["changed", "added", "dropped"].map((name) => `file.plumb.dev/v1/File/${name}`));
    const partial = partialRender(before, after, chosen);
    expect(contents(partial)).toEqual({ kept: "1", changed: "2", added: "2", left: "1" });
    expect(partial.digest).not.toBe(before.digest);
    expect(partial.digest).not.toBe(after.digest);
    // The same choice over the same renders is the same render.
    expect(partialRender(before, after, new Set([...chosen].reverse())).digest).toBe(partial.digest);
    expect(partialRender(before, after, new Set(["file.plumb.dev/v1/File/changed"])).digest).not.toBe(partial.digest);
  });

  it("holds only the chosen resources when nothing was applied before", () => {
    expect(contents(partialRender(undefined, after, new Set(["file.plumb.dev/v1/File/added"])))).toEqual({ added: "2" });
  });
});
