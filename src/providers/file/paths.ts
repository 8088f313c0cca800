// Checks spec paths without touching the disk: no absolute paths, no `..` that
// climbs out of the root. The walk that refuses symlinks is root-handle.ts.

import path from "node:path";
import type { SpecProblem } from "../../sdk/provider.js";

/**
 * Checks a spec path without touching the disk; returns the normalised
 * relative path or a problem. Used both at render time and before every I/O.
 */
export function checkRelativePath(relativePath: string): { normalized: string } | { problem: SpecProblem } {
  const fail = (message: string, hint: string) => ({ problem: { path: "/path", message, hint } });
  if (relativePath.includes("\0")) return fail("path contains a NUL byte", "remove the NUL character from the path");
  // eslint-disable-next-line no-control-regex
  if (/[\u0001-\u001f\u007f]/.test(relativePath))
    return fail(`path ${JSON.stringify(relativePath)} contains a control character (a newline, tab or similar)`, "use printable characters in file names");
  if (path.posix.isAbsolute(relativePath) || path.win32.isAbsolute(relativePath)) {
    return fail(
      `path "${relativePath}" is absolute; paths are relative to the provider's root`,
      'write the path relative to the provider instance\'s root, e.g. "config/app.conf"',
    );
  }
  const normalized = path.posix.normalize(relativePath.replaceAll("\\", "/"));
  if (normalized === "." || normalized === "./" || normalized === "") {
    return fail(`path "${relativePath}" names the provider's root itself`, "name a file or directory below the root");
  }
  if (normalized === ".." || normalized.startsWith("../")) {
    return fail(`path "${relativePath}" resolves outside the provider's root`, 'remove the ".." segments that climb above the root');
  }
  const long = normalized.split("/").find((segment) => Buffer.byteLength(segment, "utf8") > 255);
  if (long !== undefined)
    return fail(`path "${relativePath}" has a name of ${Buffer.byteLength(long, "utf8")} bytes; file systems allow 255`, "shorten that name");
  if (Buffer.byteLength(normalized, "utf8") > 4000) return fail("path is longer than 4,000 bytes", "shorten the path");
  return { normalized: normalized.replace(/\/+$/, "") };
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
