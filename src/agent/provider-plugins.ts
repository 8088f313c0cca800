// Provider plug-ins: a provider the platform adds without a fork, declared in
// the platform repository (`kind: ProviderPlugin`) as one self-contained
// TypeScript or JavaScript module with its SHA-256. The bytes checked are the
// bytes run: the file is opened once (no symbolic links, and the open handle
// must be inside the platform directory), hashed, compiled from memory with
// esbuild (any import but a `node:` built-in is refused), written to the cache
// under its hash and imported from there. The module's default export is a
// function that is handed the provider SDK and returns its provider. Only the
// platform repository is read for these documents: a team stack cannot load one.
// A plug-in may also come as an npm package with its integrity
// (provider-packages.ts); its entry file then goes through the same compiling.

import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, readlink, realpath, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Type } from "@sinclair/typebox";
import { build } from "esbuild";
import { errorMessage, PlumbError } from "../errors.js";
import { makeDirectories } from "../make-directories.js";
import type { ParsedDocument } from "../render/yaml-documents.js";
import { checkAgainstSchema, formatFieldPath } from "../schema-check.js";
import { providerSdk, type ProviderSdk } from "../sdk/provider-sdk.js";
import type { AnyProvider } from "../sdk/provider.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { packageEntry } from "./provider-packages.js";

export const providerPluginKind = "ProviderPlugin";

export const providerPluginSchema = Type.Object(
  {
    apiVersion: Type.Literal("plumb.dev/v1"),
    kind: Type.Literal(providerPluginKind),
    metadata: Type.Object({ name: Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" }) }, { additionalProperties: true }),
    spec: Type.Object(
      {
        module: Type.Optional(
          Type.String({ minLength: 1, description: "The module's path inside the platform directory: one self-contained .ts, .mts, .js or .mjs file." }),
        ),
        sha256: Type.Optional(
          Type.String({
            pattern: "^[0-9a-f]{64}$",
            description: 'The module file\'s SHA-256 (sha256sum <file>), in quotes (sha256: "…"): a module that differs is not loaded.',
          }),
        ),
        package: Type.Optional(
          Type.String({
            minLength: 1,
            maxLength: 512,
            description: "An npm package instead of a module: name@version from the agent's registry, or file:<tarball in the platform directory>.",
          }),
        ),
        integrity: Type.Optional(
          Type.String({
            pattern: "^sha512-[A-Za-z0-9+/]{86}==$",
            description: "The package tarball's integrity, as package-lock.json writes it (npm view <package>@<version> dist.integrity).",
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export interface PluginDeclaration {
  name: string;
  /** A module in the platform directory and its SHA-256, or (for a package) the entry file and the SHA-256 of its bytes. */
  module: string;
  sha256: string;
  /** An npm package and its tarball's integrity, when the plug-in is one. */
  package?: { spec: string; integrity: string };
  file: string;
  line: number;
}

/** Takes a ProviderPlugin document; false for any other kind. */
export function readProviderPlugin(document: ParsedDocument, kind: unknown, into: PluginDeclaration[], problems: PlumbError[]): boolean {
  if (kind !== providerPluginKind) return false;
  const found = checkAgainstSchema(providerPluginSchema, document.value);
  for (const item of found)
    problems.push(
      new PlumbError("PLUMB_PROVIDER_PLUGIN", `ProviderPlugin: ${formatFieldPath(item.path)}: ${item.message}`, {
        location: document.locate(item.path),
        ...(item.hint === undefined ? {} : { hint: item.hint }),
      }),
    );
  if (found.length > 0) return true;
  const value = document.value as { metadata: { name: string }; spec: { module?: string; sha256?: string; package?: string; integrity?: string } };
  const { module, sha256, package: spec, integrity } = value.spec;
  const where = { file: document.position.file, line: document.position.line };
  if (module !== undefined && sha256 !== undefined && spec === undefined && integrity === undefined) {
    into.push({ name: value.metadata.name, module, sha256, ...where });
  } else if (spec !== undefined && integrity !== undefined && module === undefined && sha256 === undefined) {
    into.push({ name: value.metadata.name, module: spec, sha256: "", package: { spec, integrity }, ...where });
  } else {
    problems.push(
      new PlumbError("PLUMB_PROVIDER_PLUGIN", `ProviderPlugin ${value.metadata.name}: spec needs module and sha256, or package and integrity`, {
        location: document.locate(["spec"]),
        hint: 'a module: { module: providers/x.ts, sha256: "…" }; a package: { package: "@acme/plumb-x@1.2.0", integrity: "sha512-…" }',
      }),
    );
  }
  return true;
}

const extensions = new Set([".ts", ".mts", ".js", ".mjs"]);

/** The module's bytes, read through one handle that must be a regular file inside `platformDirectory`. */
async function readModule(platformDirectory: string, declaration: PluginDeclaration, fail: (message: string, hint?: string) => PlumbError): Promise<Buffer> {
  const relative = path.posix.normalize(declaration.module.replace(/\\/g, "/"));
  if (path.posix.isAbsolute(relative) || relative === ".." || relative.startsWith("../"))
    throw fail(`module "${declaration.module}" is outside the platform directory`);
  if (!extensions.has(path.posix.extname(relative))) throw fail(`module "${declaration.module}" is not a .ts, .mts, .js or .mjs file`);
  let handle;
  try {
    handle = await open(path.join(platformDirectory, relative), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fail(
      code === "ELOOP" ? `module "${declaration.module}" is a symbolic link` : `cannot read module "${declaration.module}": ${code ?? errorMessage(error)}`,
    );
  }
  try {
    // Where the open handle really is: a directory swapped for a link on the way is caught here, not before the open.
    const [opened, root] = await Promise.all([readlink(`/proc/self/fd/${handle.fd}`), realpath(platformDirectory)]);
    if (!opened.startsWith(`${root}${path.sep}`)) throw fail(`module "${declaration.module}" leads outside the platform directory`);
    const stats = await handle.stat();
    if (!stats.isFile()) throw fail(`module "${declaration.module}" is not a regular file`);
    if (stats.size > 4 * 1024 * 1024) throw fail(`module "${declaration.module}" is larger than 4 MiB`, "bundle only what the provider needs");
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/**
 * Loads one plug-in: checks its hash against the declaration, compiles it from
 * the bytes that were hashed, and asks its factory for the provider.
 */
function failure(declaration: PluginDeclaration): (message: string, hint?: string) => PlumbError {
  return (message, hint) =>
    new PlumbError("PLUMB_PROVIDER_PLUGIN", `ProviderPlugin ${declaration.name}: ${message}`, {
      location: { file: declaration.file, line: declaration.line },
      ...(hint === undefined ? {} : { hint }),
    });
}

/** The module's bytes, when their SHA-256 is the one declared; an error naming both hashes when not. */
export async function verifiedModule(platformDirectory: string, declaration: PluginDeclaration): Promise<Buffer> {
  const fail = failure(declaration);
  const bytes = await readModule(platformDirectory, declaration, fail);
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== declaration.sha256)
    throw fail(
      `module "${declaration.module}" has SHA-256 ${actual}, not the ${declaration.sha256} declared; it is not loaded`,
      "if the change is wanted, put the new hash in spec.sha256 (sha256sum <file>)",
    );
  return bytes;
}

/** Compiles verified bytes (never the file again) and asks the module's factory for its provider. */
export async function loadProviderPlugin(bytes: Buffer, declaration: PluginDeclaration, cacheDirectory: string): Promise<AnyProvider> {
  const fail = failure(declaration);
  let code: string;
  try {
    const output = await build({
      stdin: { contents: bytes.toString("utf8"), loader: declaration.module.endsWith("ts") ? "ts" : "js", sourcefile: declaration.module },
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      logLevel: "silent",
      plugins: [
        {
          name: "self-contained",
          setup(builder) {
            builder.onResolve({ filter: /.*/ }, (args) =>
              args.path.startsWith("node:")
                ? { path: args.path, external: true }
                : {
                    errors: [
                      {
                        text: `imports "${args.path}": a plug-in is one file that imports only node: built-ins (the provider SDK is handed to its default export)`,
                      },
                    ],
                  },
            );
          },
        },
      ],
    });
    code = (output.outputFiles[0] as { text: string }).text;
  } catch (error) {
    const messages = (error as { errors?: { text: string; location?: { line: number } | null }[] }).errors ?? [];
    throw fail(
      messages
        .map((message) => `${message.location === null || message.location === undefined ? "" : `line ${message.location.line}: `}${message.text}`)
        .join("; ") || errorMessage(error),
    );
  }
  const compiled = path.join(cacheDirectory, "provider-plugins", `${declaration.sha256}.mjs`);
  await makeDirectories(path.dirname(compiled));
  await writeFile(compiled, code, { mode: 0o600 });
  let factory: unknown;
  try {
    factory = ((await import(pathToFileURL(compiled).href)) as { default?: unknown }).default;
  } catch (error) {
    throw fail(`the module failed to load: ${errorMessage(error)}`);
  }
  if (typeof factory !== "function")
    throw fail("the module's default export is not a function", "export default function (sdk) { return sdk.defineProvider({ … }) }");
  let provider: unknown;
  try {
    provider = (factory as (sdk: ProviderSdk) => unknown)(providerSdk);
  } catch (error) {
    throw fail(`its default export threw: ${errorMessage(error)}`);
  }
  return checkProvider(provider, fail);
}

/** The shape the registry and engine rely on, checked before anything calls into it. */
function checkProvider(value: unknown, fail: (message: string, hint?: string) => PlumbError): AnyProvider {
  const provider = value as Partial<AnyProvider> | null;
  if (typeof provider !== "object" || provider === null) throw fail("its default export returned no provider", "return sdk.defineProvider({ … })");
  for (const field of ["type", "group", "version"] as const)
    if (typeof provider[field] !== "string" || provider[field] === "") throw fail(`the provider has no ${field}`);
  if (typeof provider.connect !== "function") throw fail("the provider has no connect()");
  if (provider.group === "plumb.dev" || provider.group?.endsWith(".plumb.dev") === true)
    throw fail(`group ${provider.group} is Plumb's own`, "use a group of your organisation's, e.g. inventory.example.org");
  if (provider.foreignObjects === true) throw fail("a plug-in cannot serve foreign objects");
  if (!Array.isArray(provider.kinds) || provider.kinds.length === 0) throw fail("the provider declares no kinds");
  for (const kind of provider.kinds) {
    const name = typeof kind?.kind === "string" ? kind.kind : "?";
    for (const method of ["read", "create", "update", "delete"] as const)
      if (typeof kind?.[method] !== "function") throw fail(`kind ${name} has no ${method}()`);
    if (typeof kind.schema !== "object" || kind.schema === null) throw fail(`kind ${name} has no schema`);
  }
  return provider as AnyProvider;
}

/**
 * Keeps the registry in step with the platform's ProviderPlugin documents: new
 * and changed plug-ins are loaded, removed ones unregistered. A plug-in that
 * fails to load is a problem; the version loaded before it (if any) stays in
 * use, as other platform documents do while broken.
 */
export class ProviderPlugins {
  /** Per plug-in: what was loaded (a module's SHA-256, a package's integrity) and the provider type it registered. */
  private readonly loaded = new Map<string, { pinned: string; type: string }>();

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly cacheDirectory: string,
  ) {}

  /** The bytes to compile, and the declaration to compile them under (a package's entry file, hashed). */
  private async verified(platformDirectory: string, declaration: PluginDeclaration): Promise<{ bytes: Buffer; loadable: PluginDeclaration }> {
    if (declaration.package === undefined) return { bytes: await verifiedModule(platformDirectory, declaration), loadable: declaration };
    const { entry, bytes } = await packageEntry(platformDirectory, declaration.package.spec, declaration.package.integrity, failure(declaration));
    return { bytes, loadable: { ...declaration, module: `${declaration.package.spec}/${entry}`, sha256: createHash("sha256").update(bytes).digest("hex") } };
  }

  async sync(platformDirectory: string, declarations: readonly PluginDeclaration[]): Promise<PlumbError[]> {
    const problems: PlumbError[] = [];
    for (const declaration of declarations) {
      const current = this.loaded.get(declaration.name);
      try {
        const pinned = declaration.package?.integrity ?? declaration.sha256;
        // A package from a registry is fetched once per integrity: the integrity pins its bytes.
        if (declaration.package !== undefined && !declaration.package.spec.startsWith("file:") && current?.pinned === pinned) continue;
        // A module (or a tarball in the platform directory) is checked on every read of the platform: one changed without its hash is said, and never run.
        const { bytes, loadable } = await this.verified(platformDirectory, declaration);
        if (current?.pinned === pinned) continue;
        const provider = await loadProviderPlugin(bytes, loadable, this.cacheDirectory);
        try {
          this.registry.register(provider, current?.type);
        } catch (error) {
          throw error instanceof PlumbError
            ? new PlumbError(error.code, `ProviderPlugin ${declaration.name}: ${error.message}`, {
                location: { file: declaration.file, line: declaration.line },
                ...(error.hint === undefined ? {} : { hint: error.hint }),
              })
            : error;
        }
        this.loaded.set(declaration.name, { pinned, type: provider.type });
      } catch (error) {
        problems.push(
          error instanceof PlumbError ? error : new PlumbError("PLUMB_PROVIDER_PLUGIN", `ProviderPlugin ${declaration.name}: ${errorMessage(error)}`),
        );
      }
    }
    const declared = new Set(declarations.map((declaration) => declaration.name));
    for (const [name, plugin] of this.loaded)
      if (!declared.has(name)) {
        this.registry.unregister(plugin.type);
        this.loaded.delete(name);
      }
    return problems;
  }
}
