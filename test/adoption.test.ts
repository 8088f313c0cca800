// Adoption is explicit: an existing file or PostgreSQL role that a stack
// happens to name is refused (naming the object and both ways to adopt it),
// adopted with plumb.dev/adopt: "true" (and labelled adoption, not a source
// change), or recorded by plumb import; an object whose own tags say Plumb
// made it for this stack is Plumb's without asking.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, fileResource, runCli, type Workspace } from "./helpers.js";
import { usePostgres } from "./postgres-server.js";

const server = usePostgres();
let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const plumb = (args: string[]) => runCli([...args, "--data-dir", workspace.dataDir], { env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password } });

function existingFile(relative: string, content: string): void {
  mkdirSync(workspace.outputDir, { recursive: true });
  writeFileSync(path.join(workspace.outputDir, relative), content);
}

describe("a file that exists before the stack", () => {
  it("is refused without opt-in, adopted with it, and never shown as a source change", () => {
    workspace = createWorkspace({ name: "adopt-file" });
    existingFile("motd.txt", "written by hand\n");
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "from git\n"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('File "motd" already exists in the live system and Plumb did not create it');
    expect(refused.stderr).toContain('plumb.dev/adopt: "true"');
    expect(refused.stderr).toContain("plumb import <dir> file.plumb.dev/v1/File/motd");
    expect(refused.stderr).toContain("files.yaml");
    const applyRefused = plumb(["apply", workspace.stackDir, "--yes"]);
    expect(applyRefused.status).toBe(1);
    expect(readFileSync(path.join(workspace.outputDir, "motd.txt"), "utf8")).toBe("written by hand\n");

    workspace.write("files.yaml", fileResource("motd", "motd.txt", "from git\n", { annotations: { "plumb.dev/adopt": "true" } }));
    const adopting = plumb(["plan", workspace.stackDir]);
    expect(adopting.status).toBe(0);
    expect(adopting.stdout).toContain("adopt (update): adopted: it existed before Plumb managed it (plumb.dev/adopt); content set as the source says");
    expect(adopting.stdout).not.toContain("changed in the source");
    expect(adopting.stdout).toContain("1 adopted");
    const markdown = plumb(["plan", workspace.stackDir, "--format", "markdown"]);
    expect(markdown.stdout).toContain("**adopt** `file.plumb.dev/v1/File/motd`");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(readFileSync(path.join(workspace.outputDir, "motd.txt"), "utf8")).toBe("from git\n");
    // Once adopted it is Plumb's: the annotation can go and nothing is refused.
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "from git\n"));
    expect(plumb(["plan", workspace.stackDir]).stdout).toContain("no changes");
  });

  it("is recorded as it is by plumb import, after which the plan shows the change to make", () => {
    workspace = createWorkspace({ name: "import-file" });
    existingFile("motd.txt", "written by hand\n");
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "from git\n"));
    const wrong = plumb(["import", workspace.stackDir, "file.plumb.dev/v1/File/motdd"]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain("stack import-file declares no resource file.plumb.dev/v1/File/motdd");
    const imported = plumb(["import", workspace.stackDir, "file.plumb.dev/v1/File/motd"]);
    expect(imported.stderr).toBe("");
    expect(imported.stdout).toContain("imported file.plumb.dev/v1/File/motd into stack import-file");
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.status).toBe(0);
    expect(planned.stdout).toContain("content changed in the source");
    expect(plumb(["import", workspace.stackDir, "file.plumb.dev/v1/File/motd"]).stderr).toContain("is managed by stack import-file already");
    expect(plumb(["audit", "export"]).stdout).toContain('"kind":"resource.imported"');
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(readFileSync(path.join(workspace.outputDir, "motd.txt"), "utf8")).toBe("from git\n");
  });

  it("a file that does not exist cannot be imported, and a new one is created without asking", () => {
    workspace = createWorkspace({ name: "new-file" });
    workspace.write("files.yaml", fileResource("motd", "motd.txt", "from git\n"));
    expect(plumb(["import", workspace.stackDir, "file.plumb.dev/v1/File/motd"]).stderr).toContain('there is no File "motd" in the live system to import');
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "motd.txt"))).toBe(true);
  });
});

describe("a PostgreSQL role that exists before the stack", () => {
  const stackWith = (name: string, resources: string) => {
    workspace = createWorkspace({ name });
    workspace.write(
      "stack.yaml",
      `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: ${server.port}, user: postgres, password: { secretRef: { name: pg-admin, key: password } } } }\n`,
    );
    workspace.write("db.yaml", resources);
  };
  const role = (name: string, spec: string, annotations = "") =>
    `apiVersion: postgres.plumb.dev/v1\nkind: Role\nmetadata:\n  name: ${name}\n${annotations === "" ? "" : `  annotations: { ${annotations} }\n`}spec: ${spec}\n`;

  it("is refused without opt-in, adopted with it, and imported by plumb import", async () => {
    await server.query("CREATE ROLE legacy_app LOGIN CONNECTION LIMIT 3");
    await server.query("CREATE ROLE legacy_reports LOGIN CONNECTION LIMIT 3");
    stackWith("adopt-roles", role("legacy_app", "{ login: true, connectionLimit: 10 }"));
    const refused = plumb(["plan", workspace.stackDir]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('Role "legacy_app" already exists in the live system and Plumb did not create it');

    stackWith("adopt-roles", role("legacy_app", "{ login: true, connectionLimit: 10 }", 'plumb.dev/adopt: "true"'));
    const adopting = plumb(["plan", workspace.stackDir]);
    expect(adopting.stdout).toContain("adopt (update)");
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect((await server.query<{ rolconnlimit: number }>("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'legacy_app'"))[0]?.rolconnlimit).toBe(10);

    stackWith("import-roles", role("legacy_reports", "{ login: true, connectionLimit: 5 }"));
    expect(plumb(["import", workspace.stackDir, "postgres.plumb.dev/v1/Role/legacy_reports"]).status).toBe(0);
    const planned = plumb(["plan", workspace.stackDir]);
    expect(planned.stdout).toMatch(/~\s+postgres\.plumb\.dev\/v1\/Role\/legacy_reports\s+update: connectionLimit changed in the source/);
    expect(plumb(["apply", workspace.stackDir, "--yes"]).status).toBe(0);
    expect((await server.query<{ rolconnlimit: number }>("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'legacy_reports'"))[0]?.rolconnlimit).toBe(5);
  });

  it("whose tags say Plumb made it for this stack is taken back without asking (a store lost)", async () => {
    stackWith("own-role", role("own_app", "{ login: true, tags: { team: search } }"));
    // The compliance policy puts managed-by and stack into every resource's tags.
    const policy = path.join(workspace.root, "policy.yaml");
    writeFileSync(policy, "apiVersion: plumb.dev/v1\nkind: CompliancePolicy\nmetadata: { name: platform }\nspec:\n  tagPrefix: compliance/\n  keys: {}\n");
    expect(plumb(["apply", workspace.stackDir, "--yes", "--policy", policy]).status).toBe(0);
    // A new data directory: the store that knew the role is gone, the role's tags remain.
    const lostStore = path.join(workspace.root, "fresh-data");
    const again = runCli(["plan", workspace.stackDir, "--policy", policy, "--data-dir", lostStore], {
      env: { PLUMB_SECRET_PG_ADMIN_PASSWORD: server.password },
    });
    expect(again.stderr).toBe("");
    expect(again.stdout).toContain("Plumb's own object (its metadata names this stack)");
  });
});
