// Where Plumb's own files are (its package.json's directory), from wherever a
// module was built or bundled to: the dashboard's assets, the program SDK and
// the sandbox runner are found from here.

import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The directory of Plumb's package.json, from wherever this module was bundled to. */
export function packageRoot(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(directory, "package.json");
    // Known by its command, not its name: an organisation may publish it under its own scope.
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { bin?: Record<string, string> }).bin?.plumb !== undefined) return directory;
    const parent = path.dirname(directory);
    if (parent === directory) throw new Error("cannot find Plumb's package directory");
    directory = parent;
  }
}
