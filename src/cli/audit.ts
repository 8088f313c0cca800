// `plumb audit verify` recomputes the audit hash chain and names the first
// event that was edited, removed or reordered; `plumb audit export` writes the
// trail as JSON lines or CSV for a SIEM.

import type { Command } from "commander";
import { PlumbError } from "../errors.js";
import { auditEvents, auditExportLines } from "../state/audit-export.js";
import { auditKinds, verifyAuditChain } from "../state/audit.js";
import { action, dataDirectoryOption, openStore, storeOption } from "./context.js";

/** `--since` / `--until`: an ISO date or date-time, or an age counted back from now. */
function parseTime(flag: string, text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const relative = /^([0-9]+)(d|h|m)$/.exec(text);
  if (relative !== null) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as "d" | "h" | "m"];
    return new Date(Date.now() - Number(relative[1]) * unit).toISOString();
  }
  const parsed = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(parsed)) {
    throw new PlumbError("PLUMB_USAGE", `${flag} "${text}" is neither a date nor an age`, {
      hint: "use an ISO date such as 2026-01-31 or 2026-01-31T12:00:00Z, or an age such as 7d, 12h or 30m",
    });
  }
  return new Date(parsed).toISOString();
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the audit trail: a hash chain of every change, drift finding and action");

  audit
    .command("verify")
    .description("recompute the hash chain; exit 1 naming the first event edited, removed or reordered")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addHelpText("after", "\nExamples:\n  $ plumb audit verify\n  $ plumb audit verify --data-dir /var/lib/plumb   # the agent's data directory")
    .action(
      action(async (options: { dataDir: string }) => {
        const store = await openStore(options, { mustExist: true });
        try {
          const verdict = await verifyAuditChain(auditEvents(store, {}), await store.auditHead());
          if (verdict.ok) {
            process.stdout.write(`audit trail intact: ${verdict.count} event(s), head ${verdict.head}\n`);
            return 0;
          }
          process.stderr.write(`audit trail BROKEN at event #${verdict.sequence}: ${verdict.problem}\n(${verdict.count} event(s) before it verified)\n`);
          return 1;
        } finally {
          await store.close();
        }
      }),
    );

  audit
    .command("export")
    .description("write the audit trail as JSON lines or CSV, oldest first")
    .option("--since <date-or-age>", "only events at or after this ISO date/time, or this age (7d, 12h, 30m)")
    .option("--stack <name>", "only this stack's events")
    .option("--until <date-or-age>", "only events before this ISO date/time, or this age")
    .option("--resource <address>", "only this resource's events")
    .option("--kind <kind>", `only events of this kind: ${auditKinds.join(", ")}`)
    .option("--actor <name>", "only events by this actor: a token's name, agent, or cli:<user>")
    .option("--format <format>", "jsonl or csv", "jsonl")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addHelpText(
      "after",
      "\nExamples:\n  $ plumb audit export --since 30d --format csv > audit.csv\n  $ plumb audit export --stack payments-prod --format jsonl\n  $ plumb audit export --kind change.corrective --since 2026-11-01 --until 2026-12-01",
    )
    .action(
      action(
        async (options: {
          since?: string;
          until?: string;
          stack?: string;
          resource?: string;
          kind?: string;
          actor?: string;
          format: string;
          dataDir: string;
        }) => {
          if (options.format !== "jsonl" && options.format !== "csv")
            throw new PlumbError("PLUMB_USAGE", `--format "${options.format}" is not jsonl or csv`, { hint: "use --format jsonl or --format csv" });
          if (options.kind !== undefined && !(auditKinds as readonly string[]).includes(options.kind)) {
            throw new PlumbError("PLUMB_USAGE", `--kind "${options.kind}" is not a kind of audit event`, { hint: `use one of ${auditKinds.join(", ")}` });
          }
          const since = parseTime("--since", options.since);
          const until = parseTime("--until", options.until);
          const store = await openStore(options, { mustExist: true });
          try {
            const { stack, resource, kind, actor } = options;
            const filter = {
              ...(since === undefined ? {} : { since }),
              ...(until === undefined ? {} : { until }),
              ...(stack === undefined ? {} : { stack }),
              ...(resource === undefined ? {} : { resource }),
              ...(kind === undefined ? {} : { kind }),
              ...(actor === undefined ? {} : { actor }),
            };
            for await (const line of auditExportLines(store, filter, options.format)) process.stdout.write(line);
          } finally {
            await store.close();
          }
        },
      ),
    );
}
