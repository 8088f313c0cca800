// Kind `File`: a regular file's content and permission bits.

import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { FileConnection } from "./index.js";
import { formatMode, parentDirectoryKeys, parseMode, validatePathSpec } from "./paths.js";
import { gone, withRoot, type Anchored, type RootHandle } from "./root-handle.js";

const modePattern = "^0?[0-7]{3}$";

export const fileSpec = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, description: "Path relative to the provider's root." }),
    content: Type.String({ description: "The file's full content (UTF-8)." }),
    mode: Type.Optional(Type.String({ pattern: modePattern, description: 'Permission bits as an octal string, e.g. "0644". Unset: not managed.' })),
  },
  { additionalProperties: false },
);

export type FileSpec = Static<typeof fileSpec>;

const defaultFileMode = 0o644;

/** Files read between two yields to the event loop in a bulk read. */
const readBatch = 256;

function readLive(handle: RootHandle, target: Target<FileSpec>): LiveObject | null {
  const anchored = handle.anchor(target.spec.path, false, target.address);
  if (anchored === undefined) return null;
  const file = handle.readFile(anchored);
  return file === null ? null : { spec: { path: target.spec.path, content: file.content, mode: formatMode(file.stats.mode) } };
}

/** Writes through a new temporary file and a rename in the same directory handle, so readers never see half a file. */
async function writeFile(connection: FileConnection, target: Target<FileSpec>): Promise<LiveObject> {
  await connection.ensureRoot();
  const mode = target.spec.mode === undefined ? defaultFileMode : parseMode(target.spec.mode);
  withRoot(connection.root, (handle) => handle.writeFile(handle.anchor(target.spec.path, true, target.address) as Anchored, target.spec.content, mode));
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
    for (let start = 0; start < targets.length; start += readBatch) {
      // Directory handles are shared within a batch, not across a yield, so a batch sees one consistent tree.
      withRoot(connection.root, (handle) => {
        for (const target of targets.slice(start, start + readBatch)) {
          try {
            const object = readLive(handle, target);
            if (object !== null) live.set(target.address, object);
          } catch (error) {
            live.set(target.address, error instanceof Error ? error : new Error(String(error)));
          }
        }
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    return live;
  },
  async read(connection, target) {
    return withRoot(connection.root, (handle) => readLive(handle, target));
  },
  create: writeFile,
  async update(connection, target, live) {
    if (live.spec.content !== target.spec.content) return writeFile(connection, target);
    const mode = target.spec.mode === undefined ? String(live.spec.mode) : target.spec.mode;
    withRoot(connection.root, (handle) =>
      handle.chmod(handle.anchor(target.spec.path, false, target.address) ?? gone(target.spec.path, target.address), parseMode(mode), "file"),
    );
    return { spec: { ...live.spec, mode: formatMode(parseMode(mode)) } };
  },
  async delete(connection, target) {
    withRoot(connection.root, (handle) => {
      const anchored = handle.anchor(target.spec.path, false, target.address);
      if (anchored === undefined) return;
      const stats = handle.lstat(anchored);
      if (stats === null) return;
      if (!stats.isFile() && !stats.isSymbolicLink()) {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${target.spec.path}" is no longer a regular file; refusing to delete it`, {
          location: { resource: target.address },
          hint: "remove it by hand if it should go",
        });
      }
      handle.unlink(anchored);
    });
  },
  health() {
    return { status: "Healthy" };
  },
});
