// The CLI end to end, as a new user would drive it: real processes, a real
// SQLite store and real files in a temp directory.

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkspace, fileResource, repositoryRoot, runCli, type Workspace } from "./helpers.js";

let workspace: Workspace;
afterEach(() => workspace?.cleanup());

const stackFiles = () => fileResource("readme", "README.txt", "hello\n") + fileResource("config", "etc/app.conf", "level=info\n", { mode: "0640" });

function plumb(...args: string[]) {
  return runCli([...args, "--data-dir", workspace.dataDir]);
}

describe("plumb plan and apply", () => {
  it("plans creates (exit 2), applies them, then plans no changes (exit 0)", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    const first = plumb("plan", workspace.stackDir, "--detailed-exitcode");
    expect(first.status).toBe(2);
    expect(first.stdout).toContain("+   file.plumb.dev/v1/File/readme  create");
    expect(first.stdout).toContain("Plan: 2 to create, 0 to update, 0 to replace, 0 to delete; 0 unchanged.");
    expect(existsSync(path.join(workspace.outputDir, "README.txt"))).toBe(false);

    const applied = plumb("apply", workspace.stackDir, "--yes");
    expect(applied.status).toBe(0);
    expect(applied.stdout).toContain("2 created");
    expect(readFileSync(path.join(workspace.outputDir, "README.txt"), "utf8")).toBe("hello\n");
    expect(statSync(path.join(workspace.outputDir, "etc/app.conf")).mode & 0o777).toBe(0o640);

    const second = plumb("plan", workspace.stackDir, "--detailed-exitcode");
    expect(second.status).toBe(0);
    expect(second.stdout).toContain("Plan: no changes; 2 unchanged.");
  });

  it("shows hand edits as drift field by field, and apply reverts them", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    const configPath = path.join(workspace.outputDir, "etc/app.conf");
    writeFileSync(configPath, "level=debug\n");
    chmodSync(configPath, 0o666);
    chmodSync(path.join(workspace.outputDir, "README.txt"), 0o600);

    const drift = plumb("plan", workspace.stackDir, "--detailed-exitcode");
    expect(drift.status).toBe(2);
    expect(drift.stdout).toContain('content: "level=debug\\n" → "level=info\\n"  # drift');
    expect(drift.stdout).toContain('mode: "0666" → "0640"  # drift');
    // README's mode was never set by Plumb, so changing it is not drift.
    expect(drift.stdout).not.toContain("File/readme");

    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    expect(readFileSync(configPath, "utf8")).toBe("level=info\n");
    expect(statSync(configPath).mode & 0o777).toBe(0o640);
    expect(plumb("plan", workspace.stackDir, "--detailed-exitcode").status).toBe(0);
  });

  it("deletes a resource removed from the YAML only with prune on", () => {
    workspace = createWorkspace({ prune: false });
    workspace.write("files.yaml", stackFiles());
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    workspace.write("files.yaml", fileResource("readme", "README.txt", "hello\n"));

    const withoutPrune = plumb("plan", workspace.stackDir);
    expect(withoutPrune.stdout).toContain("file.plumb.dev/v1/File/config  retain: removed from the stack; prune is off");
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "etc/app.conf"))).toBe(true);

    const withPrune = plumb("plan", workspace.stackDir, "--prune", "--detailed-exitcode");
    expect(withPrune.status).toBe(2);
    expect(withPrune.stdout).toContain("-   file.plumb.dev/v1/File/config  delete: removed from the stack");
    expect(plumb("apply", workspace.stackDir, "--yes", "--prune").status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "etc/app.conf"))).toBe(false);
    expect(plumb("state", "list").stdout).not.toContain("File/config");
  });

  it("deletes nothing when the directory is emptied with prune on, unless allowEmpty", () => {
    workspace = createWorkspace({ prune: true });
    workspace.write("files.yaml", stackFiles());
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    workspace.remove("files.yaml");

    const guarded = plumb("apply", workspace.stackDir, "--yes");
    expect(guarded.status).toBe(0);
    expect(guarded.stdout).toContain("the stack rendered no resources");
    expect(existsSync(path.join(workspace.outputDir, "README.txt"))).toBe(true);

    const allowed = plumb("apply", workspace.stackDir, "--yes", "--allow-empty");
    expect(allowed.status).toBe(0);
    expect(allowed.stdout).toContain("2 deleted");
    expect(existsSync(path.join(workspace.outputDir, "README.txt"))).toBe(false);
  });

  it("refuses to write through a symlink in the target path and leaves the other resources applied", () => {
    workspace = createWorkspace();
    const outside = path.join(workspace.root, "outside");
    mkdirSync(outside);
    mkdirSync(workspace.outputDir);
    symlinkSync(outside, path.join(workspace.outputDir, "linked"));
    workspace.write("files.yaml", fileResource("escape", "linked/passwd", "owned\n") + fileResource("fine", "fine.txt", "ok\n"));
    const result = plumb("apply", workspace.stackDir, "--yes");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('path "linked/passwd" goes through the symlink "linked"; symlinks are never followed');
    expect(result.stderr).toContain("file.plumb.dev/v1/File/escape");
    expect(existsSync(path.join(outside, "passwd"))).toBe(false);
  });

  it("stops only the dependents of a failed change, and says what failed and why", () => {
    workspace = createWorkspace();
    // A regular file where a directory should be: reading sees nothing, writing fails.
    mkdirSync(workspace.outputDir, { recursive: true });
    writeFileSync(path.join(workspace.outputDir, "occupied"), "not a directory\n");
    const dependsOnBlocked = { annotations: { "plumb.dev/depends-on": "file.plumb.dev/v1/File/blocked" } };
    workspace.write(
      "files.yaml",
      fileResource("blocked", "occupied/inner.txt", "cannot be written\n") +
        fileResource("child", "child.txt", "waits\n", dependsOnBlocked) +
        fileResource("independent", "independent.txt", "fine\n"),
    );
    const result = runCli(["apply", workspace.stackDir, "--yes", "--data-dir", workspace.dataDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("1 change(s) failed, 1 skipped because they depend on a failed one");
    expect(result.stderr).toMatch(/ {2}file\.plumb\.dev\/v1\/File\/blocked: .*"occupied", which is a file, not a directory/);
    expect(result.stdout).toContain("skipped file.plumb.dev/v1/File/child: depends on file.plumb.dev/v1/File/blocked");
    expect(readFileSync(path.join(workspace.outputDir, "independent.txt"), "utf8")).toBe("fine\n");
    expect(existsSync(path.join(workspace.outputDir, "child.txt"))).toBe(false);
  });

  it("renders plans as JSON and Markdown", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    const json = JSON.parse(plumb("plan", workspace.stackDir, "--format", "json").stdout) as {
      hasChanges: boolean;
      summary: { create: number };
      changes: { address: string; action: string }[];
    };
    expect(json.hasChanges).toBe(true);
    expect(json.summary.create).toBe(2);
    expect(json.changes.map((change) => change.action)).toEqual(["create", "create"]);
    const markdown = plumb("plan", workspace.stackDir, "--format", "markdown").stdout;
    expect(markdown).toContain("| 2 | 0 | 0 | 0 | 0 | 0 | 0 |");
    expect(markdown).toContain("- **create** `file.plumb.dev/v1/File/readme`");
  });

  it("refuses to apply without --yes when stdin is not a terminal", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    const result = plumb("apply", workspace.stackDir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("refusing to apply without confirmation");
    expect(existsSync(path.join(workspace.outputDir, "README.txt"))).toBe(false);
  });

  it("shows recorded state", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    plumb("apply", workspace.stackDir, "--yes");
    const list = plumb("state", "list");
    expect(list.stdout).toContain("test: 2 resource(s)");
    expect(list.stdout).toMatch(/file\.plumb\.dev\/v1\/File\/readme\tSynced\tHealthy/);
    const show = plumb("state", "show", "file.plumb.dev/v1/File/config");
    expect(show.stdout).toContain("managedFields:\n  - /path\n  - /content\n  - /mode");
    const missing = plumb("state", "show", "file.plumb.dev/v1/File/nope");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("no resource file.plumb.dev/v1/File/nope in the state store");
  });

  it("prints every render problem with its location and exits 1", () => {
    workspace = createWorkspace();
    workspace.write(
      "bad.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: Fiel\nmetadata: { name: a }\n---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: b }\nspec: { path: b }\n",
    );
    const result = runCli(["validate", workspace.stackDir]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('error: bad.yaml:2:1 (file.plumb.dev/v1/Fiel/a): unknown kind "Fiel"');
    expect(result.stderr).toContain('error: bad.yaml:8:1 (file.plumb.dev/v1/File/b): spec: missing required field "content"');
    expect(result.stderr).toContain("2 problems found.");
  });

  it("takes the data directory from PLUMB_DATA_DIR", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    expect(runCli(["apply", workspace.stackDir, "--yes"], { env: { PLUMB_DATA_DIR: workspace.dataDir } }).status).toBe(0);
    expect(existsSync(path.join(workspace.dataDir, "plumb.db"))).toBe(true);
    expect(runCli(["state", "list"], { env: { PLUMB_DATA_DIR: workspace.dataDir } }).stdout).toContain("test: 2 resource(s)");
  });

  it("reports a data directory it cannot create, without hanging", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    const result = runCli(["plan", workspace.stackDir, "--data-dir", "/proc/plumb-cannot-exist"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("cannot open the state store at /proc/plumb-cannot-exist/plumb.db");
    expect(result.stderr).toContain("hint: check that the data directory exists and is writable");
  });

  it("has help with an example for every command", () => {
    for (const command of [
      ["validate"],
      ["plan"],
      ["apply"],
      ["state", "list"],
      ["state", "show"],
      ["agent"],
      ["audit", "verify"],
      ["audit", "export"],
      ["report"],
      ["sync"],
      ["secrets", "keygen"],
    ]) {
      const help = runCli([...command, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout).toContain(`$ plumb ${command.join(" ")}`);
    }
  });

  it("the agent's help example is one that works: a platform directory and its path", () => {
    expect(runCli(["agent", "--help"]).stdout).toContain("$ plumb agent --platform examples --path platform");
  });

  it("says what secrets keygen's --output is for when it is missing", () => {
    const result = runCli(["secrets", "keygen"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("needs --output <file>: the file that will hold the new private key");
  });

  it("piped apply --yes prints the plan's summary, not every change twice, and says what the times are", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", Array.from({ length: 30 }, (_, index) => fileResource(`f${index}`, `f${index}.txt`, `${index}\n`)).join(""));
    const result = plumb("apply", workspace.stackDir, "--yes");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("Plan: 30 to create, 0 to update, 0 to replace, 0 to delete; 0 unchanged. (plumb plan shows each change)");
    expect(result.stdout).not.toContain("create: not in the live system yet");
    expect(result.stdout).toMatch(/\[ ?1\/30\] created file\.plumb\.dev\/v1\/File\/f\d+ \(took \d+ ms\)/);
  });

  it("says recreate for what was deleted outside Plumb", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", stackFiles());
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    rmSync(path.join(workspace.outputDir, "README.txt"));
    const planned = plumb("plan", workspace.stackDir);
    expect(planned.stdout).toContain("recreate: missing from the live system (deleted outside Plumb)");
    expect(planned.stdout).toContain("Plan: 1 to recreate (deleted outside Plumb)");
  });

  it("runs the example stack from the repository", () => {
    workspace = createWorkspace();
    const result = runCli(["plan", path.join(repositoryRoot, "examples/hello"), "--data-dir", workspace.dataDir, "--detailed-exitcode"], {
      cwd: workspace.root,
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toContain("Plan: 3 to create");
  });
});

describe("plumb apply safety", () => {
  it("replaces a file whose path changed: the old one goes, the new one comes", () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", fileResource("moving", "old.txt", "x\n"));
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    workspace.write("files.yaml", fileResource("moving", "new.txt", "x\n"));
    const planned = plumb("plan", workspace.stackDir);
    expect(planned.stdout).toContain("-/+ file.plumb.dev/v1/File/moving  replace");
    expect(planned.stdout).toContain('path: "old.txt" → "new.txt"  # forces replacement');
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    expect(existsSync(path.join(workspace.outputDir, "old.txt"))).toBe(false);
    expect(readFileSync(path.join(workspace.outputDir, "new.txt"), "utf8")).toBe("x\n");
  });

  it("refuses to delete a directory that still holds files Plumb does not manage", () => {
    workspace = createWorkspace({ prune: true });
    workspace.write(
      "dirs.yaml",
      "apiVersion: file.plumb.dev/v1\nkind: Directory\nmetadata: { name: data }\nspec: { path: data }\n" + fileResource("keep", "keep.txt", "k"),
    );
    expect(plumb("apply", workspace.stackDir, "--yes").status).toBe(0);
    writeFileSync(path.join(workspace.outputDir, "data", "precious.db"), "user data");
    workspace.write("dirs.yaml", fileResource("keep", "keep.txt", "k"));
    const result = plumb("apply", workspace.stackDir, "--yes");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('directory "data" is not empty: it holds files Plumb does not manage');
    expect(readFileSync(path.join(workspace.outputDir, "data", "precious.db"), "utf8")).toBe("user data");
  });

  it("refuses to apply a stack another live process is applying", async () => {
    workspace = createWorkspace();
    workspace.write("files.yaml", fileResource("a", "a.txt", "a"));
    const { openSqliteStore } = await import("../src/state/sqlite.js");
    const { hostname } = await import("node:os");
    const store = await openSqliteStore(workspace.dataDir);
    try {
      // This test process is alive, so its lock cannot be taken over.
      const taken = await store.acquireLock("test", `${hostname()}:${process.pid}:test`, 60_000, () => false);
      expect(taken.acquired).toBe(true);
      const result = plumb("apply", workspace.stackDir, "--yes");
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`stack test is locked by ${hostname()}:${process.pid}:test`);
      expect(existsSync(path.join(workspace.outputDir, "a.txt"))).toBe(false);
    } finally {
      await store.close();
    }
  });
});

describe("plumb completion", () => {
  /** Sources the script in a shell and asks the completion function about a command line, as the shell would on Tab. */
  const complete = (shell: "bash" | "zsh", words: string[]): string[] => {
    const script = runCli(["completion", shell]);
    expect(script.status, script.stderr).toBe(0);
    const file = path.join(workspace.root, `completion.${shell}`);
    writeFileSync(file, script.stdout);
    const quoted = words.map((word) => `'${word}'`).join(" ");
    const probe = `source ${file}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _plumb; print_it() { printf '%s\\n' "$@"; }; print_it "\${COMPREPLY[@]}"`;
    const result = spawnSync(shell, shell === "zsh" ? ["-f", "-c", probe] : ["--norc", "-c", probe], {
      encoding: "utf8",
      env: { ...process.env, HOME: workspace.root },
    });
    expect(result.stderr).toBe("");
    return result.stdout.split("\n").filter((line) => line !== "");
  };

  it("completes commands, subcommands and each command's own flags in bash", () => {
    workspace = createWorkspace();
    expect(complete("bash", ["plumb", "au"])).toEqual(["audit"]);
    expect(complete("bash", ["plumb", "audit", "ver"])).toEqual(["verify"]);
    expect(complete("bash", ["plumb", "plan", "examples/hello", "--det"])).toEqual(["--detailed-exitcode"]);
    expect(complete("bash", ["plumb", "secrets", ""]).sort()).toEqual(["decrypt", "edit", "encrypt", "keygen", "set"]);
    // A flag of another command is not offered.
    expect(complete("bash", ["plumb", "validate", "--det"])).toEqual([]);
  });

  it.skipIf(spawnSync("zsh", ["--version"]).status !== 0)("loads in zsh through its bash completion layer and finds the same candidates", () => {
    workspace = createWorkspace();
    // zsh's compadd filters by the typed prefix itself; the function hands it the candidates for the command so far.
    expect(complete("zsh", ["plumb", "audit", "ver"])).toContain("verify");
    expect(complete("zsh", ["plumb", "audit", "ver"])).not.toContain("plan");
    expect(complete("zsh", ["plumb", "plan", "--det"])).toContain("--detailed-exitcode");
    expect(complete("zsh", ["plumb", "validate", "--det"])).not.toContain("--detailed-exitcode");
  });

  it("refuses a shell it has no script for", () => {
    const result = runCli(["completion", "fish"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('no completion for the shell "fish"');
  });
});
