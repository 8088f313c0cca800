// Reads a stack directory's YAML files: in a fixed order, capped in size, and
// never from outside the directory (no symlink leads out).

import { readdir, readFile, realpath, stat } from "node:fs/promises";
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
    const absolutePath = path.join(root, relativePath);
    const real = await realpath(absolutePath);
    if (real !== root && !real.startsWith(root + path.sep)) {
      throw new PlumbError("PLUMB_PATH_ESCAPE", "this file is a symlink to a place outside the stack directory; it is not read", {
        location: { file: relativePath },
        hint: "copy the file into the stack directory instead of linking to it",
      });
    }
    const { size } = await stat(real);
    if (size > maxFileBytes) {
      throw new PlumbError("PLUMB_FILE_TOO_LARGE", `file is ${formatBytes(size)}, over the ${formatBytes(maxFileBytes)} limit for one YAML file`, {
        location: { file: relativePath },
        hint: "split it into several files, or move bulk data out of the stack",
      });
    }
    totalBytes += size;
    if (totalBytes > maxTotalBytes) {
      throw new PlumbError("PLUMB_FILE_TOO_LARGE", `the stack's YAML files add up to more than ${formatBytes(maxTotalBytes)}`, {
        location: { file: relativePath },
        hint: "split the stack into several stacks",
      });
    }
    files.push({ relativePath, text: await readFile(real, "utf8") });
  }
  return files;
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
      if (!yamlPattern.test(entry.name)) continue;
      const stats = await stat(path.join(root, relativePath)).catch(() => undefined);
      if (stats === undefined || !stats.isFile()) {
        throw new PlumbError("PLUMB_PATH_ESCAPE", "this symlink does not lead to a regular file inside the stack; it is not followed", {
          location: { file: relativePath },
          hint: "replace the link with the file itself",
        });
      }
      found.push(relativePath);
    } else if (entry.isFile() && yamlPattern.test(entry.name)) {
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
