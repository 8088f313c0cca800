// Hostile file system around the file provider: links planted before apply and
// links swapped in while apply runs never lead a write, a mode change or a
// deletion outside the provider's root.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fileProvider } from "../../src/providers/file/index.js";
import type { KindHandler, Target } from "../../src/sdk/provider.js";

type Handler = KindHandler<Record<string, unknown>, unknown>;
const fileKind = fileProvider.kinds.find((kind) => kind.kind === "File") as unknown as Handler;
const directoryKind = fileProvider.kinds.find((kind) => kind.kind === "Directory") as unknown as Handler;

let scratch: string;
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

async function setup(): Promise<{ root: string; outside: string; connection: unknown }> {
  scratch = mkdtempSync(path.join(tmpdir(), "plumb-links-"));
  const root = path.join(scratch, "root");
  const outside = path.join(scratch, "outside");
  mkdirSync(root);
  mkdirSync(outside);
  const connection = await fileProvider.connect({ root }, { stack: "links", instance: "default", secrets: { resolve: async () => "" } } as never);
  return { root, outside, connection };
}

const target = (name: string, spec: Record<string, unknown>): Target<Record<string, unknown>> => ({ address: `file.plumb.dev/v1/File/${name}`, name, spec });

describe("file provider against links", () => {
  it("overwrites a link planted at a file's name, never the file it points to", async () => {
    const { root, outside, connection } = await setup();
    writeFileSync(path.join(outside, "victim"), "keep\n");
    chmodSync(path.join(outside, "victim"), 0o600);
    symlinkSync(path.join(outside, "victim"), path.join(root, "a.txt"));
    // Any temporary name a writer might pick is a planted link too.
    const ownTemporary = `.plumb-tmp-${createHash("sha256").update("a.txt").digest("hex").slice(0, 20)}`;
    for (const name of [".a.txt.plumb-tmp", ".plumb-tmp", "a.txt.plumb-tmp", ownTemporary]) symlinkSync(path.join(outside, "victim"), path.join(root, name));
    await expect(fileKind.read(connection, target("a", { path: "a.txt", content: "" }))).rejects.toThrow(/is a symlink; symlinks are never followed/);
    await fileKind.create(connection, target("a", { path: "a.txt", content: "mine\n", mode: "0644" }));
    expect(readFileSync(path.join(outside, "victim"), "utf8")).toBe("keep\n");
    expect(statSync(path.join(outside, "victim")).mode & 0o777).toBe(0o600);
    expect(lstatSync(path.join(root, "a.txt")).isFile()).toBe(true);
  });

  it("refuses a directory on the way that is a link, for writes, mode changes, directories and deletions", async () => {
    const { root, outside, connection } = await setup();
    writeFileSync(path.join(outside, "b.txt"), "keep\n");
    symlinkSync(outside, path.join(root, "d"));
    await expect(fileKind.create(connection, target("b", { path: "d/b.txt", content: "x" }))).rejects.toThrow(/goes through the symlink "d"/);
    await expect(
      fileKind.update(connection, target("b", { path: "d/b.txt", content: "keep\n", mode: "0777" }), {
        spec: { path: "d/b.txt", content: "keep\n", mode: "0644" },
      }),
    ).rejects.toThrow(/symlink/);
    await expect(fileKind.delete(connection, target("b", { path: "d/b.txt", content: "" }))).rejects.toThrow(/symlink/);
    await expect(directoryKind.create(connection, target("c", { path: "d/c", mode: "0700" }))).rejects.toThrow(/symlink/);
    await expect(directoryKind.update(connection, target("d", { path: "d", mode: "0700" }), { spec: { path: "d", mode: "0755" } })).rejects.toThrow(/symlink/);
    expect(readdirSync(outside)).toEqual(["b.txt"]);
    expect(statSync(path.join(outside, "b.txt")).mode & 0o777).toBe(0o644);
    expect(statSync(outside).mode & 0o777).toBe(0o755);
  });

  it("writes nothing outside the root while another process swaps a directory for a link thousands of times", async () => {
    const { root, outside, connection } = await setup();
    const swapper = spawn(
      process.execPath,
      [
        "-e",
        `const fs = require("fs"); const d = ${JSON.stringify(path.join(root, "sub"))}; const o = ${JSON.stringify(outside)};
       const end = Date.now() + 20000;
       while (Date.now() < end) {
         try { fs.rmSync(d, { recursive: true, force: true }); fs.mkdirSync(d); } catch {}
         try { fs.rmSync(d, { recursive: true, force: true }); fs.symlinkSync(o, d); } catch {}
       }`,
      ],
      { stdio: "ignore" },
    );
    let written = 0;
    let refused = 0;
    try {
      for (let iteration = 0; iteration < 3000; iteration++) {
        const spec = { path: `sub/f${iteration % 7}.txt`, content: `run ${iteration}\n`, mode: "0666" };
        try {
          await fileKind.create(connection, target("f", spec));
          await fileKind.update(connection, target("f", { ...spec, mode: "0777" }), { spec });
          await fileKind.delete(connection, target("f", spec));
          written++;
        } catch {
          refused++;
        }
      }
    } finally {
      swapper.kill("SIGKILL");
    }
    // Both outcomes happened: the race was real, and nothing reached the other side.
    expect(written + refused).toBe(3000);
    expect(refused).toBeGreaterThan(0);
    expect(readdirSync(outside)).toEqual([]);
    expect(statSync(outside).mode & 0o777).toBe(0o755);
    expect(existsSync(path.join(scratch, "f0.txt"))).toBe(false);
  }, 60_000);
});
