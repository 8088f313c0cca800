// `mkdir -p` without Node's recursive mkdir, which never returns for some
// paths (under /proc, for one) on Node 20: each level is made in turn.

import { mkdir } from "node:fs/promises";
import path from "node:path";

export async function makeDirectories(target: string): Promise<void> {
  const absolute = path.resolve(target);
  const levels: string[] = [];
  for (let current = absolute; current !== path.dirname(current); current = path.dirname(current)) levels.unshift(current);
  for (const level of levels) {
    try {
      await mkdir(level);
    } catch (error) {
      if (!(typeof error === "object" && error !== null && "code" in error && error.code === "EEXIST")) throw error;
    }
  }
}
