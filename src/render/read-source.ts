// Reads a stack directory's YAML files: in a fixed order, capped in size, and
// never from outside the directory (no symlink leads out).

import { constants } from "node:fs";
import { open, readdir, readlink, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { PlumbError } from "../errors.js";

/** A single YAML file larger than this is refused before it is read. */
export const maxFileBytes = 8 * 1024 * 1024;
/** All YAML files of one stack together may not exceed this. */
export const maxTotalBytes = 64 * 1024 * 1024;

export interface SourceFile {
  /** Path relative to the stack directory, with forward slashes. */
  relativePath: string;
  text: string;
}

const yamlPattern = /\.ya?ml$/i;

/** Every `*.yaml` / `*.yml` below `directory`, sorted by relative path (byte order). */
export async function readYamlFiles(directory: string): Promise<SourceFile[]> {
  let root: string;
  try {
    root = await realpath(directory);
    if (!(await stat(root)).isDirectory()) throw new Error("not a directory");
  } catch {
    throw new PlumbError("PLUMB_FILE_READ", `stack directory "${directory}" does not exist or is not a directory`, {
      hint: "pass the path of a directory that holds the stack's YAML files",
    });
  }
  const relativePaths = (await listYaml(root, "")).sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  const files: SourceFile[] = [];
  let totalBytes = 0;
  for (const relativePath of relativePaths) {
    // The check is made on the open file (its real path as the kernel knows it), so a link swapped in after listing cannot lead out.
    const handle = await open(path.join(root, relativePath), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const real = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => realpath(path.join(root, relativePath)));
      if (real !== root && !real.startsWith(root + path.sep)) {
        throw new PlumbError("PLUMB_PATH_ESCAPE", "this file is a symlink to a place outside the stack directory; it is not read", {
          location: { file: relativePath },
          hint: "copy the file into the stack directory instead of linking to it",
        });
      }
      const stats = await handle.stat();
      if (!stats.isFile())
        throw new PlumbError("PLUMB_FILE_READ", "this is not a regular file", {
          location: { file: relativePath },
          hint: "remove it, or give it a name that does not end in .yaml",
        });
      totalBytes = checkSize(relativePath, stats.size, totalBytes);
      files.push({ relativePath, text: decodeUtf8(await handle.readFile(), relativePath) });
    } finally {
      await handle.close();
    }
  }
  return files;
}

/** Refuses invalid UTF-8 with the line it is on, instead of replacing it silently. */
function decodeUtf8(bytes: Buffer, relativePath: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let end = bytes.indexOf(10); ; end = bytes.indexOf(10, start)) {
      const slice = bytes.subarray(start, end === -1 ? bytes.length : end);
      try {
        strictUtf8.decode(slice);
      } catch {
        break;
      }
      if (end === -1) break;
      line++;
      start = end + 1;
    }
    throw new PlumbError("PLUMB_FILE_READ", "this file is not valid UTF-8", { location: { file: relativePath, line }, hint: "save the file as UTF-8" });
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Checks one file's size and the running total against the caps; returns the new total. */
function checkSize(relativePath: string, size: number, before: number): number {
  if (size > maxFileBytes) {
    throw new PlumbError("PLUMB_FILE_TOO_LARGE", `file is ${formatBytes(size)}, over the ${formatBytes(maxFileBytes)} limit for one YAML file`, {
      location: { file: relativePath },
      hint: "split it into several files, or move bulk data out of the stack",
    });
  }
  const totalBytes = before + size;
  if (totalBytes > maxTotalBytes) {
    throw new PlumbError("PLUMB_FILE_TOO_LARGE", `the stack's YAML files add up to more than ${formatBytes(maxTotalBytes)}`, {
      location: { file: relativePath },
      hint: "split the stack into several stacks",
    });
  }
  return totalBytes;
}

async function listYaml(root: string, relativeDirectory: string): Promise<string[]> {
  const entries = await readdir(path.join(root, relativeDirectory), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const relativePath = relativeDirectory === "" ? entry.name : `${relativeDirectory}/${entry.name}`;
    if (entry.isDirectory()) {
      found.push(...(await listYaml(root, relativePath)));
    } else if (entry.isSymbolicLink()) {
      if (!yamlPattern.test(entry.name)) {
        // Linked directories are never walked; one that leads out of the stack is said, not skipped in silence.
        const target = await realpath(path.join(root, relativePath)).catch(() => undefined);
        const targetStats = target === undefined ? undefined : await stat(target).catch(() => undefined);
        if (target !== undefined && targetStats?.isDirectory() === true && target !== root && !target.startsWith(root + path.sep)) {
          throw new PlumbError("PLUMB_PATH_ESCAPE", "this symlink leads to a directory outside the stack; it is not followed", {
            location: { file: relativePath },
            hint: "copy what the stack needs into it instead of linking",
          });
        }
        continue;
      }
      const stats = await stat(path.join(root, relativePath)).catch(() => undefined);
      if (stats === undefined || !stats.isFile()) {
        throw new PlumbError("PLUMB_PATH_ESCAPE", "this symlink does not lead to a regular file inside the stack; it is not followed", {
          location: { file: relativePath },
          hint: "replace the link with the file itself",
        });
      }
      found.push(relativePath);
    } else if (yamlPattern.test(entry.name)) {
      // A FIFO, socket or device named like YAML is never opened (it could block the render); it is said.
      if (!entry.isFile())
        throw new PlumbError("PLUMB_FILE_READ", "this is not a regular file; it is not read", {
          location: { file: relativePath },
          hint: "remove it, or give it a name that does not end in .yaml",
        });
      found.push(relativePath);
    }
  }
  return found;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}
