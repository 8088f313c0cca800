// A real git repository in a temp directory, for source and agent tests.

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TestRepository {
  directory: string;
  url: string;
  write(relativePath: string, text: string): void;
  remove(relativePath: string): void;
  /** Commits everything and returns the new commit id. */
  commit(message: string): string;
  git(...args: string[]): string;
  cleanup(): void;
}

export function createTestRepository(): TestRepository {
  const directory = mkdtempSync(path.join(tmpdir(), "plumb-repo-"));
  const environment = {
    ...process.env,
    GIT_AUTHOR_NAME: "Ada Author",
    GIT_AUTHOR_EMAIL: "ada@example.org",
    GIT_COMMITTER_NAME: "Ada Author",
    GIT_COMMITTER_EMAIL: "ada@example.org",
    GIT_CONFIG_GLOBAL: "/dev/null",
  };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: directory, env: environment, encoding: "utf8" }).trim();
  git("init", "--quiet", "--initial-branch=main");
  return {
    directory,
    url: `file://${directory}`,
    write(relativePath, text) {
      const target = path.join(directory, relativePath);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, text);
    },
    remove(relativePath) {
      rmSync(path.join(directory, relativePath), { force: true, recursive: true });
    },
    commit(message) {
      git("add", "--all");
      git("commit", "--quiet", "--allow-empty", "-m", message);
      return git("rev-parse", "HEAD");
    },
    git,
    cleanup() {
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
