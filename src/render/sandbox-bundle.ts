// Bundles a stack's program and the platform's composites and rules with the
// sandbox runner into one file with esbuild. User code's imports may not leave
// its own directory (checked on the resolved real path) and may reach only a
// short list of Node built-ins; esbuild's errors come back with file:line.

import { realpathSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import type { Message, Plugin } from "esbuild";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { SandboxJob, SandboxRoot } from "./sandbox.js";
import { packageRoot } from "../package-root.js";

export const allowedBuiltins = new Set(["assert", "buffer", "crypto", "events", "fs", "fs/promises", "path", "querystring", "string_decoder", "url", "util"]);

export const root = packageRoot();
export const sdkEntry = path.join(root, "src", "sdk", "program.ts");
const runnerEntry = path.join(root, "src", "render", "sandbox-runner.ts");

export function inside(directory: string, file: string): boolean {
  const relative = path.relative(directory, file);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

export interface RealRoot extends SandboxRoot {
  real: string;
}

export function realRoot(root: SandboxRoot | undefined): RealRoot | undefined {
  if (root === undefined) return undefined;
  return { ...root, real: realpathSync(root.directory) };
}

/**
 * Shows absolute paths from stack traces and esbuild as the user knows them:
 * relative to the root they are under, after its display prefix. The roots'
 * real paths are looked up once, as a render shows thousands of paths.
 */
export function pathDisplay(roots: readonly (SandboxRoot | undefined)[]): (file: string) => string {
  const bases = roots.flatMap((candidate) =>
    candidate === undefined ? [] : [path.resolve(candidate.directory), safeRealpath(candidate.directory)].map((base) => ({ base, display: candidate.display })),
  );
  return (file) => {
    if (!path.isAbsolute(file)) return file;
    const match = bases.find(({ base }) => inside(base, file));
    return match === undefined ? file : match.display + path.relative(match.base, file).split(path.sep).join("/");
  };
}

export function safeRealpath(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/** Keeps user code's imports inside its own directory, away from Plumb's code and the network. */
export function importGuard(roots: RealRoot[]): Plugin {
  // Plumb's own files (the SDK, the runner and their packages) resolve normally, even when a user directory contains them.
  const trusted = [path.join(root, "src"), path.join(root, "node_modules")];
  const rootOf = (file: string) =>
    trusted.some((directory) => inside(directory, file))
      ? undefined
      : roots.find((candidate) => inside(candidate.real, file) || inside(path.resolve(candidate.directory), file));
  return {
    name: "plumb-import-guard",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if ((args.pluginData as { inner?: boolean } | undefined)?.inner === true) return undefined;
        if (args.path === "plumb/sdk") return { path: sdkEntry };
        const userRoot = rootOf(args.importer);
        if (userRoot === undefined) return undefined;
        const bare = args.path.startsWith("node:") ? args.path.slice(5) : args.path;
        if (builtinModules.includes(bare)) {
          if (allowedBuiltins.has(bare)) return { path: args.path, external: true };
          return {
            errors: [
              {
                text: `imports "${args.path}": programs and composites may not use the network, processes or workers`,
                detail: `allowed Node modules: ${[...allowedBuiltins].map((name) => `node:${name}`).join(", ")}`,
              },
            ],
          };
        }
        if (!args.path.startsWith("./") && !args.path.startsWith("../")) {
          return {
            errors: [
              {
                text: `imports "${args.path}": only files inside ${userRoot.display === "" ? "the stack directory" : userRoot.display}, plumb/sdk and node:${[...allowedBuiltins].join("/")} can be imported`,
              },
            ],
          };
        }
        const resolved = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, importer: args.importer, pluginData: { inner: true } });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        const real = safeRealpath(resolved.path);
        if (!inside(userRoot.real, real)) {
          return {
            errors: [
              {
                text: `imports "${args.path}", which is outside ${userRoot.display === "" ? "the stack directory" : userRoot.display} (symlinks and ../ may not lead out)`,
              },
            ],
          };
        }
        return { path: real };
      });
    },
  };
}

export function esbuildErrors(messages: readonly Message[], show: (file: string) => string, subject: string): PlumbError[] {
  return messages.map((message) => {
    const where = message.location;
    const file = where === null || where.file === "" ? undefined : show(path.resolve(root, where.file));
    return new PlumbError("PLUMB_PROGRAM", `${subject}: ${message.text}`, {
      location: { ...(file === undefined ? {} : { file }), ...(where === null ? {} : { line: where.line, column: where.column + 1 }) },
      ...(message.notes[0]?.text === undefined ? {} : { hint: message.notes[0].text }),
    });
  });
}

/** Bundles for `bundlePath`: the source map's paths are relative to where the bundle runs from. */
export async function bundle(job: SandboxJob, roots: RealRoot[], show: (file: string) => string, bundlePath: string): Promise<string> {
  const { build } = await import("esbuild");
  const imports = job.platformFiles.map((file) => `{ file: ${JSON.stringify(show(file))}, load: () => import(${JSON.stringify(file)}) }`).join(",\n");
  const entry = [
    `import { runSandbox } from ${JSON.stringify(runnerEntry)};`,
    `await runSandbox({`,
    job.program === undefined ? "" : `  program: () => import(${JSON.stringify(job.program)}),`,
    `  platform: [${imports}],`,
    `});`,
  ].join("\n");
  for (const file of [...job.platformFiles, ...(job.program === undefined ? [] : [job.program])]) {
    const real = safeRealpath(file);
    if (!roots.some((candidate) => inside(candidate.real, real))) {
      throw new PlumbError("PLUMB_PATH_ESCAPE", `${show(file)} is a symlink to a place outside its directory; it is not run`, {
        location: { file: show(file) },
      });
    }
  }
  try {
    const result = await build({
      stdin: { contents: entry, resolveDir: root, sourcefile: "plumb-sandbox-entry.ts", loader: "ts" },
      absWorkingDir: root,
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      target: "node20",
      sourcemap: "inline",
      outfile: bundlePath,
      logLevel: "silent",
      plugins: [importGuard(roots)],
      loader: { ".ts": "ts", ".mts": "ts", ".js": "js", ".mjs": "js", ".json": "json" },
    });
    return (result.outputFiles[0] as { text: string }).text;
  } catch (error) {
    const failure = error as { errors?: Message[] };
    if (Array.isArray(failure.errors)) throw new PlumbErrorList(esbuildErrors(failure.errors, show, job.subject));
    throw error;
  }
}
