// Hostile stack directories: YAML bombs and sizes, paths that try to leave
// the provider root, links out of the stack, durations and schedules that
// overflow. Each gets a clear error with its place (or is harmless), never a
// crash, a hang or a stack trace; validate refuses what the agent would.

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../helpers.js";

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), "plumb-hostile-inputs-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const stackHeader = (sync = "") =>
  `apiVersion: plumb.dev/v1\nkind: Stack\nmetadata: { name: hostile }\nspec:\n  providers: { default: { type: file, config: { root: ./out } } }\n${sync === "" ? "" : `  sync: ${sync}\n`}`;
const fileDoc = (name: string, filePath: string) =>
  `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: ${name} }\nspec: { path: ${JSON.stringify(filePath)}, content: x }\n`;

interface Case {
  name: string;
  /** Files of the stack directory (a Buffer for bytes that are not text). */
  files: Record<string, string | Buffer>;
  /** Extra set-up inside the stack directory (links, FIFOs). */
  prepare?: (directory: string) => void;
  expect: RegExp;
}

const aliasBomb = [
  "a: &a [x, x, x, x, x, x, x, x, x, x]",
  ...Array.from(
    { length: 9 },
    (_, index) =>
      `${String.fromCharCode(98 + index)}: &${String.fromCharCode(98 + index)} [*${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}, *${String.fromCharCode(97 + index)}]`,
  ),
].join("\n");

const cases: Case[] = [
  {
    name: "an alias bomb",
    files: { "stack.yaml": stackHeader(), "bomb.yaml": `${aliasBomb}\n` },
    expect: /bomb\.yaml:\d+:\d+: too many YAML alias expansions .*PLUMB_YAML_ALIAS/,
  },
  {
    name: "300,000 empty documents",
    files: { "stack.yaml": stackHeader(), "many.yaml": "{}\n---\n".repeat(150_000) },
    expect: /many\.yaml: holds more than 20,000 YAML documents .*PLUMB_FILE_TOO_LARGE/,
  },
  {
    name: "5,000 bad resources",
    files: {
      "stack.yaml": stackHeader(),
      "bad.yaml": Array.from(
        { length: 5000 },
        (_, index) => `---\napiVersion: file.plumb.dev/v1\nkind: File\nmetadata: { name: f${index} }\nspec: { path: f${index}, content: x, extra: 1 }\n`,
      ).join(""),
    },
    expect: /and 4,900 more problem\(s\) not shown/,
  },
  {
    name: "a file over 8 MiB",
    files: { "stack.yaml": stackHeader(), "big.yaml": `# ${"x".repeat(9 * 1024 * 1024)}\n` },
    expect: /big\.yaml: file is 9\.0 MiB, over the 8\.0 MiB limit/,
  },
  {
    name: "nesting 10,000 levels deep",
    files: { "stack.yaml": stackHeader(), "deep.yaml": `${"[".repeat(10_000)}${"]".repeat(10_000)}\n` },
    expect: /deep\.yaml.*(PLUMB_YAML_SYNTAX|PLUMB_RESOURCE_SHAPE)/,
  },
  {
    name: "invalid UTF-8",
    files: {
      "stack.yaml": stackHeader(),
      "bytes.yaml": Buffer.concat([Buffer.from("# fine\n# fine too\nkey: "), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]),
    },
    expect: /bytes\.yaml:3: this file is not valid UTF-8 .*PLUMB_FILE_READ/,
  },
  {
    name: "a NUL byte in a path",
    files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("nul", "a\u0000b") },
    expect: /f\.yaml:\d+:\d+.*path contains a NUL byte/,
  },
  { name: "a newline in a path", files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("newline", "a\nb") }, expect: /contains a control character/ },
  {
    name: "an absolute path",
    files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("absolute", "/etc/passwd") },
    expect: /path "\/etc\/passwd" is absolute/,
  },
  {
    name: "a path that climbs out",
    files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("climb", "a/../../etc/passwd") },
    expect: /resolves outside the provider's root/,
  },
  {
    name: "a Windows path that climbs out",
    files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("windows", "a\\..\\..\\x") },
    expect: /resolves outside the provider's root/,
  },
  {
    name: "a 300-character name",
    files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("long", `d/${"n".repeat(300)}`) },
    expect: /f\.yaml:\d+:\d+.*has a name of 300 bytes; file systems allow 255/,
  },
  { name: "the root itself", files: { "stack.yaml": stackHeader(), "f.yaml": fileDoc("root", "./") }, expect: /names the provider's root itself/ },
  {
    name: "a YAML file linked from outside the stack",
    files: { "stack.yaml": stackHeader() },
    prepare: (directory) => symlinkSync("/etc/hostname", path.join(directory, "linked.yaml")),
    expect: /linked\.yaml: this (file is a symlink to a place outside|symlink does not lead to a regular file inside)/,
  },
  {
    name: "a directory linked from outside the stack",
    files: { "stack.yaml": stackHeader() },
    prepare: (directory) => symlinkSync("/etc", path.join(directory, "etc")),
    expect: /etc: this symlink leads to a directory outside the stack/,
  },
  {
    name: "a FIFO named like YAML",
    files: { "stack.yaml": stackHeader() },
    prepare: (directory) => execFileSync("mkfifo", [path.join(directory, "pipe.yaml")]),
    expect: /pipe\.yaml: this is not a regular file; it is not read .*PLUMB_FILE_READ/,
  },
  {
    name: "interval 0s",
    files: { "stack.yaml": stackHeader("{ interval: 0s }") },
    expect: /stack\.yaml:6:\d+: the Stack: interval and driftInterval must be at least 1s/,
  },
  { name: "interval 99999999h", files: { "stack.yaml": stackHeader("{ interval: 99999999h }") }, expect: /sync\.interval: "99999999h" is longer than 596h/ },
  {
    name: "a retry backoff past a timer's reach",
    files: { "stack.yaml": stackHeader("{ retry: { backoff: { duration: 1s, max: 9999999h } } }") },
    expect: /"9999999h" is longer than 596h/,
  },
  {
    name: "a cron schedule that is not one",
    files: { "stack.yaml": stackHeader('{ windows: [ { kind: deny, schedule: "99 99 99 99 99", duration: 1h } ] }') },
    expect: /sync\.windows\[0\]\.schedule "99 99 99 99 99" is not a cron expression/,
  },
  {
    name: "a window open for ten years",
    files: { "stack.yaml": stackHeader('{ windows: [ { kind: deny, schedule: "0 0 * * *", duration: 87600h } ] }') },
    expect: /sync\.windows\[0\]\.duration: "87600h" is longer than 8784h/,
  },
  {
    name: "a misspelt sync field alone",
    files: { "stack.yaml": stackHeader("{ intervall: 1m }"), "f.yaml": fileDoc("a", "a") },
    expect: /^(?![\s\S]*is not declared)[\s\S]*unknown field "intervall"/,
  },
  {
    name: "a duplicate key",
    files: { "stack.yaml": stackHeader(), "f.yaml": "apiVersion: file.plumb.dev/v1\nkind: File\nkind: Directory\nmetadata: { name: d }\nspec: { path: d }\n" },
    expect: /f\.yaml:3:\d+.*(duplicate|unique)/i,
  },
  { name: "a document that is a list", files: { "stack.yaml": stackHeader(), "f.yaml": "- a\n- b\n" }, expect: /f\.yaml:1:\d+/ },
  {
    name: "a stack name with a path in it",
    files: { "stack.yaml": stackHeader().replace("name: hostile", "name: ../../etc") },
    expect: /stack\.yaml:3:\d+: metadata\.name/,
  },
];

describe.concurrent("hostile stack directories", () => {
  for (const [index, item] of cases.entries()) {
    it(
      item.name,
      async () => {
        const directory = path.join(scratch, `case-${index}`);
        mkdirSync(directory);
        for (const [name, content] of Object.entries(item.files)) writeFileSync(path.join(directory, name), content);
        item.prepare?.(directory);
        const result = await runCliAsync(["validate", directory]);
        expect(result.status).toBe(1);
        expect(result.stderr).toMatch(item.expect);
        expect(result.stderr).not.toMatch(/\n\s+at .*\(|node:internal/);
        // A report is bounded, whatever the input: 100 problems and a count.
        expect(result.stderr.split("\n").filter((line) => line.startsWith("error:")).length).toBeLessThanOrEqual(101);
      },
      60_000,
    );
  }
});
