// Projects at render: a team's stack uses the platform's provider instances by
// name and is refused (PLUMB_PROJECT_DENIED, with the file and line) for each
// thing it tries outside its project — a connection of its own, an instance,
// a kind, a secret, a namespace, a database, a role, a composite, a source.

import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PlumbError, PlumbErrorList } from "../src/errors.js";
import type { Project, ProviderCatalog } from "../src/project-definition.js";
import { defaultRegistry } from "../src/providers/registry.js";
import { renderStack } from "../src/render/load-stack.js";
import type { StackDocument } from "../src/stack-definition.js";
import { createWorkspace, runCli, type Workspace } from "./helpers.js";

const registry = defaultRegistry();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const catalog: ProviderCatalog = new Map([
  [
    "shared-postgres",
    {
      type: "postgres",
      config: { host: "db.internal", user: "plumb", password: { secretRef: { name: "pg-admin", key: "password" } } },
      file: "providers.yaml",
    },
  ],
  ["other-postgres", { type: "postgres", config: { host: "db2.internal", user: "plumb" }, file: "providers.yaml" }],
  ["prod-cluster", { type: "kubernetes", config: { kubeconfig: "/etc/plumb/kubeconfig" }, file: "providers.yaml" }],
]);

const payments: Project = {
  name: "payments",
  providers: ["shared-postgres", "prod-cluster"],
  kinds: { deny: ["postgres.plumb.dev/v1/Extension", { kind: "postgres.plumb.dev/v1/Role", fields: { "/createrole": true } }] },
  secrets: { names: ["payments-*"] },
  namespaces: ["payments", "payments-*"],
  databases: ["payments_*"],
  roles: ["payments_*"],
};

/** The platform's Stack document for the team's stack: its project is decided here, not in the team's folder. */
const platformStack: StackDocument = {
  apiVersion: "plumb.dev/v1",
  kind: "Stack",
  metadata: { name: "payments" },
  spec: { project: "payments", providers: { db: { instance: "shared-postgres" }, cluster: { instance: "prod-cluster" } } },
};

async function render(project: Project = payments, override: StackDocument = platformStack) {
  return renderStack(workspace.stackDir, {
    registry,
    project,
    providerCatalog: catalog,
    stackOverride: { document: override, file: "platform/payments.yaml" },
  });
}

async function denials(project: Project = payments, override: StackDocument = platformStack): Promise<PlumbError[]> {
  try {
    await render(project, override);
  } catch (error) {
    if (error instanceof PlumbErrorList) return [...error.errors];
    if (error instanceof PlumbError) return [error];
    throw error;
  }
  throw new Error("render succeeded but denials were expected");
}

describe("projects at render", () => {
  it("resolves the platform's provider instances by name and renders what stays inside the project", async () => {
    workspace = createWorkspace({ name: "payments" });
    workspace.write("stack.yaml", "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: payments }\n");
    workspace.write(
      "db.yaml",
      [
        "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: payments_app, annotations: { plumb.dev/provider: db } }\nspec: { login: true, password: { secretRef: { name: payments-db, key: password } } }",
        "apiVersion: postgres.plumb.dev/v1\nkind: Database\nmetadata: { name: payments_main, annotations: { plumb.dev/provider: db } }\nspec: { owner: payments_app }",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: payments-web }\ndata: { mode: blue }",
      ].join("\n---\n"),
    );
    const rendered = await render();
    expect(rendered.definition.providers.db).toEqual({ type: "postgres", config: catalog.get("shared-postgres")?.config });
    expect(rendered.resources.map((resource) => resource.address)).toEqual(
      expect.arrayContaining(["postgres.plumb.dev/v1/Role/payments_app", "postgres.plumb.dev/v1/Database/payments_main", "v1/ConfigMap/payments-web/settings"]),
    );
  });

  it("refuses each thing the stack tries outside its project, with the rule and the line", async () => {
    workspace = createWorkspace({ name: "payments" });
    workspace.write(
      "stack.yaml",
      [
        "apiVersion: plumb.dev/v1",
        "kind: Stack",
        "metadata: { name: payments }",
        "spec:",
        "  project: platform",
        "  providers:",
        "    mine: { type: postgres, config: { host: db.internal, user: postgres } }",
        "    theirs: { instance: other-postgres }",
        "",
      ].join("\n"),
    );
    workspace.write(
      "db.yaml",
      [
        "apiVersion: postgres.plumb.dev/v1\nkind: Database\nmetadata: { name: search_main, annotations: { plumb.dev/provider: db } }\nspec: {}",
        "apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata: { name: payments_admin, annotations: { plumb.dev/provider: db } }\nspec:\n  createrole: true\n  memberOf: [postgres]\n  password: { secretRef: { name: search-db, key: password } }",
        "apiVersion: postgres.plumb.dev/v1\nkind: Extension\nmetadata: { name: plpython3u, annotations: { plumb.dev/provider: db } }\nspec: { database: payments_main }",
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: { name: payments-admin }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }\nsubjects: [ { kind: Group, name: payments, apiGroup: rbac.authorization.k8s.io } ]",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: { name: peek, namespace: kube-system }\ndata: { a: b }",
      ].join("\n---\n"),
    );
    const found = (await denials()).map((problem) => problem.describe());
    const expected = [
      "stack.yaml:5:3: the stack names project platform, but the platform puts stack payments in project payments",
      "stack.yaml:7:5: provider instance mine declares its own connection (type postgres); stacks of project payments use the platform's provider instances by name",
      "stack.yaml:8:5: provider instance other-postgres is not among project payments's providers",
      "db.yaml:1:1 (postgres.plumb.dev/v1/Database/search_main): database search_main is not among project payments's databases",
      "db.yaml:6:1 (postgres.plumb.dev/v1/Role/payments_admin): postgres.plumb.dev/v1/Role matches project payments's kinds.deny[1]",
      "(postgres.plumb.dev/v1/Role/payments_admin): secret search-db is not among project payments's secrets.names",
      "(postgres.plumb.dev/v1/Role/payments_admin): role postgres is not among project payments's roles",
      "(postgres.plumb.dev/v1/Extension/plpython3u): postgres.plumb.dev/v1/Extension matches project payments's kinds.deny[0]",
      "(rbac.authorization.k8s.io/v1/ClusterRoleBinding/payments-admin): rbac.authorization.k8s.io/v1/ClusterRoleBinding payments-admin is outside every namespace, and project payments allows only its namespaces",
      "(v1/ConfigMap/kube-system/peek): namespace kube-system is not among project payments's namespaces",
    ];
    for (const message of expected)
      expect(
        found.some((line) => line.includes(message)),
        `${message}\n in:\n${found.join("\n")}`,
      ).toBe(true);
    expect(found).toHaveLength(expected.length);
    expect(found.every((line) => line.includes("[PLUMB_PROJECT_DENIED]"))).toBe(true);
    // The secret reference is located at its own line.
    expect(found.find((line) => line.includes("secret search-db"))).toMatch(/^db\.yaml:12:3 /);
  });

  it("checks the source against the project's sources, and lets a privileged project declare its own connections", async () => {
    workspace = createWorkspace({ name: "payments" });
    workspace.write("stack.yaml", "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: payments }\n");
    const elsewhere: StackDocument = {
      ...platformStack,
      spec: { ...platformStack.spec, source: { repo: "https://git.example.org/search/infra.git", path: "prod" } },
    };
    const sourceProblems = await denials({ ...payments, sources: [{ repo: "https://git.example.org/payments/*" }] }, elsewhere);
    expect(sourceProblems.map((problem) => problem.message)).toEqual([
      "source https://git.example.org/search/infra.git path prod is not among project payments's sources",
    ]);
    expect(sourceProblems[0]?.location.file).toBe("platform/payments.yaml");
    const allowed = await render({ ...payments, sources: [{ repo: "https://git.example.org/search/*", path: "prod" }] }, elsewhere);
    expect(allowed.definition.name).toBe("payments");

    const inline: StackDocument = {
      ...platformStack,
      spec: { project: "platform", providers: { db: { type: "postgres", config: { host: "db.internal", user: "plumb" } } } },
    };
    const privileged = await render({ name: "platform", privileged: true }, inline);
    expect(privileged.definition.providers.db).toEqual({ type: "postgres", config: { host: "db.internal", user: "plumb" } });
  });

  it("names a provider instance the platform does not declare", async () => {
    workspace = createWorkspace({ name: "payments" });
    workspace.write(
      "stack.yaml",
      "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: payments }\nspec:\n  providers:\n    db: { instance: no-such-db }\n",
    );
    const problems = await denials({ ...payments, providers: ["*"] }, { ...platformStack, spec: { project: "payments" } });
    expect(problems.map((problem) => problem.describe())).toContain(
      "stack.yaml:6:5: provider instance db uses no-such-db, which is not a ProviderInstance in the platform repository [PLUMB_PROVIDER_INSTANCE]\n  hint: check the name against the platform's ProviderInstance documents",
    );
  });

  it("fences a stack the platform lists in plumb validate --platform too, as a pull request's check would", () => {
    workspace = createWorkspace({ name: "payments" });
    workspace.write(
      "stack.yaml",
      "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: payments }\nspec:\n  providers:\n    db: { instance: shared-postgres }\n",
    );
    workspace.write(
      "db.yaml",
      "apiVersion: postgres.plumb.dev/v1\nkind: Database\nmetadata: { name: search_main, annotations: { plumb.dev/provider: db } }\nspec: {}\n",
    );
    const platform = path.join(workspace.root, "platform");
    mkdirSync(platform, { recursive: true });
    writeFileSync(
      path.join(platform, "platform.yaml"),
      [
        "apiVersion: plumb.dev/v1\nkind: ProviderInstance\nmetadata: { name: shared-postgres }\nspec: { type: postgres, config: { host: db.internal, user: plumb } }",
        "apiVersion: plumb.dev/v1\nkind: Project\nmetadata: { name: payments }\nspec: { providers: [shared-postgres], databases: [payments_*] }",
        "apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: payments }\nspec: { project: payments }",
      ].join("\n---\n") + "\n",
    );
    const refused = runCli(["validate", workspace.stackDir, "--platform", platform]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      "db.yaml:1:1 (postgres.plumb.dev/v1/Database/search_main): database search_main is not among project payments's databases [PLUMB_PROJECT_DENIED]",
    );
    // Without the platform, the same folder cannot even name its connection.
    expect(runCli(["validate", workspace.stackDir]).stderr).toContain(
      "uses the platform's instance shared-postgres, and no platform repository is loaded here",
    );
  });
});
