// Provider plug-ins shipped as npm packages (`spec.package` of a
// ProviderPlugin). A package from a registry is fetched with `npm pack` (the
// agent's own npm settings: registry, auth, proxy; scripts never run); a
// tarball kept in the platform repository (`file:vendor/x.tgz`) is read through
// one handle inside it. Either way the tarball's bytes must match the declared
// integrity (SRI sha512, as package-lock.json writes it), and only the
// package's entry file is taken from it, in memory: nothing is unpacked to
// disk and nothing of the package runs before it is compiled like a module.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { mkdtemp, open, readFile, readlink, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import type { ReadEntry } from "tar";
import type { PlumbError } from "../errors.js";
import { libraryOf } from "../library.js";

/** What a package plug-in yields: its entry file's name and bytes, from a tarball whose integrity was checked. */
export interface PackageEntry {
  entry: string;
  bytes: Buffer;
}

const maxTarball = 16 * 1024 * 1024;
const maxEntry = 4 * 1024 * 1024;

export function integrityOf(bytes: Buffer): string {
  return `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
}

/** A tarball in the platform directory, read through one handle that must be a regular file inside it. */
async function readLocalTarball(platformDirectory: string, relativeSpec: string, fail: (message: string, hint?: string) => PlumbError): Promise<Buffer> {
  const relative = path.posix.normalize(relativeSpec.replace(/\\/g, "/"));
  if (path.posix.isAbsolute(relative) || relative === ".." || relative.startsWith("../"))
    throw fail(`package "file:${relativeSpec}" is outside the platform directory`);
  let handle;
  try {
    handle = await open(path.join(platformDirectory, relative), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(code === "ELOOP" ? `package "file:${relativeSpec}" is a symbolic link` : `cannot read package "file:${relativeSpec}": ${code ?? String(error)}`);
  }
  try {
    const [opened, root] = await Promise.all([readlink(`/proc/self/fd/${handle.fd}`), realpath(platformDirectory)]);
    if (!opened.startsWith(`${root}${path.sep}`)) throw fail(`package "file:${relativeSpec}" leads outside the platform directory`);
    const stats = await handle.stat();
    if (!stats.isFile()) throw fail(`package "file:${relativeSpec}" is not a regular file`);
    if (stats.size > maxTarball) throw fail(`package "file:${relativeSpec}" is larger than 16 MiB`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** `npm pack <spec>` into a temporary directory; the tarball's bytes. */
async function packFromRegistry(spec: string, platformDirectory: string, fail: (message: string, hint?: string) => PlumbError): Promise<Buffer> {
  const directory = await mkdtemp(path.join(tmpdir(), "plumb-package-"));
  try {
    let output: string;
    try {
      ({ stdout: output } = await promisify(execFile)("npm", ["pack", spec, "--pack-destination", directory, "--json", "--ignore-scripts", "--silent"], {
        cwd: platformDirectory,
        timeout: 120_000,
        maxBuffer: 4 * 1024 * 1024,
      }));
    } catch (error) {
      const detail = ((error as { stderr?: string }).stderr ?? String(error))
        .split("\n")
        .filter((line) => line.trim() !== "")
        .slice(-3)
        .join("; ");
      throw fail(
        `npm could not fetch package "${spec}": ${detail}`,
        "check the package name and version, and the agent's npm registry settings (npm config get registry)",
      );
    }
    const packed = (JSON.parse(output) as { filename?: string }[])[0]?.filename;
    if (packed === undefined) throw fail(`npm pack "${spec}" named no tarball`);
    const bytes = await readFile(path.join(directory, path.basename(packed)));
    if (bytes.length > maxTarball) throw fail(`package "${spec}" is larger than 16 MiB`);
    return bytes;
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/** The files of a package tarball (paths without the leading `package/`), in memory. */
async function filesOf(tarball: Buffer, fail: (message: string) => PlumbError): Promise<Map<string, Buffer>> {
  let archive: Buffer;
  try {
    archive = gunzipSync(tarball, { maxOutputLength: 4 * maxTarball });
  } catch (error) {
    throw fail(`the package is not a gzipped tarball: ${(error as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  const done: Promise<void>[] = [];
  const { Parser } = libraryOf(await import("tar"));
  const parser = new Parser({
    onReadEntry(entry: ReadEntry) {
      if (entry.type !== "File" || entry.size > maxEntry) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on("data", (chunk: Buffer) => chunks.push(chunk));
      done.push(new Promise((resolve) => entry.on("end", () => resolve(void files.set(entry.path.replace(/^[^/]+\//, ""), Buffer.concat(chunks))))));
    },
  });
  await new Promise<void>((resolve, reject) => {
    parser.on("end", resolve);
    parser.on("error", reject);
    parser.end(archive);
  }).catch((error: unknown) => {
    throw fail(`the package's tarball cannot be read: ${(error as Error).message}`);
  });
  await Promise.all(done);
  return files;
}

/** The entry file package.json names: `exports["."]` (import or default), else `main`, else index.js. */
function entryOf(manifest: Record<string, unknown>): string {
  const exported = manifest.exports;
  const dot =
    typeof exported === "string" ? exported : typeof exported === "object" && exported !== null ? (exported as Record<string, unknown>)["."] : undefined;
  const conditional = typeof dot === "object" && dot !== null ? ((dot as Record<string, unknown>).import ?? (dot as Record<string, unknown>).default) : dot;
  const chosen = typeof conditional === "string" ? conditional : typeof manifest.main === "string" ? manifest.main : "index.js";
  return path.posix.normalize(chosen.replace(/^\.\//, ""));
}

/**
 * The package's entry file, from a tarball whose integrity matches `integrity`.
 * `spec` is `file:<path in the platform directory>` or anything `npm pack` takes.
 */
export async function packageEntry(
  platformDirectory: string,
  spec: string,
  integrity: string,
  fail: (message: string, hint?: string) => PlumbError,
): Promise<PackageEntry> {
  const tarball = spec.startsWith("file:")
    ? await readLocalTarball(platformDirectory, spec.slice("file:".length), fail)
    : await packFromRegistry(spec, platformDirectory, fail);
  const actual = integrityOf(tarball);
  if (actual !== integrity)
    throw fail(
      `package "${spec}" has integrity ${actual}, not the ${integrity} declared; it is not loaded`,
      "if the new version is wanted, put its integrity in spec.integrity (npm view <package>@<version> dist.integrity)",
    );
  const files = await filesOf(tarball, fail);
  const manifestBytes = files.get("package.json");
  if (manifestBytes === undefined) throw fail(`package "${spec}" has no package.json`);
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(manifestBytes.toString("utf8")) as Record<string, unknown>;
  } catch (error) {
    throw fail(`package "${spec}" has a package.json that is not JSON: ${(error as Error).message}`);
  }
  const entry = entryOf(manifest);
  const bytes = entry.startsWith("../") ? undefined : files.get(entry);
  if (bytes === undefined)
    throw fail(`package "${spec}" names the entry file "${entry}", which it does not hold`, "point main (or exports) at the bundled provider module");
  if (![".js", ".mjs", ".ts", ".mts"].includes(path.posix.extname(entry)))
    throw fail(`package "${spec}"'s entry file "${entry}" is not a .js, .mjs, .ts or .mts file`);
  return { entry, bytes };
}
