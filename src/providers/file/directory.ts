// Kind `Directory`: a directory's existence and permission bits. Deleting one
// that still holds files Plumb does not manage is refused, never forced.

import { chmod, lstat, mkdir, rmdir } from "node:fs/promises";
import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { FileConnection } from "./index.js";
import { ancestorDirectories, checkRelativePath, formatMode, isMissing, parentDirectoryKeys, parseMode, resolveInsideRoot, validatePathSpec } from "./paths.js";

export const directorySpec = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, description: "Path relative to the provider's root." }),
    mode: Type.Optional(
      Type.String({ pattern: "^0?[0-7]{3}$", description: "Permission bits as an octal string, e.g. \"0755\". Unset: not managed." }),
    ),
  },
  { additionalProperties: false },
);

export type DirectorySpec = Static<typeof directorySpec>;

const defaultDirectoryMode = 0o755;

/**
 * Creates every missing directory on the way to `relativePath` (including the
 * last segment when `includeLast`), checking each for symlinks first.
 */
export async function ensureDirectories(connection: FileConnection, relativePath: string, address: string, includeLast: boolean): Promise<void> {
  const checked = checkRelativePath(relativePath);
  if ("problem" in checked) return;
  const directories = ancestorDirectories(checked.normalized);
  if (includeLast) directories.push(checked.normalized);
  for (const directory of directories) {
    const absolutePath = await resolveInsideRoot(connection.root, directory, address);
    try {
      await mkdir(absolutePath);
    } catch (error) {
      if (!(typeof error === "object" && error !== null && "code" in error && error.code === "EEXIST")) throw error;
    }
  }
}

async function readLive(connection: FileConnection, target: Target<DirectorySpec>): Promise<LiveObject | null> {
  const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
  let stats;
  try {
    stats = await lstat(absolutePath);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  if (!stats.isDirectory()) {
    throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${target.spec.path}" exists but is not a directory`, {
      location: { resource: target.address },
      hint: "remove or rename what is there, or choose another path",
    });
  }
  return { spec: { path: target.spec.path, mode: formatMode(stats.mode) } };
}

export const directoryKind = defineKind<DirectorySpec, FileConnection>({
  kind: "Directory",
  outputs: (spec) => ({ path: spec.path }),
  schema: directorySpec,
  replaceOn: ["path"],
  validate: validatePathSpec,
  provides(spec) {
    const checked = checkRelativePath(spec.path);
    return "problem" in checked ? [] : [`dir:${checked.normalized}`];
  },
  requires: parentDirectoryKeys,
  read: readLive,
  async create(connection, target) {
    await connection.ensureRoot();
    await ensureDirectories(connection, target.spec.path, target.address, true);
    const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
    const mode = target.spec.mode === undefined ? defaultDirectoryMode : parseMode(target.spec.mode);
    await chmod(absolutePath, mode);
    return { spec: { path: target.spec.path, mode: formatMode(mode) } };
  },
  async update(connection, target, live) {
    const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
    const mode = target.spec.mode === undefined ? String(live.spec.mode) : target.spec.mode;
    await chmod(absolutePath, parseMode(mode));
    return { spec: { path: target.spec.path, mode: formatMode(parseMode(mode)) } };
  },
  async delete(connection, target) {
    const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
    try {
      await rmdir(absolutePath);
    } catch (error) {
      if (isMissing(error)) return;
      if (typeof error === "object" && error !== null && "code" in error && error.code === "ENOTEMPTY") {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `directory "${target.spec.path}" is not empty: it holds files Plumb does not manage`, {
          location: { resource: target.address },
          hint: "move those files away, or keep the directory with the annotation plumb.dev/prune: \"false\"",
        });
      }
      throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
