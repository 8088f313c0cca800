// The demo: plan, apply and re-plan the example stack on the embedded SQLite
// store, then show drift being found and reverted. Files land in ./out/hello.
import { spawnSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";

const cli = ["dist/cli/main.js"];
const dataDir = ".plumb-demo";
rmSync(dataDir, { recursive: true, force: true });
rmSync("out/hello", { recursive: true, force: true });

function plumb(title, args) {
  console.log(`\n\u001b[1m$ plumb ${args.join(" ")}\u001b[0m   # ${title}`);
  const result = spawnSync(process.execPath, [...cli, ...args, "--data-dir", dataDir], { stdio: "inherit" });
  console.log(`(exit code ${result.status})`);
  return result.status;
}

plumb("what would change (exit 2: changes)", ["plan", "examples/hello", "--detailed-exitcode"]);
plumb("make it so", ["apply", "examples/hello", "--yes"]);
plumb("nothing left to do (exit 0)", ["plan", "examples/hello", "--detailed-exitcode"]);
writeFileSync("out/hello/README.txt", "edited by hand\n");
console.log("\n# out/hello/README.txt was edited by hand");
plumb("the drift, field by field", ["plan", "examples/hello"]);
plumb("revert it", ["apply", "examples/hello", "--yes"]);
plumb("what the store remembers", ["state", "list"]);
