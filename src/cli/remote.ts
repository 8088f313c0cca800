// Commands that talk to a running agent over its API: status, history, diff,
// sync and rollback. The agent URL and token come from flags or environment.

import { Option, type Command } from "commander";
import type { StackSummary } from "../api/server.js";
import { PlumbError } from "../errors.js";
import { action } from "./context.js";
import { savedLogin } from "./login.js";

export interface RemoteFlags {
  url: string;
  token?: string;
}

export function remoteOptions(command: Command): Command {
  return command
    .addOption(new Option("--url <url>", "the agent's address").env("PLUMB_URL").default("http://127.0.0.1:8080"))
    .addOption(new Option("--token <token>", "an API token (prefer the environment variable: flags show in ps)").env("PLUMB_TOKEN"));
}

/** A route that answers with text (CSV, Markdown). */
export async function callText(flags: RemoteFlags, route: string): Promise<string> {
  const text = await callAgent<{ message?: string } | string>(flags, "GET", route);
  return typeof text === "string" ? text : (text.message ?? "");
}

export async function callAgent<Result>(flags: RemoteFlags, method: "GET" | "POST", route: string, body?: unknown): Promise<Result> {
  const token = flags.token ?? (await savedLogin(flags.url));
  if (token === undefined)
    throw new PlumbError("PLUMB_UNAUTHORIZED", "no API token given", {
      hint: "set PLUMB_TOKEN (the agent printed an admin token on its first start), or run plumb login",
    });
  let response: Response;
  try {
    response = await fetch(new URL(route, flags.url), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new PlumbError(
      "PLUMB_USAGE",
      `cannot reach the agent at ${flags.url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`,
      {
        hint: "start it with `plumb agent`, or point --url / PLUMB_URL at it",
      },
    );
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { message: text };
  }
  if (!response.ok) {
    const problem = parsed as { code?: string; message?: string; hint?: string };
    const code =
      response.status === 401
        ? "PLUMB_UNAUTHORIZED"
        : response.status === 403
          ? "PLUMB_FORBIDDEN"
          : response.status === 404
            ? "PLUMB_NOT_FOUND"
            : "PLUMB_USAGE";
    throw new PlumbError(code, `the agent answered ${response.status}: ${problem.message ?? text}`, problem.hint === undefined ? {} : { hint: problem.hint });
  }
  return parsed as Result;
}

const short = (revision: string | null) => (revision === null ? "-" : revision.slice(0, 12));
const conditionText = (stack: StackSummary) =>
  stack.conditions
    .filter((condition) => condition.status === "True")
    .map((condition) => condition.type)
    .join(",") || "Unknown";

export function registerRemote(program: Command): void {
  remoteOptions(program.command("status").description("stacks and their conditions, from a running agent").argument("[stack]", "one stack in detail")).action(
    action(async (stack: string | undefined, flags: RemoteFlags) => {
      if (stack !== undefined) {
        const detail = await callAgent<StackSummary>(flags, "GET", `/api/v1/stacks/${encodeURIComponent(stack)}`);
        process.stdout.write(
          `${detail.name}${detail.suspended ? " (suspended)" : ""}\n  applied:   ${short(detail.lastAppliedRevision)}\n  attempted: ${short(detail.lastAttemptedRevision)}\n`,
        );
        for (const condition of detail.conditions)
          process.stdout.write(
            `  ${condition.type.padEnd(12)} ${condition.status.padEnd(7)} ${condition.reason}${condition.message === "" ? "" : `: ${condition.message}`}\n`,
          );
        if (detail.drift !== null)
          for (const [address, fields] of Object.entries(detail.drift.resources))
            process.stdout.write(`  drift${detail.drift.healed ? " (healed)" : ""}: ${address} ${fields.join(", ")}\n`);
        return;
      }
      const list = await callAgent<{ items: StackSummary[]; total: number; problems: string[] }>(flags, "GET", "/api/v1/stacks?limit=500");
      process.stdout.write(`${"STACK".padEnd(32)} ${"CONDITIONS".padEnd(24)} ${"APPLIED".padEnd(12)}\n`);
      for (const item of list.items)
        process.stdout.write(
          `${item.name.padEnd(32)} ${(conditionText(item) + (item.suspended ? ",Suspended" : "")).padEnd(24)} ${short(item.lastAppliedRevision)}\n`,
        );
      for (const problem of list.problems) process.stdout.write(`problem: ${problem}\n`);
    }),
  );

  remoteOptions(
    program
      .command("history")
      .description("runs of a stack, newest first; with --resource, who changed that resource, when, and from which commit")
      .argument("<stack>")
      .option("--resource <address>", "one resource's audit trail, e.g. postgres.plumb.dev/v1/Role/orders_app"),
  ).action(
    action(async (stack: string, flags: RemoteFlags & { resource?: string }) => {
      if (flags.resource !== undefined) {
        const trail = await callAgent<{
          items: {
            at: string;
            kind: string;
            actor: string;
            commit: string | null;
            author: string | null;
            commitMessage: string | null;
            summary: { action?: string; fields?: { path: string }[] };
          }[];
        }>(flags, "GET", `/api/v1/audit?stack=${encodeURIComponent(stack)}&resource=${encodeURIComponent(flags.resource)}&limit=1000`);
        if (trail.items.length === 0) process.stdout.write(`No audit events for ${flags.resource} in ${stack}.\n`);
        for (const event of [...trail.items].reverse()) {
          const fields = event.summary.fields?.map((field) => field.path).join(", ") ?? "";
          const commit =
            event.commit === null
              ? ""
              : `  ${short(event.commit)}${event.author === null ? "" : ` by ${event.author}`}${event.commitMessage === null ? "" : ` "${event.commitMessage}"`}`;
          process.stdout.write(
            `${event.at}  ${event.kind.padEnd(18)} ${(event.summary.action ?? "").padEnd(7)} ${event.actor}${commit}${fields === "" ? "" : `  [${fields}]`}\n`,
          );
        }
        return;
      }
      const runs = await callAgent<{
        items: {
          id: string;
          trigger: string;
          revision: string | null;
          result: string;
          startedAt: string;
          actor: string | null;
          planSummary: Record<string, number> | null;
        }[];
      }>(flags, "GET", `/api/v1/stacks/${encodeURIComponent(stack)}/runs?limit=50`);
      for (const run of runs.items) {
        const summary = run.planSummary === null ? "" : `+${run.planSummary.create ?? 0} ~${run.planSummary.update ?? 0} -${run.planSummary.delete ?? 0}`;
        process.stdout.write(
          `${run.startedAt}  ${short(run.revision).padEnd(12)}  ${run.trigger.padEnd(9)} ${run.result.padEnd(11)} ${summary}${run.actor === null ? "" : `  by ${run.actor}`}\n`,
        );
      }
    }),
  );

  remoteOptions(program.command("diff").description("desired vs live, field by field, for a stack the agent manages").argument("<stack>")).action(
    action(async (stack: string, flags: RemoteFlags) => {
      const plan = await callAgent<{ changes: { address: string; action: string; diffs: { path: string; before?: unknown; after?: unknown }[] }[] }>(
        flags,
        "GET",
        `/api/v1/stacks/${encodeURIComponent(stack)}/plan`,
      );
      if (plan.changes.length === 0) {
        process.stdout.write("No differences: live state matches the applied revision.\n");
        return 0;
      }
      for (const change of plan.changes) {
        process.stdout.write(`${change.action} ${change.address}\n`);
        for (const diff of change.diffs) process.stdout.write(`    ${diff.path}: ${JSON.stringify(diff.before)} → ${JSON.stringify(diff.after)}\n`);
      }
      return 2;
    }),
  );

  const overrideText = "apply even though the stack is suspended or a deny window is open (recorded on the audit trail)";
  remoteOptions(
    program
      .command("sync")
      .description("ask the agent to run a stack's commit loop now and apply what it plans")
      .argument("<stack>")
      .option("--override", overrideText),
  )
    .addHelpText("after", "\nExamples:\n  $ plumb sync payments-prod\n  $ plumb sync payments-prod --override   # inside a deny window, on purpose")
    .action(
      action(async (stack: string, flags: RemoteFlags & { override?: boolean }) => {
        process.stdout.write(
          `${(await callAgent<{ message: string }>(flags, "POST", `/api/v1/stacks/${encodeURIComponent(stack)}/sync`, flags.override === true ? { override: true } : undefined)).message}\n`,
        );
      }),
    );

  remoteOptions(
    program
      .command("rollback")
      .description("re-apply an earlier revision of a stack; automatic sync stays suspended until `resume`")
      .argument("<stack>")
      .argument("<revision>", "a commit (at least 7 hex digits) that was applied before")
      .option("--override", overrideText),
  ).action(
    action(async (stack: string, revision: string, flags: RemoteFlags & { override?: boolean }) => {
      process.stdout.write(
        `${(await callAgent<{ message: string }>(flags, "POST", `/api/v1/stacks/${encodeURIComponent(stack)}/rollback`, { revision, ...(flags.override === true ? { override: true } : {}) })).message}\n`,
      );
    }),
  );

  remoteOptions(
    program
      .command("report")
      .description("reports from a running agent")
      .argument("<report>", "compliance")
      .addOption(new Option("--format <format>", "output format").choices(["md", "csv", "json"]).default("md"))
      .option("--days <n>", "ATO dates within this many days count as expiring", "30")
      .addHelpText("after", "\nExamples:\n  $ plumb report compliance\n  $ plumb report compliance --format csv --days 60 > compliance.csv"),
  ).action(
    action(async (report: string, flags: RemoteFlags & { format: string; days: string }) => {
      if (report !== "compliance") throw new PlumbError("PLUMB_USAGE", `unknown report "${report}"`, { hint: "the report is: compliance" });
      if (!/^[0-9]{1,4}$/.test(flags.days) || Number(flags.days) < 1)
        throw new PlumbError("PLUMB_USAGE", `--days "${flags.days}" is not a number of days`, { hint: "e.g. --days 30" });
      const route = `/api/v1/compliance?days=${flags.days}&format=${flags.format}`;
      const body = flags.format === "json" ? `${JSON.stringify(await callAgent<unknown>(flags, "GET", route), null, 2)}\n` : await callText(flags, route);
      process.stdout.write(body);
    }),
  );

  for (const [name, description] of [
    ["suspend", "stop automatic applies of a stack"],
    ["resume", "resume automatic applies of a stack"],
  ] as const) {
    remoteOptions(program.command(name).description(description).argument("<stack>")).action(
      action(async (stack: string, flags: RemoteFlags) => {
        process.stdout.write(`${(await callAgent<{ message: string }>(flags, "POST", `/api/v1/stacks/${encodeURIComponent(stack)}/${name}`)).message}\n`);
      }),
    );
  }
}
