// The compliance report on the example platform repository, through the
// agent's API, in JSON, CSV and Markdown.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ComplianceReport } from "../src/policy/report.js";
import type { StackSummary } from "../src/api/server.js";
import { eventually, startAgent, type RunningAgent } from "./agent-process.js";
import { repositoryRoot, runCli } from "./helpers.js";

let work: string;
let agent: RunningAgent;

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), "plumb-report-"));
  // The examples write below ./out of the working directory: a temp one here.
  agent = await startAgent(["--platform", path.join(repositoryRoot, "examples"), "--path", "platform", "--data-dir", path.join(work, "data")], {
    tokenFile: path.join(work, "token"),
    cwd: work,
  });
  await eventually(async () => {
    const list = (await agent.api<{ items: StackSummary[] }>("GET", "/api/v1/stacks")).body.items;
    const ready = (name: string, type: string) =>
      list.find((item) => item.name === name)?.conditions.some((condition) => condition.type === type && condition.status === "True");
    return ready("hello", "Ready") && ready("scratch", "Stalled") ? true : undefined;
  });
});

afterAll(async () => {
  await agent?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe("plumb report compliance", () => {
  it("lists the expired ATO date and the resource without an owner in JSON, CSV and Markdown", async () => {
    const json = await agent.api<ComplianceReport>("GET", "/api/v1/compliance");
    expect(json.status).toBe(200);
    expect(json.body.ato).toContainEqual(expect.objectContaining({ stack: "hello", atoDate: "2026-03-01", status: "expired" }));
    expect(json.body.missingMetadata).toContainEqual({ stack: "scratch", team: "research", resource: "file.plumb.dev/v1/File/notes", key: "owner" });
    expect(json.body.violations).toContainEqual(expect.objectContaining({ stack: "scratch", rule: "required/owner", level: "deny" }));
    // A warn rule lets the sync through (hello is Ready) and still shows up here.
    expect(json.body.violations).toContainEqual(expect.objectContaining({ stack: "hello", rule: "valid/atoDate", level: "warn" }));
    expect(json.body.inventory).toContainEqual({ team: "web", owner: "platform@example.org", complianceLevel: "moderate", resources: 3 });
    expect(json.body.health).toContainEqual(expect.objectContaining({ stack: "scratch", stalled: true, reason: "PolicyDenied" }));

    const env = { PLUMB_URL: agent.url, PLUMB_TOKEN: agent.adminToken };
    const csv = runCli(["report", "compliance", "--format", "csv"], { env });
    expect(csv.status, csv.stderr).toBe(0);
    expect(csv.stdout.split("\n")[0]).toBe("section,stack,team,owner,resource,key,value,detail");
    expect(csv.stdout).toMatch(/^ato-expired,hello,,,,atoDate,2026-03-01,\d+ days ago$/m);
    expect(csv.stdout).toContain("missing-metadata,scratch,research,,file.plumb.dev/v1/File/notes,owner,,");

    const markdown = runCli(["report", "compliance"], { env });
    expect(markdown.status, markdown.stderr).toBe(0);
    expect(markdown.stdout).toMatch(/\| hello \| 2026-03-01 \| -\d+ \| expired \|/);
    expect(markdown.stdout).toContain("| scratch | research | file.plumb.dev/v1/File/notes | owner |");

    const json2 = runCli(["report", "compliance", "--format", "json", "--days", "400"], { env });
    expect((JSON.parse(json2.stdout) as ComplianceReport).expiringWithinDays).toBe(400);
    expect(runCli(["report", "compliance", "--days", "soon"], { env }).stderr).toContain("--days");
    expect((await agent.api("GET", "/api/v1/compliance", { token: null })).status).toBe(401);
  });
});
