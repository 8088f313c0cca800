// `plumb audit verify` recomputes the audit hash chain and names the first
// event that was edited, removed or reordered; `plumb audit export` writes the
// trail as JSON lines or CSV for a SIEM.

import type { KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { PlumbError } from "../errors.js";
import { auditEvents, auditExportLines } from "../state/audit-export.js";
import { auditKinds, verifyAuditChain, type AuditEvent, type AuditVerdict } from "../state/audit.js";
import {
  forgedCheckpoint,
  generateAuditKeys,
  readCheckpoints,
  readPublicKey,
  type AuditCheckpoint,
  type PlacedCheckpoint,
} from "../state/audit-checkpoints.js";
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

/** Prints the verdict; an empty trail is not "intact": it proves nothing. */
function report(verdict: AuditVerdict, checkpoints?: number): number {
  if (verdict.ok && verdict.count === 0) {
    process.stderr.write(
      "audit trail EMPTY: the store holds no audit events, which proves nothing (a wrong --data-dir or --store, or a trail removed whole)\n",
    );
    return 1;
  }
  if (verdict.ok) {
    const against =
      checkpoints === undefined
        ? ""
        : checkpoints === 0
          ? ", no checkpoint given (the chain alone is checked)"
          : `, matching ${checkpoints} signed checkpoint(s)`;
    process.stdout.write(`audit trail intact: ${verdict.count} event(s), head ${verdict.head}${against}\n`);
    return 0;
  }
  process.stderr.write(`audit trail BROKEN at event #${verdict.sequence}: ${verdict.problem}\n(${verdict.count} event(s) before it verified)\n`);
  return 1;
}

/** An export with its checkpoints, checked with the public key alone: no store, no agent. */
async function verifyExport(file: string, publicKey: KeyObject): Promise<AuditVerdict> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new PlumbError("PLUMB_USAGE", `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const events: AuditEvent[] = [];
  const checkpoints: PlacedCheckpoint[] = [];
  for (const [index, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new PlumbError("PLUMB_USAGE", `${file}:${index + 1} is not JSON`, { hint: "give a JSON-lines export made with plumb audit export --checkpoints" });
    }
    const item = value as { checkpoint?: AuditCheckpoint };
    if (item.checkpoint !== undefined) checkpoints.push({ checkpoint: item.checkpoint, file: `${file}:${index + 1}` });
    else events.push(value as AuditEvent);
  }
  if (checkpoints.length === 0)
    throw new PlumbError("PLUMB_USAGE", `${file} carries no checkpoint, so it cannot be verified offline`, {
      hint: "export the whole trail with plumb audit export --checkpoints <dir> (no filters)",
    });
  const forged = forgedCheckpoint(checkpoints, publicKey);
  if (forged !== undefined) return { ok: false, count: 0, sequence: 0, problem: forged };
  const marks = checkpoints.map(({ checkpoint, file: where }) => ({ sequence: checkpoint.sequence, head: checkpoint.head, at: checkpoint.at, file: where }));
  return verifyAuditChain(events, undefined, marks);
}

export function registerAudit(program: Command): void {
  const audit = program.command("audit").description("the audit trail: a hash chain of every change, drift finding and action");

  audit
    .command("verify")
    .description("recompute the hash chain and hold it against the signed checkpoints; exit 1 naming what no longer matches")
    .option("--checkpoints <dir>", "the directory the agent writes its signed checkpoints to (PLUMB_AUDIT_CHECKPOINTS)", process.env.PLUMB_AUDIT_CHECKPOINTS)
    .option("--public-key <file>", "the public key the checkpoints are signed with (from plumb audit keygen; kept in the platform repository)")
    .option("--export <file>", "verify an export made with plumb audit export --checkpoints, offline, instead of a store")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addHelpText(
      "after",
      "\nExamples:\n  $ plumb audit verify --data-dir /var/lib/plumb --checkpoints /mnt/worm/plumb --public-key platform/audit-key.pub\n  $ plumb audit verify --export audit.jsonl --public-key audit-key.pub",
    )
    .action(
      action(async (options: { dataDir: string; checkpoints?: string; publicKey?: string; export?: string }) => {
        if ((options.checkpoints !== undefined || options.export !== undefined) && options.publicKey === undefined)
          throw new PlumbError("PLUMB_USAGE", "checking checkpoints needs --public-key", { hint: "give the public key plumb audit keygen wrote" });
        const publicKey = options.publicKey === undefined ? undefined : await readPublicKey(options.publicKey);
        if (options.export !== undefined) return report(await verifyExport(options.export, publicKey as KeyObject));
        const checkpoints = options.checkpoints === undefined ? [] : await readCheckpoints(options.checkpoints);
        const forged = publicKey === undefined ? undefined : forgedCheckpoint(checkpoints, publicKey);
        if (forged !== undefined) return report({ ok: false, count: 0, sequence: 0, problem: forged }, checkpoints.length);
        const store = await openStore(options, { mustExist: true });
        try {
          const marks = checkpoints.map(({ checkpoint, file }) => ({ sequence: checkpoint.sequence, head: checkpoint.head, at: checkpoint.at, file }));
          return report(await verifyAuditChain(auditEvents(store, {}), await store.auditHead(), marks), checkpoints.length);
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
    .option(
      "--checkpoints <dir>",
      "carry the signed checkpoints from this directory (jsonl only), so the export verifies offline",
      process.env.PLUMB_AUDIT_CHECKPOINTS,
    )
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
          checkpoints?: string;
        }) => {
          if (options.format !== "jsonl" && options.format !== "csv")
            throw new PlumbError("PLUMB_USAGE", `--format "${options.format}" is not jsonl or csv`, { hint: "use --format jsonl or --format csv" });
          if (options.kind !== undefined && !(auditKinds as readonly string[]).includes(options.kind)) {
            throw new PlumbError("PLUMB_USAGE", `--kind "${options.kind}" is not a kind of audit event`, { hint: `use one of ${auditKinds.join(", ")}` });
          }
          if (options.checkpoints !== undefined && options.format !== "jsonl")
            throw new PlumbError("PLUMB_USAGE", "--checkpoints goes with --format jsonl", { hint: "CSV has no place for signatures; export JSON lines" });
          const checkpoints = options.checkpoints === undefined ? [] : (await readCheckpoints(options.checkpoints)).map((placed) => placed.checkpoint);
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
            for await (const line of auditExportLines(store, filter, options.format, checkpoints)) process.stdout.write(line);
          } finally {
            await store.close();
          }
        },
      ),
    );

  audit
    .command("keygen")
    .description("make the Ed25519 key pair the agent signs audit checkpoints with")
    .requiredOption("--out <file>", "where to write the private key (mode 0600; the public key goes to <file>.pub)")
    .addHelpText(
      "after",
      "\nKeep the private key outside the store (a file only the agent reads, or a secret mount); commit the public key to the platform repository.\n\nExample:\n  $ plumb audit keygen --out /etc/plumb/audit-key && cp /etc/plumb/audit-key.pub platform/audit-key.pub",
    )
    .action(
      action(async (options: { out: string }) => {
        const keys = generateAuditKeys();
        const existing = [options.out, `${options.out}.pub`].find((file) => existsSync(file));
        if (existing !== undefined)
          throw new PlumbError("PLUMB_USAGE", `${existing} exists already; a key is never overwritten`, {
            hint: "choose another --out, or remove the old key on purpose",
          });
        await writeFile(options.out, keys.privateKey, { flag: "wx", mode: 0o600 });
        await writeFile(`${options.out}.pub`, keys.publicKey, { flag: "wx", mode: 0o644 });
        process.stdout.write(`private key: ${options.out}\npublic key:  ${options.out}.pub\n${keys.publicKey}`);
      }),
    );
}
