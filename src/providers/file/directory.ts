// Kind `Directory`: a directory's existence and permission bits. Deleting one
// that still holds files Plumb does not manage is refused, never forced.

import { Type, type Static } from "@sinclair/typebox";
import { PlumbError } from "../../errors.js";
import { defineKind, type LiveObject, type Target } from "../../sdk/provider.js";
import type { FileConnection } from "./index.js";
import { checkRelativePath, formatMode, isMissing, parentDirectoryKeys, parseMode, validatePathSpec } from "./paths.js";
import { gone, withRoot } from "./root-handle.js";

export const directorySpec = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 4096, description: "Path relative to the provider's root." }),
    mode: Type.Optional(Type.String({ pattern: "^0?[0-7]{3}$", description: 'Permission bits as an octal string, e.g. "0755". Unset: not managed.' })),
  },
  { additionalProperties: false },
);

export type DirectorySpec = Static<typeof directorySpec>;

const defaultDirectoryMode = 0o755;

function readLive(connection: FileConnection, target: Target<DirectorySpec>): LiveObject | null {
  return withRoot(connection.root, (handle) => {
    const anchored = handle.anchor(target.spec.path, false, target.address);
    const stats = anchored === undefined ? null : handle.lstat(anchored);
    if (stats === null) return null;
    if (!stats.isDirectory()) {
      throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${target.spec.path}" exists but is not a directory`, {
        location: { resource: target.address },
        hint: "remove or rename what is there, or choose another path",
      });
    }
    return { spec: { path: target.spec.path, mode: formatMode(stats.mode) } };
  });
}

function setMode(connection: FileConnection, target: Target<DirectorySpec>, mode: number, create: boolean): void {
  withRoot(connection.root, (handle) => {
    if (create) handle.mkdir(target.spec.path, target.address);
    handle.chmod(handle.anchor(target.spec.path, false, target.address) ?? gone(target.spec.path, target.address), mode, "directory");
  });
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
  async read(connection, target) {
    return readLive(connection, target);
  },
  async create(connection, target) {
    await connection.ensureRoot();
    const mode = target.spec.mode === undefined ? defaultDirectoryMode : parseMode(target.spec.mode);
    setMode(connection, target, mode, true);
    return { spec: { path: target.spec.path, mode: formatMode(mode) } };
  },
  async update(connection, target, live) {
    const mode = target.spec.mode === undefined ? String(live.spec.mode) : target.spec.mode;
    setMode(connection, target, parseMode(mode), false);
    return { spec: { path: target.spec.path, mode: formatMode(parseMode(mode)) } };
  },
  async delete(connection, target) {
    try {
      withRoot(connection.root, (handle) => {
        const anchored = handle.anchor(target.spec.path, false, target.address);
        if (anchored !== undefined) handle.rmdir(anchored);
      });
    } catch (error) {
      if (isMissing(error)) return;
      if (typeof error === "object" && error !== null && "code" in error && error.code === "ENOTEMPTY") {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `directory "${target.spec.path}" is not empty: it holds files Plumb does not manage`, {
          location: { resource: target.address },
          hint: 'move those files away, or keep the directory with the annotation plumb.dev/prune: "false"',
        });
      }
      throw error;
    }
  },
  health() {
    return { status: "Healthy" };
  },
});
