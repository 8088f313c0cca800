// File operations anchored on open directory handles. Every path below the
// root is walked one component at a time with O_NOFOLLOW | O_DIRECTORY from
// the handle of the directory above it, and each operation names its object
// relative to its parent's handle (/proc/self/fd/N/name), so neither a symlink
// planted beforehand nor one swapped in while Plumb works can lead outside.

import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
  type Stats,
} from "node:fs";
import { createHash } from "node:crypto";
import { PlumbError } from "../../errors.js";
import { checkRelativePath, isMissing } from "./paths.js";

const directoryFlags = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String(error.code) : undefined;
}

/** The path through which the kernel resolves `name` inside the directory open as `descriptor`, without re-walking its path. */
function at(descriptor: number, name: string): string {
  return `/proc/self/fd/${descriptor}/${name}`;
}

function linkRefused(relativePath: string, component: string, address: string): PlumbError {
  return new PlumbError(
    "PLUMB_PATH_ESCAPE",
    component === relativePath
      ? `"${relativePath}" is a symlink; symlinks are never followed`
      : `path "${relativePath}" goes through the symlink "${component}"; symlinks are never followed`,
    {
      location: { resource: address },
      hint: "replace the symlink with a real directory or file, or point the resource at a path without links",
    },
  );
}

function tooLong(relativePath: string, address: string): PlumbError {
  return new PlumbError("PLUMB_PROVIDER_OPERATION", `path "${relativePath}" is longer than the file system allows (255 bytes a name)`, {
    location: { resource: address },
    hint: "shorten the path's names",
  });
}

/** A parent directory held open, and the last name of the path inside it. */
export interface Anchored {
  parent: number;
  name: string;
  relativePath: string;
  /** The resource, for messages. */
  address: string;
}

/**
 * Handles of directories below one root, opened once per walk and closed together.
 * Not shared between concurrent operations: each write makes its own.
 */
export class RootHandle {
  private readonly open = new Map<string, number>();

  constructor(private readonly root: string) {}

  /** The handle of `relative` ("" is the root), creating missing directories when `create` is set. */
  private directory(relative: string, create: boolean, relativePath: string, address: string): number | undefined {
    const cached = this.open.get(relative);
    if (cached !== undefined) return cached;
    let descriptor: number;
    if (relative === "") {
      try {
        descriptor = openSync(this.root, constants.O_RDONLY | constants.O_DIRECTORY);
      } catch (error) {
        if (isMissing(error) && !create) return undefined;
        throw error;
      }
    } else {
      const slash = relative.lastIndexOf("/");
      const parentPath = slash < 0 ? "" : relative.slice(0, slash);
      const name = relative.slice(slash + 1);
      const parent = this.directory(parentPath, create, relativePath, address);
      if (parent === undefined) return undefined;
      let opened = this.openDirectory(parent, name, relativePath, relative, address);
      if (opened === undefined && create) {
        try {
          mkdirSync(at(parent, name), 0o755);
        } catch (error) {
          if (errorCode(error) !== "EEXIST") throw error;
        }
        opened = this.openDirectory(parent, name, relativePath, relative, address);
      }
      if (opened === undefined) return undefined;
      if (opened === "not-a-directory") {
        if (!create) return undefined;
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `path "${relativePath}" goes through "${relative}", which is a file, not a directory`, {
          location: { resource: address },
          hint: `remove or rename "${relative}", or choose another path`,
        });
      }
      descriptor = opened;
    }
    this.open.set(relative, descriptor);
    return descriptor;
  }

  /** Opens one directory below `parent` without following a link: its handle, undefined when missing, or "not-a-directory". */
  private openDirectory(parent: number, name: string, relativePath: string, relative: string, address: string): number | "not-a-directory" | undefined {
    try {
      return openSync(at(parent, name), directoryFlags);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") return undefined;
      if (code === "ENAMETOOLONG") throw tooLong(relativePath, address);
      if (code !== "ELOOP" && code !== "ENOTDIR") throw error;
      if (lstatSync(at(parent, name)).isSymbolicLink()) throw linkRefused(relativePath, relative, address);
      return "not-a-directory";
    }
  }

  /** The parent of a spec path held open; undefined when a parent is missing and `create` is off. */
  anchor(relativePath: string, create: boolean, address: string): Anchored | undefined {
    const normalized = checkedPath(relativePath, address);
    const slash = normalized.lastIndexOf("/");
    const parent = this.directory(slash < 0 ? "" : normalized.slice(0, slash), create, relativePath, address);
    return parent === undefined ? undefined : { parent, name: normalized.slice(slash + 1), relativePath, address };
  }

  /** Opens the object itself without following a link; null when it does not exist. */
  openObject(anchored: Anchored, flags: number): number | null {
    try {
      return openSync(at(anchored.parent, anchored.name), flags | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") return null;
      if (code === "ELOOP" || (code === "ENOTDIR" && lstatSync(at(anchored.parent, anchored.name)).isSymbolicLink()))
        throw linkRefused(anchored.relativePath, anchored.relativePath, anchored.address);
      if (code === "ENOTDIR") {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${anchored.relativePath}" exists but is not a directory`, {
          location: { resource: anchored.address },
          hint: "remove or rename what is there, or choose another path",
        });
      }
      if (code === "ENAMETOOLONG") throw tooLong(anchored.relativePath, anchored.address);
      throw error;
    }
  }

  /** Reads a regular file's content and stats; null when it does not exist. */
  readFile(anchored: Anchored): { content: string; stats: Stats } | null {
    const descriptor = this.openObject(anchored, constants.O_RDONLY);
    if (descriptor === null) return null;
    try {
      const stats = fstatSync(descriptor);
      if (!stats.isFile()) {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${anchored.relativePath}" exists but is not a regular file`, {
          location: { resource: anchored.address },
          hint: "remove or rename what is there, or choose another path",
        });
      }
      return { content: readFileSync(descriptor, "utf8"), stats };
    } finally {
      closeSync(descriptor);
    }
  }

  /**
   * Writes a file whole: a new temporary file (O_CREAT | O_EXCL | O_NOFOLLOW,
   * a random name) in the parent's handle, then a rename within that handle.
   */
  writeFile(anchored: Anchored, content: string, mode: number): void {
    const temporary = temporaryName(anchored.name);
    const create = () => openSync(at(anchored.parent, temporary), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    let descriptor: number;
    try {
      descriptor = create();
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
      // Left by a run that was killed, or planted: the name itself is removed, never followed.
      unlinkSync(at(anchored.parent, temporary));
      descriptor = create();
    }
    try {
      const bytes = Buffer.from(content, "utf8");
      for (let written = 0; written < bytes.length;) written += writeSync(descriptor, bytes, written, bytes.length - written);
      fchmodSync(descriptor, mode);
    } catch (error) {
      closeSync(descriptor);
      unlinkSync(at(anchored.parent, temporary));
      throw error;
    }
    closeSync(descriptor);
    try {
      renameSync(at(anchored.parent, temporary), at(anchored.parent, anchored.name));
    } catch (error) {
      unlinkSync(at(anchored.parent, temporary));
      if (errorCode(error) === "EISDIR" || errorCode(error) === "ENOTEMPTY") {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${anchored.relativePath}" is a directory; refusing to replace it with a file`, {
          location: { resource: anchored.address },
          hint: "remove the directory, or choose another path",
        });
      }
      if (errorCode(error) === "ENAMETOOLONG") throw tooLong(anchored.relativePath, anchored.address);
      throw error;
    }
  }

  /** Changes the mode of the object through a handle of the object itself (a link is refused, never followed). */
  chmod(anchored: Anchored, mode: number, expect: "file" | "directory"): void {
    const descriptor = this.openObject(anchored, expect === "directory" ? constants.O_RDONLY | constants.O_DIRECTORY : constants.O_RDONLY);
    if (descriptor === null) gone(anchored.relativePath, anchored.address);
    try {
      const stats = fstatSync(descriptor);
      if (expect === "file" ? !stats.isFile() : !stats.isDirectory()) {
        throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${anchored.relativePath}" is no longer a ${expect === "file" ? "regular file" : "directory"}`, {
          location: { resource: anchored.address },
          hint: "remove what is there, or choose another path",
        });
      }
      fchmodSync(descriptor, mode);
    } finally {
      closeSync(descriptor);
    }
  }

  /** Stats of the object itself (lstat through the parent's handle); null when missing. */
  lstat(anchored: Anchored): Stats | null {
    try {
      return lstatSync(at(anchored.parent, anchored.name));
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  /** Removes the name (a link itself, never what it points to) and any temporary file a killed write left for it. */
  unlink(anchored: Anchored): void {
    for (const name of [temporaryName(anchored.name), anchored.name]) {
      try {
        unlinkSync(at(anchored.parent, name));
      } catch (error) {
        if (errorCode(error) !== "ENOENT") throw error;
      }
    }
  }

  rmdir(anchored: Anchored): void {
    rmdirSync(at(anchored.parent, anchored.name));
  }

  /** Creates the directory itself (its parents with `anchor(…, true)`); an existing one is fine, a link is refused. */
  mkdir(relativePath: string, address: string): void {
    this.directory(checkedPath(relativePath, address), true, relativePath, address);
  }

  close(): void {
    for (const descriptor of this.open.values()) closeSync(descriptor);
    this.open.clear();
  }
}

/** A path whose parent vanished between observe and apply. */
export function gone(relativePath: string, address: string): never {
  throw new PlumbError("PLUMB_PROVIDER_OPERATION", `"${relativePath}" is gone`, { location: { resource: address }, hint: "plan again" });
}

/** One temporary name per file, so a write killed half-way leaves at most one, which the next write of that file replaces. */
function temporaryName(name: string): string {
  return `.plumb-tmp-${createHash("sha256").update(name).digest("hex").slice(0, 20)}`;
}

function checkedPath(relativePath: string, address: string): string {
  const checked = checkRelativePath(relativePath);
  if ("problem" in checked) throw new PlumbError("PLUMB_PATH_ESCAPE", checked.problem.message, { location: { resource: address }, hint: checked.problem.hint });
  return checked.normalized;
}

/** Runs `work` with a fresh handle set on `root`, closing every handle afterwards. */
export function withRoot<Result>(root: string, work: (handle: RootHandle) => Result): Result {
  const handle = new RootHandle(root);
  try {
    return work(handle);
  } finally {
    handle.close();
  }
}
