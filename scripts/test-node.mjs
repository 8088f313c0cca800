// Runs test files on another Node major (22, 24) than the one npm installed
// the project with. Node comes from the npm registry's `node` package (npx);
// the one native addon, better-sqlite3, is built for that Node's ABI once
// (cached under ~/.cache/plumb/better-sqlite3) and swapped in for the run.
//
//   node scripts/test-node.mjs 22 [test files…]   (no files: the subset below)

import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import path from "node:path";

// What changes most between Node majors, in the tests that take the least
// time: the program sandbox (its permission flags, bubblewrap namespaces and
// limits, esbuild from memory: the tests of hostile programs), rendering and
// planning, the agent's HTTP server, fetch, SQLite through the native addon,
// and Ed25519 checkpoints. Each entry is one vitest run: files, and the names
// of the tests to run in them where not all.
// On Node 24, better-sqlite3 12 (the last line that still runs on Node 20)
// aborts the process when the garbage collector finalizes one of its objects
// ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook), so
// an agent on a SQLite store dies within seconds: the files that use SQLite
// are left out there until the addon is fixed or Node 20 is dropped.
const sandbox = { files: ["test/programs.test.ts"], names: "a program (that|and) " };
const pure = { files: ["test/render.test.ts", "test/plan.test.ts"] };
const subsets = {
  22: [sandbox, { files: [...pure.files, "test/agent.test.ts", "test/audit-checkpoints.test.ts"] }],
  24: [sandbox, pure],
};

const [major, ...files] = process.argv.slice(2);
if (!/^[0-9]+$/.test(major ?? "")) {
  console.error("usage: node scripts/test-node.mjs <node major, e.g. 22> [test files…]");
  process.exit(1);
}
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

const node = execFileSync("npx", ["--yes", "-p", `node@${major}`, "node", "-p", "process.execPath"], { encoding: "utf8" }).trim();
const [version, abi] = execFileSync(node, ["-p", "process.version + ' ' + process.versions.modules"], { encoding: "utf8" }).trim().split(" ");
console.log(`Node ${version} (ABI ${abi}) at ${node}`);

const addon = path.join(root, "node_modules", "better-sqlite3");
const addonVersion = JSON.parse(readFileSync(path.join(addon, "package.json"), "utf8")).version;
const cached = path.join(homedir(), ".cache", "plumb", "better-sqlite3", `${addonVersion}-abi${abi}-${process.platform}-${process.arch}.node`);
if (!existsSync(cached)) buildAddon();

const installed = path.join(addon, "build", "Release", "better_sqlite3.node");
const backup = `${installed}.plumb-test-node-backup`;
// One run at a time swaps the addon; a run killed mid-way left the other ABI's addon in place, so its backup goes back first.
const lock = path.join(addon, "build", "plumb-test-node.lock");
try {
  writeFileSync(lock, String(process.pid), { flag: "wx" });
} catch {
  const holder = Number(readFileSync(lock, "utf8"));
  if (isRunning(holder)) {
    console.error(`another test-node run (pid ${holder}) has swapped the SQLite addon; wait for it`);
    process.exit(1);
  }
  writeFileSync(lock, String(process.pid));
}
if (existsSync(backup)) renameSync(backup, installed);
renameSync(installed, backup);
let status = 1;
try {
  copyFileSync(cached, installed);
  status = 0;
  for (const run of files.length > 0 ? [{ files }] : (subsets[major] ?? subsets[22])) {
    const result = spawnSync(
      node,
      [
        path.join(root, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--maxWorkers",
        "2",
        ...(run.names === undefined ? [] : ["-t", run.names]),
        ...run.files,
      ],
      {
        cwd: root,
        stdio: "inherit",
        // Tests that start `node` by name get this Node too.
        env: { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` },
      },
    );
    if (result.status !== 0) status = result.status ?? 1;
  }
} finally {
  renameSync(backup, installed);
  rmSync(lock);
}
process.exit(status);

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Compiles better-sqlite3 with npm's node-gyp against that Node's headers (from the registry's node-<platform>-<arch> package), in a copy of the addon. */
function buildAddon() {
  const nodeGyp = path.join(execFileSync("npm", ["root", "-g"], { encoding: "utf8" }).trim(), "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  const work = mkdtempSync(path.join(tmpdir(), "plumb-addon-"));
  try {
    const headers = `node-${process.platform}-${process.arch}@${version.slice(1)}`;
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", work, headers], { encoding: "utf8" }).trim();
    execFileSync("tar", ["-xzf", path.join(work, tarball), "-C", work, "package/include"]);
    const build = path.join(work, "better-sqlite3");
    cpSync(addon, build, { recursive: true, filter: (source) => !source.startsWith(path.join(addon, "build")) });
    console.log(`building better-sqlite3 ${addonVersion} for ABI ${abi} (once; cached in ${path.dirname(cached)})`);
    execFileSync(node, [nodeGyp, "rebuild", "--release", `--nodedir=${path.join(work, "package")}`, "--jobs=max"], { cwd: build, stdio: "pipe" });
    mkdirSync(path.dirname(cached), { recursive: true });
    copyFileSync(path.join(build, "build", "Release", "better_sqlite3.node"), cached);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
