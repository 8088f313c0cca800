// The developer portal export: a real agent on a platform with two projects
// and a composite kind answers /api/v1/catalog/backstage, and
// `plumb export backstage` writes the same; every entity passes Backstage's
// own validators (its published JSON Schemas and field-format policies, from
// @backstage/catalog-model), and a team's token sees only its project.

import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  systemEntityV1alpha1Validator,
  type Entity,
} from "@backstage/catalog-model";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { repositoryRoot, runCliAsync } from "./helpers.js";

let work: string;
let agent: RunningAgent;

const stack = (name: string, project: string, extra: string) =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  project: ${project}\n  source: { path: apps/${name} }\n  providers: { files: { instance: ${project}-files } }\n  sync: { auto: true, interval: 1h, driftInterval: 1h }\n${extra}`;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-backstage-"));
  const platform = path.join(work, "repo");
  mkdirSync(path.join(platform, "platform", "composites"), { recursive: true });
  cpSync(
    path.join(repositoryRoot, "examples", "platform", "composites", "read-only-access.composite.ts"),
    path.join(platform, "platform", "composites", "read-only-access.composite.ts"),
  );
  const instance = (name: string) =>
    `apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: ${name}-files }\nspec: { type: file, config: { root: ${JSON.stringify(path.join(work, "out", name))} } }`;
  const project = (name: string) =>
    `apiVersion: plumb.dev/v1\nkind: Project\nmetadata: { name: ${name} }\nspec: { providers: [${name}-files], kinds: { allow: [file.plumb.dev/v1/*] } }`;
  writeFileSync(
    path.join(platform, "platform", "projects.yaml"),
    [instance("payments"), instance("search"), project("payments"), project("search")].join("\n---\n") + "\n",
  );
  writeFileSync(
    path.join(platform, "platform", "payments.yaml"),
    stack(
      "payments-prod",
      "payments",
      "  environment: prod\n  metadata: { owner: payments-team@example.org, atoDate: '2027-03-01', complianceLevel: high, costCenter: CC-1234 }\n",
    ).replace("metadata: { name: payments-prod }", "metadata: { name: payments-prod, labels: { team: payments, tier: gold } }"),
  );
  writeFileSync(
    path.join(platform, "platform", "search.yaml"),
    stack("search-dev", "search", "  environment: dev\n  metadata: { owner: search.squad@example.org, complianceLevel: low }\n"),
  );
  for (const name of ["payments-prod", "search-dev"]) {
    mkdirSync(path.join(platform, "apps", name), { recursive: true });
    writeFileSync(
      path.join(platform, "apps", name, "note.yaml"),
      `apiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: note, annotations: { plumb.dev/provider: files } }\nspec: { path: note.txt, content: ${name} }\n`,
    );
  }
  agent = await startAgent(["--platform", platform, "--path", "platform", "--data-dir", path.join(work, "data")], { tokenFile: path.join(work, "token") });
  for (const name of ["payments-prod", "search-dev"])
    await eventually(
      async () =>
        (await agent.api<StackSummary>("GET", `/api/v1/stacks/${name}`)).body.conditions?.find((item) => item.type === "Ready")?.status === "True"
          ? true
          : undefined,
      60_000,
      `${name} Ready`,
    );
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** What Backstage's catalog does with an entity it reads: the envelope and field formats, then the kind's own schema. */
async function expectBackstageAccepts(entity: Entity): Promise<void> {
  const policies = EntityPolicies.allOf([
    new DefaultNamespaceEntityPolicy(),
    new NoForeignRootFieldsEntityPolicy(),
    new FieldFormatEntityPolicy(),
    new SchemaValidEntityPolicy(),
  ]);
  const checked = await policies.enforce(entity);
  expect(checked).toBeDefined();
  const validator = { Component: componentEntityV1alpha1Validator, System: systemEntityV1alpha1Validator, API: apiEntityV1alpha1Validator }[entity.kind];
  expect(validator, entity.kind).toBeDefined();
  expect(await validator?.check(entity)).toBe(true);
}

const byRef = (entities: Entity[]) => new Map(entities.map((entity) => [`${entity.kind}:${entity.metadata.name}`, entity]));

describe("the Backstage catalog export", () => {
  it("lists a Component per stack, a System per project and an API per composite kind, each accepted by Backstage's validators", async () => {
    const response = await agent.api<{ items: Entity[] }>(
      "GET",
      `/api/v1/catalog/backstage?format=json&dashboardUrl=${encodeURIComponent("https://plumb.example.org/")}`,
    );
    expect(response.status).toBe(200);
    const entities = response.body.items;
    for (const entity of entities) await expectBackstageAccepts(entity);
    // The validators refuse what Backstage refuses: a name with a space, a Component without an owner.
    const component = entities.find((entity) => entity.kind === "Component") as Entity;
    await expect(expectBackstageAccepts({ ...component, metadata: { ...component.metadata, name: "payments prod" } })).rejects.toThrow();
    await expect(expectBackstageAccepts({ ...component, spec: { ...component.spec, owner: undefined } })).rejects.toThrow();
    const found = byRef(entities);
    expect([...found.keys()].sort()).toEqual([
      "API:ReadOnlyAccess-platform-example-org",
      "Component:payments-prod",
      "Component:search-dev",
      "System:payments",
      "System:search",
    ]);

    const payments = found.get("Component:payments-prod") as Entity;
    expect(payments.spec).toEqual({ type: "infrastructure", lifecycle: "production", owner: "group:default/payments", system: "system:default/payments" });
    expect(payments.metadata.annotations).toMatchObject({
      "plumb.dev/stack": "payments-prod",
      "plumb.dev/project": "payments",
      "plumb.dev/environment": "prod",
      "plumb.dev/owner": "payments-team@example.org",
      "plumb.dev/ato-date": "2027-03-01",
      "plumb.dev/compliance-level": "high",
      "plumb.dev/cost-center": "CC-1234",
    });
    expect(payments.metadata.labels).toEqual({ team: "payments", tier: "gold" });
    expect(payments.metadata.tags).toEqual(["plumb", "prod", "compliance-high"]);
    expect(payments.metadata.links).toEqual([{ url: "https://plumb.example.org/stacks/payments-prod", title: "Plumb dashboard", icon: "dashboard" }]);

    // No team label: the owner address's local part names the group; a non-production environment is the lifecycle.
    const search = found.get("Component:search-dev") as Entity;
    expect(search.spec).toMatchObject({ lifecycle: "dev", owner: "group:default/search-squad", system: "system:default/search" });
    expect(search.metadata.annotations?.["plumb.dev/ato-date"]).toBeUndefined();

    const api = found.get("API:ReadOnlyAccess-platform-example-org") as Entity;
    expect(api.spec).toMatchObject({ type: "plumb-composite", lifecycle: "production", owner: "group:default/platform" });
    const definition = JSON.parse(api.spec?.definition as string) as { properties: Record<string, unknown> };
    expect(Object.keys(definition.properties).length).toBeGreaterThan(0);
    expect(found.get("System:payments")?.spec).toEqual({ owner: "group:default/platform" });
  });

  it("answers YAML for a catalog location by default, and the CLI writes the same file", async () => {
    const json = (await agent.api<{ items: Entity[] }>("GET", `/api/v1/catalog/backstage?format=json&dashboardUrl=${encodeURIComponent(agent.url)}`)).body
      .items;
    const yaml = await agent.api<string>("GET", "/api/v1/catalog/backstage");
    expect(yaml.status).toBe(200);
    const documents = parseAllDocuments(yaml.body).map((document) => document.toJS() as Entity);
    expect(documents).toEqual(json);

    const out = path.join(work, "catalog.yaml");
    const cli = await runCliAsync(["export", "backstage", "--url", agent.url, "--out", out], { env: { PLUMB_TOKEN: agent.adminToken } });
    expect(cli.stderr).toBe("");
    expect(cli.status).toBe(0);
    expect(readFileSync(out, "utf8")).toBe(yaml.body);
    const owned = await runCliAsync(["export", "backstage", "--url", agent.url, "--format", "json", "--owner", "group:default/platform-team"], {
      env: { PLUMB_TOKEN: agent.adminToken },
    });
    expect((JSON.parse(owned.stdout) as { items: Entity[] }).items.find((entity) => entity.kind === "System")?.spec?.owner).toBe("group:default/platform-team");
  });

  it("shows a team's token only its own project's stacks, and refuses a link that is not http(s)", async () => {
    const created = await agent.api<{ token: string }>("POST", "/api/v1/tokens", { body: { name: "search-viewer", role: "viewer", project: "search" } });
    expect(created.status).toBe(201);
    const seen = await agent.api<{ items: Entity[] }>("GET", "/api/v1/catalog/backstage?format=json", { token: created.body.token });
    expect(seen.status).toBe(200);
    const names = seen.body.items.filter((entity) => entity.kind !== "API").map((entity) => `${entity.kind}:${entity.metadata.name}`);
    expect(names.sort()).toEqual(["Component:search-dev", "System:search"]);
    expect((await agent.api("GET", "/api/v1/catalog/backstage", { token: null })).status).toBe(401);
    expect((await agent.api("GET", `/api/v1/catalog/backstage?dashboardUrl=${encodeURIComponent("javascript:alert(1)")}`)).status).toBe(400);
  });
});
