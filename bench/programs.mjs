// Benchmark: render time of programs and composites, sandbox process included.
// 1,000 TeamDatabase claims (the examples' composite, with its nested
// ReadOnlyAccess) in one stack, and a main.ts declaring 10,000 resources.
// Prints one table; part of `npm run bench`.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultRegistry, defaultSandboxLimits, loadPlatformLibrary, renderStack } from "../dist/index.js";

const claims = Number(process.env.PLUMB_BENCH_CLAIMS ?? 1_000);
const programResources = Number(process.env.PLUMB_BENCH_PROGRAM_RESOURCES ?? 10_000);
const repeats = 5;
const root = mkdtempSync(path.join(tmpdir(), "plumb-bench-programs-"));
const repository = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const registry = defaultRegistry();
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function timed(work) {
  const runs = [];
  let result;
  for (let run = 0; run < repeats; run++) {
    const started = process.hrtime.bigint();
    result = await work();
    runs.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return { ms: median(runs), min: Math.min(...runs), max: Math.max(...runs), result };
}

const stackDocument = (name) =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: ${name} }\nspec:\n  providers:\n    default: { type: postgres, config: { host: 127.0.0.1, port: 5432, user: postgres } }\n    files: { type: file, config: { root: ./out } }\n`;

try {
  const claimsDir = path.join(root, "claims");
  mkdirSync(claimsDir);
  writeFileSync(path.join(claimsDir, "stack.yaml"), stackDocument("claims"));
  let text = "";
  for (let index = 0; index < claims; index++) {
    text += `---\napiVersion: platform.example.org/v1\nkind: TeamDatabase\nmetadata: { name: team${index} }\nspec: { database: team${index}, schemas: [app], readers: [${index % 10 === 0 ? "reporting" : ""}] }\n`;
  }
  writeFileSync(path.join(claimsDir, "claims.yaml"), text);

  const programDir = path.join(root, "program");
  mkdirSync(programDir);
  writeFileSync(path.join(programDir, "stack.yaml"), stackDocument("program"));
  writeFileSync(
    path.join(programDir, "main.ts"),
    `import { file } from "plumb/sdk";\nexport default function () {\n  for (let index = 0; index < ${programResources}; index++) {\n    const folder = index % 100 === 0 ? new file.Directory("d" + index, { path: "d" + index }, { provider: "files" }) : undefined;\n    new file.File("f" + index, { path: "d" + (index - (index % 100)) + "/f" + index + ".txt", content: "resource " + index + "\\n" }, { provider: "files", ...(folder === undefined ? {} : { dependsOn: [folder] }) });\n  }\n}\n`,
  );

  const described = await timed(() =>
    loadPlatformLibrary(path.join(repository, "examples", "platform"), { display: "platform/", limits: defaultSandboxLimits, registry }),
  );
  const platform = described.result;
  const claimRender = await timed(() => renderStack(claimsDir, { registry, platform }));
  const programRender = await timed(() => renderStack(programDir, { registry }));

  const rows = [
    [
      "load the platform's composites and rules (describe in the sandbox)",
      described,
      `${platform.composites.length} kinds, ${platform.rules.length} rules`,
      "",
    ],
    [
      `render ${claims.toLocaleString("en")} TeamDatabase claims`,
      claimRender,
      `${claimRender.result.resources.length.toLocaleString("en")} resources, ${claimRender.result.claims.length.toLocaleString("en")} claims`,
      "≤ 2 s",
    ],
    [
      `render a program declaring ${programResources.toLocaleString("en")} resources`,
      programRender,
      `${programRender.result.resources.length.toLocaleString("en")} resources`,
      "≤ 5 s",
    ],
  ];
  console.log(`\nPrograms and composites (median of ${repeats}, sandbox process and esbuild bundling included)\n`);
  console.log("| step | median | min – max | result | goal |");
  console.log("| --- | ---: | ---: | --- | --- |");
  for (const [step, time, result, goal] of rows)
    console.log(`| ${step} | ${(time.ms / 1000).toFixed(2)} s | ${(time.min / 1000).toFixed(2)} – ${(time.max / 1000).toFixed(2)} s | ${result} | ${goal} |`);
} finally {
  rmSync(root, { recursive: true, force: true });
}
