// Type-checks a stack's main.ts (and what it imports from its directory)
// against plumb/sdk with the TypeScript compiler, so `plumb validate` in CI
// fails on a type error with file:line before anything runs. Rendering itself
// only strips types; the provider schemas catch the rest at render time.

import path from "node:path";
import type { CompilerOptions } from "typescript";
import { PlumbError } from "../errors.js";
import { programFile } from "./programs.js";
import { pathDisplay, sdkEntry } from "./sandbox-bundle.js";

export async function typeCheckProgram(directory: string): Promise<PlumbError[]> {
  const { default: ts } = await import("typescript");
  const root = path.resolve(directory);
  const options: CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    lib: ["lib.es2022.d.ts"],
    types: ["node"],
    typeRoots: [path.join(path.dirname(sdkEntry), "..", "..", "node_modules", "@types")],
    paths: { "plumb/sdk": [sdkEntry] },
  };
  const program = ts.createProgram([path.join(root, programFile)], options);
  const errors: PlumbError[] = [];
  const show = pathDisplay([{ directory: root, display: "" }]);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file;
    if (file === undefined || !path.resolve(file.fileName).startsWith(root + path.sep)) continue;
    const { line, character } = file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    errors.push(
      new PlumbError("PLUMB_PROGRAM_TYPE", ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"), {
        location: { file: show(path.resolve(file.fileName)), line: line + 1, column: character + 1 },
        hint: `TS${diagnostic.code}; the types of plumb/sdk come from the providers' schemas`,
      }),
    );
  }
  return errors;
}
