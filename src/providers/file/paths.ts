// Confines every file operation to the provider instance's root: no absolute
// paths, no `..` that climbs out, and no symlink anywhere along the way.

import { lstatSync } from "node:fs";
import { lstat } from "node:fs/promises";
import path from "node:path";
import { PlumbError } from "../../errors.js";
import type { SpecProblem } from "../../sdk/provider.js";

/**
 * Checks a spec path without touching the disk; returns the normalised
 * relative path or a problem. Used both at render time and before every I/O.
 */
export function checkRelativePath(relativePath: string): { normalized: string } | { problem: SpecProblem } {
  const fail = (message: string, hint: string) => ({ problem: { path: "/path", message, hint } });
  if (relativePath.includes("\0")) return fail("path contains a NUL byte", "remove the NUL character from the path");
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) {
    return fail(`path "${relativePath}" is absolute; paths are relative to the provider's root`, "write the path relative to the provider instance's root, e.g. \"config/app.conf\"");
  }
  const normalized = path.posix.normalize(relativePath.replaceAll("\\", "/"));
  if (normalized === "." || normalized === "./" || normalized === "") {
    return fail(`path "${relativePath}" names the provider's root itself`, "name a file or directory below the root");
  }
  if (normalized === ".." || normalized.startsWith("../")) {
    return fail(`path "${relativePath}" resolves outside the provider's root`, "remove the \"..\" segments that climb above the root");
  }
  return { normalized: normalized.replace(/\/+$/, "") };
}

/**
 * Resolves a spec path to an absolute path inside `root`, refusing any existing
 * component that is a symlink, the object itself included. Components that do
 * not exist yet are fine: they will be created as real directories or files.
 */
export async function resolveInsideRoot(root: string, relativePath: string, address: string): Promise<string> {
  const absolutePath = resolveInsideRootSync(root, relativePath, address, new Map());
  try {
    if ((await lstat(absolutePath)).isSymbolicLink()) {
      throw new PlumbError("PLUMB_PATH_ESCAPE", `"${relativePath}" is a symlink; symlinks are never followed`, {
        location: { resource: address },
        hint: "remove the symlink so Plumb can manage a real file or directory there",
      });
    }
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  return absolutePath;
}

export function isMissing(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR");
}

/** Every ancestor directory of a normalised relative path, outermost first. */
export function ancestorDirectories(normalized: string): string[] {
  const segments = normalized.split("/");
  const ancestors: string[] = [];
  for (let index = 1; index < segments.length; index++) ancestors.push(segments.slice(0, index).join("/"));
  return ancestors;
}

export function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

export function parseMode(mode: string): number {
  return Number.parseInt(mode, 8);
}

/**
 * The synchronous twin of resolveInsideRoot for bulk reads: checks each parent
 * directory once per call (the `checked` cache) instead of once per file.
 * Synchronous calls are an order of magnitude faster than the thread-pool ones
 * for many small files; callers yield to the event loop between batches.
 */
export function resolveInsideRootSync(root: string, relativePath: string, address: string, checked: Map<string, boolean>): string {
  const result = checkRelativePath(relativePath);
  if ("problem" in result) {
    throw new PlumbError("PLUMB_PATH_ESCAPE", result.problem.message, { location: { resource: address }, hint: result.problem.hint });
  }
  // Only the parent directories are checked here; the caller checks the object
  // itself (or opens it with O_NOFOLLOW, which refuses a symlink).
  for (const relative of ancestorDirectories(result.normalized)) {
    const current = path.join(root, relative);
    let exists = checked.get(relative);
    if (exists === undefined) {
      try {
        if (lstatSync(current).isSymbolicLink()) {
          throw new PlumbError("PLUMB_PATH_ESCAPE", `path "${relativePath}" goes through the symlink "${relative}"; symlinks are never followed`, {
            location: { resource: address },
            hint: "replace the symlink with a real directory or file, or point the resource at a path without links",
          });
        }
        exists = true;
      } catch (error) {
        if (!isMissing(error)) throw error;
        exists = false;
      }
      checked.set(relative, exists);
    }
    if (!exists) break;
  }
  return path.join(root, result.normalized);
}

/** Render-time check of a spec's `path`, shared by every kind of this provider. */
export function validatePathSpec(spec: { path: string }): SpecProblem[] {
  const checked = checkRelativePath(spec.path);
  return "problem" in checked ? [checked.problem] : [];
}

/** Dependency keys of the directories above a spec's `path` (a file waits for its directory). */
export function parentDirectoryKeys(spec: { path: string }): string[] {
  const checked = checkRelativePath(spec.path);
  return "problem" in checked ? [] : ancestorDirectories(checked.normalized).map((directory) => `dir:${directory}`);
}
