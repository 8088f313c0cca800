import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PlumbError } from "../src/errors.js";
import { GitMirrors, parseRef, validateRepositoryUrl } from "../src/source/git.js";
import { createTestRepository, type TestRepository } from "./git-repository.js";
import { startGitHttpServer } from "./git-http-server.js";

let repository: TestRepository;
let cache: string;
let mirrors: GitMirrors;

beforeEach(() => {
  repository = createTestRepository();
  cache = mkdtempSync(path.join(tmpdir(), "plumb-cache-"));
  mirrors = new GitMirrors(cache);
});

afterEach(() => {
  repository.cleanup();
  rmSync(cache, { recursive: true, force: true });
});

describe("git sources", () => {
  it("resolves branches, tags, semver ranges and commits, and checks out the tree of a commit", async () => {
    repository.write("app/a.yaml", "one");
    const first = repository.commit("first");
    repository.git("tag", "v1.0.0");
    repository.write("app/a.yaml", "two");
    const second = repository.commit("second");
    repository.git("tag", "-a", "v1.4.2", "-m", "annotated");
    repository.write("app/a.yaml", "three");
    const third = repository.commit("third");
    repository.git("tag", "v2.0.0");

    const resolve = (ref: unknown) => mirrors.resolve({ url: repository.url, ref: parseRef(ref, "test") });
    expect((await resolve("main")).commit).toBe(third);
    expect((await resolve({ branch: "main" })).commit).toBe(third);
    expect((await resolve({ tag: "v1.0.0" })).commit).toBe(first);
    expect(await resolve({ semver: "^1.0.0" })).toEqual({ commit: second, refName: "refs/tags/v1.4.2" });
    expect((await resolve(first)).commit).toBe(first);

    const source = { url: repository.url, ref: parseRef("main", "test") };
    await mirrors.ensureCommit(source, second);
    const tree = await mirrors.checkout(source, second);
    expect(readFileSync(path.join(tree, "app/a.yaml"), "utf8")).toBe("two");
    expect(await mirrors.checkout(source, second)).toBe(tree);
    expect(await mirrors.commitInfo(source, second)).toMatchObject({ commit: second, author: "Ada Author", email: "ada@example.org", message: "second" });
  });

  it("does not contact the remote for a commit it already holds", async () => {
    repository.write("a.yaml", "x");
    const commit = repository.commit("only");
    const source = { url: repository.url, ref: parseRef("main", "test") };
    await mirrors.ensureCommit(source, commit);
    const moved = `${repository.directory}-moved`;
    renameSync(repository.directory, moved);
    try {
      await expect(mirrors.ensureCommit(source, commit)).resolves.toBeUndefined();
      const failure = await mirrors.resolve(source).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(PlumbError);
      expect((failure as PlumbError).code).toBe("PLUMB_SOURCE_UNREACHABLE");
    } finally {
      renameSync(moved, repository.directory);
    }
  });

  it("says which ref is missing", async () => {
    repository.commit("empty");
    const failure = await mirrors.resolve({ url: repository.url, ref: parseRef({ branch: "release" }, "test") }).catch((error: unknown) => error);
    expect((failure as PlumbError).code).toBe("PLUMB_SOURCE_REF_NOT_FOUND");
    expect((failure as PlumbError).message).toContain("branch release");
  });

  it("refuses URLs and refs that git could read as options or commands", () => {
    const marker = path.join(cache, "pwned");
    for (const url of [
      `--upload-pack=touch ${marker}`,
      `ext::sh -c touch% ${marker}`,
      "https://user:hunter2@example.org/repo.git",
      "https://example.org/a b.git",
      "relative/path",
    ]) {
      expect(() => validateRepositoryUrl(url, "stacks/x.yaml"), url).toThrow(PlumbError);
    }
    expect(() => validateRepositoryUrl("https://user:hunter2@example.org/repo.git", "x")).toThrow(/carries a password/);
    try {
      validateRepositoryUrl("https://user:hunter2@example.org/repo.git", "x");
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("hunter2");
    }
    for (const ref of [
      "-x",
      "--upload-pack=x",
      "a..b",
      "a b",
      "x^",
      { branch: "-f" },
      { commit: "abc" },
      { semver: "not a range" },
      { branch: "a", tag: "b" },
    ]) {
      expect(() => parseRef(ref, "stacks/x.yaml"), JSON.stringify(ref)).toThrow(PlumbError);
    }
    expect(existsSync(marker)).toBe(false);
  });

  it("keeps a token out of error messages and off the command line", async () => {
    const failure = await mirrors
      .resolve({ url: "http://127.0.0.1:9/none.git", ref: parseRef("main", "t"), credentials: { token: "tok-canary-123" } })
      .catch((error: unknown) => error);
    expect((failure as PlumbError).code).toBe("PLUMB_SOURCE_UNREACHABLE");
    expect((failure as PlumbError).message).toContain("127.0.0.1:9");
    expect((failure as PlumbError).message).not.toContain("tok-canary-123");
  });

  it("verifies commit signatures against an ssh allowed-signers file", async () => {
    const keys = path.join(cache, "keys");
    const keygen = (name: string) => execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path.join(keys, name)]);
    mkdirSync(keys);
    keygen("trusted");
    keygen("stranger");
    const allowed = (name: string) => {
      const file = path.join(keys, `${name}.allowed`);
      writeFileSync(file, `ada@example.org ${readFileSync(path.join(keys, `${name}.pub`), "utf8")}`);
      return file;
    };
    repository.write("a.yaml", "unsigned");
    const unsigned = repository.commit("unsigned");
    repository.write("a.yaml", "signed");
    repository.git("add", "--all");
    repository.git("-c", "gpg.format=ssh", "-c", `user.signingkey=${path.join(keys, "trusted")}`, "commit", "--quiet", "-S", "-m", "signed");
    const signed = repository.git("rev-parse", "HEAD");
    const source = (file: string) => ({ url: repository.url, ref: parseRef("main", "t"), verify: { mode: "ssh" as const, allowedSignersFile: file } });
    await mirrors.ensureCommit(source(allowed("trusted")), signed);
    await expect(mirrors.verifyCommit(source(allowed("trusted")), signed)).resolves.toBeUndefined();
    const refusedUnsigned = await mirrors.verifyCommit(source(allowed("trusted")), unsigned).catch((error: unknown) => error);
    expect((refusedUnsigned as PlumbError).code).toBe("PLUMB_SOURCE_VERIFY");
    expect((refusedUnsigned as PlumbError).message).toContain(unsigned);
    const refusedStranger = await mirrors.verifyCommit(source(allowed("stranger")), signed).catch((error: unknown) => error);
    expect((refusedStranger as PlumbError).code).toBe("PLUMB_SOURCE_VERIFY");
  });

  it("reads a repository over smart HTTP with a token, and keeps a refused token out of the error", async () => {
    repository.write("a.yaml", "over http");
    const commit = repository.commit("http");
    const server = await startGitHttpServer(path.dirname(repository.directory), "tok-http-secret");
    try {
      const url = `${server.url}/${path.basename(repository.directory)}`;
      const withToken = { url, ref: parseRef("main", "t"), credentials: { token: "tok-http-secret" } };
      expect((await mirrors.resolve(withToken)).commit).toBe(commit);
      await mirrors.ensureCommit(withToken, commit);
      expect(readFileSync(path.join(await mirrors.checkout(withToken, commit), "a.yaml"), "utf8")).toBe("over http");
      expect(server.requests.every((request) => request.authorized)).toBe(true);

      const wrong = await mirrors.resolve({ ...withToken, credentials: { token: "tok-wrong" } }).catch((error: unknown) => error);
      expect((wrong as PlumbError).code).toBe("PLUMB_SOURCE_UNREACHABLE");
      expect((wrong as PlumbError).message).not.toContain("tok-wrong");
      expect(server.requests.some((request) => !request.authorized)).toBe(true);
    } finally {
      await server.close();
    }
  });
});
