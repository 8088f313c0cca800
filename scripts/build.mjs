// Builds dist/: the CLI and the library API bundled with esbuild (one file to
// load instead of hundreds of module files, which halves the CLI's start-up),
// and the dashboard with Vite into dist/web.
// Type-checking is `npm run typecheck`; esbuild only strips types.
import { build } from "esbuild";
import { build as buildDashboard } from "vite";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: { "cli/main": "src/cli/main.ts", index: "src/index.ts" },
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  // A native addon cannot be bundled; the HTTP stack, esbuild (a native binary) and the TypeScript compiler load files of their own at run time. They come from node_modules.
  external: ["better-sqlite3", "fastify", "@fastify/swagger", "@fastify/static", "pino", "prom-client", "esbuild", "typescript"],
  // Bundled CommonJS dependencies (ajv, js-yaml) still call require().
  banner: { js: "import { createRequire as plumbCreateRequire } from 'node:module'; const require = plumbCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
await buildDashboard({ configFile: "web/vite.config.ts" });

// The agent serves the dashboard's text files compressed ahead of time (brotli
// or gzip, as the browser asks), so no request spends CPU on compressing.
for (const entry of readdirSync("dist/web", { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !/\.(js|css|html|svg)$/.test(entry.name)) continue;
  const file = path.join(entry.parentPath, entry.name);
  const content = readFileSync(file);
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(content, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: content.length } }),
  );
  writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
}
