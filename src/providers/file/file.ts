// Kind `File`: a regular file's content and permission bits.

import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { chmod, lstat, open, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { FileConnection } from "./index.js";
import { formatMode, isMissing, parentDirectoryKeys, parseMode, resolveInsideRoot, resolveInsideRootSync, validatePathSpec } from "./paths.js";
import { ensureDirectories } from "./directory.js";

const modePattern = "^0?[0-7]{3}$";

export const fileSpec = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, description: "Path relative to the provider's root." }),
    content: Type.String({ description: "The file's full content (UTF-8)." }),
    mode: Type.Optional(
      Type.String({ pattern: modePattern, description: "Permission bits as an octal string, e.g. \"0644\". Unset: not managed." }),
    ),
  },
  { additionalProperties: false },
);

export type FileSpec = Static<typeof fileSpec>;

const defaultFileMode = 0o644;

function temporaryPathFor(absolutePath: string): string {
  return path.join(path.dirname(absolutePath), `.${path.basename(absolutePath)}.plumb-tmp`);
}

/** Files read between two yields to the event loop in a bulk read. */
const readBatch = 256;

function readLiveSync(connection: FileConnection, target: Target<FileSpec>, checked: Map<string, boolean>): LiveObject | null {
  const absolutePath = resolveInsideRootSync(connection.root, target.spec.path, target.address, checked);
  let descriptor: number;
  try {
    // O_NOFOLLOW: a symlink put in place after the checks above still is not followed.
    descriptor = openSync(absolutePath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (isMissing(error)) return null;
    if (typeof error === "object" && error !== null && "code" in error && error.code === "ELOOP") {
      throw new PlumbError("PLUMB_PATH_ESCAPE", `"${target.spec.path}" is a symlink; symlinks are never followed`, {
        location: { resource: target.address },
        hint: "remove the symlink so Plumb can manage a regular file there",
      });
    }
    throw error;
  }
  try {
    const stats = fstatSync(descriptor);
    if (!stats.isFile()) {
      throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${target.spec.path}" exists but is not a regular file`, {
        location: { resource: target.address },
        hint: "remove or rename what is there, or choose another path",
      });
    }
    const content = readFileSync(descriptor, "utf8");
    return { spec: { path: target.spec.path, content, mode: formatMode(stats.mode) } };
  } finally {
    closeSync(descriptor);
  }
}

/** Writes through a temporary file and a rename, so readers never see half a file. */
async function writeFile(connection: FileConnection, target: Target<FileSpec>): Promise<LiveObject> {
  await connection.ensureRoot();
  const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
  await ensureDirectories(connection, target.spec.path, target.address, false);
  const temporaryPath = temporaryPathFor(absolutePath);
  const mode = target.spec.mode === undefined ? defaultFileMode : parseMode(target.spec.mode);
  const handle = await open(temporaryPath, "w", mode);
  try {
    await handle.writeFile(target.spec.content, "utf8");
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
  await rename(temporaryPath, absolutePath);
  return { spec: { path: target.spec.path, content: target.spec.content, mode: formatMode(mode) } };
}

export const fileKind = defineKind<FileSpec, FileConnection>({
  kind: "File",
  outputs: (spec) => ({ path: spec.path }),
  schema: fileSpec,
  replaceOn: ["path"],
  validate: validatePathSpec,
  requires: parentDirectoryKeys,
  async list(connection, targets) {
    const live = new Map<string, LiveObject | Error>();
    const checked = new Map<string, boolean>();
    for (let start = 0; start < targets.length; start += readBatch) {
      for (const target of targets.slice(start, start + readBatch)) {
        try {
          const object = readLiveSync(connection, target, checked);
          if (object !== null) live.set(target.address, object);
        } catch (error) {
          live.set(target.address, error instanceof Error ? error : new Error(String(error)));
        }
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    return live;
  },
  async read(connection, target) {
    return readLiveSync(connection, target, new Map());
  },
  create: writeFile,
  async update(connection, target, live) {
    if (live.spec.content !== target.spec.content) return writeFile(connection, target);
    const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
    const mode = target.spec.mode === undefined ? String(live.spec.mode) : target.spec.mode;
    await chmod(absolutePath, parseMode(mode));
    return { spec: { ...live.spec, mode: formatMode(parseMode(mode)) } };
  },
  async delete(connection, target) {
    const absolutePath = await resolveInsideRoot(connection.root, target.spec.path, target.address);
    await rm(temporaryPathFor(absolutePath), { force: true });
    try {
      const stats = await lstat(absolutePath);
      if (!stats.isFile() && !stats.isSymbolicLink()) {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${target.spec.path}" is no longer a regular file; refusing to delete it`, {
          location: { resource: target.address },
          hint: "remove it by hand if it should go",
        });
      }
      await rm(absolutePath);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
