// JSON Schemas for editors: `plumb schemas` writes one per kind and an index
// that picks by apiVersion and kind; the committed schemas/ is what it writes
// today; every example document validates against it (each of Plumb's and the
// providers' kinds checked by its own schema), and a wrong field fails.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import AjvModule from "ajv";
import yaml from "js-yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repositoryRoot, runCli } from "./helpers.js";

const Ajv = AjvModule.default;
const out = mkdtempSync(path.join(tmpdir(), "plumb-schemas-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function exampleFiles(directory = path.join(repositoryRoot, "examples")): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? exampleFiles(path.join(directory, entry.name)) : entry.name.endsWith(".yaml") ? [path.join(directory, entry.name)] : [],
  );
}

describe("plumb schemas", () => {
  it("writes a schema per kind and an index, the same as the committed schemas/", () => {
    const written = runCli(["schemas", "--out", out, "--platform", "examples/platform"]);
    expect(written.stderr).toBe("");
    expect(written.stdout).toMatch(/^\d+ schemas written/);
    const names = readdirSync(out).sort();
    for (const name of [
      "plumb.schema.json",
      "plumb.dev_v1_Stack.schema.json",
      "redis.plumb.dev_v1_User.schema.json",
      "platform.example.org_v1_TeamSpace.schema.json",
      "hosts.example.org_v1_Host.schema.json",
    ])
      expect(names).toContain(name);
    const committed = path.join(repositoryRoot, "schemas");
    expect(readdirSync(committed).sort()).toEqual(names);
    for (const name of names)
      expect(readFileSync(path.join(committed, name), "utf8"), `schemas/${name} is stale: npm run schemas`).toBe(readFileSync(path.join(out, name), "utf8"));
  });

  it("validates every example document, each known kind by its own schema, and tells a wrong field", () => {
    const schemas = path.join(repositoryRoot, "schemas");
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const name of readdirSync(schemas)) ajv.addSchema(JSON.parse(readFileSync(path.join(schemas, name), "utf8")) as object);
    const validate = ajv.getSchema("plumb.schema.json");
    if (validate === undefined) throw new Error("no index schema");
    const known = new Set(readdirSync(schemas).map((name) => name.replace(/\.schema\.json$/, "")));
    let checkedByKind = 0;
    for (const file of exampleFiles()) {
      const text = readFileSync(file, "utf8");
      const documents = yaml
        .loadAll(text)
        .filter((document): document is { apiVersion: string; kind: string } => typeof document === "object" && document !== null && "kind" in document);
      if (documents.length === 0) continue;
      const relative = path.relative(path.dirname(file), path.join(schemas, "plumb.schema.json"));
      expect(text.split("\n")[0], path.relative(repositoryRoot, file)).toBe(`# yaml-language-server: $schema=${relative}`);
      for (const document of documents) {
        expect(validate(document), `${path.relative(repositoryRoot, file)} ${document.kind}: ${JSON.stringify(validate.errors)}`).toBe(true);
        if (known.has(`${document.apiVersion.replaceAll("/", "_")}_${document.kind}`)) checkedByKind += 1;
      }
    }
    expect(checkedByKind).toBeGreaterThanOrEqual(35);
    const wrong = { apiVersion: "redis.plumb.dev/v1", kind: "User", metadata: { name: "x" }, spec: { commands: "+@all", colour: "red" } };
    expect(validate(wrong)).toBe(false);
    expect(JSON.stringify(validate.errors)).toContain("colour");
    expect(validate({ apiVersion: "plumb.dev/v1", kind: "Stack", metadata: { name: "Not A Name" } })).toBe(false);
  });
});
