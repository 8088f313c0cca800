// `plumb store migrate`: moves an installation's state from the SQLite file of
// a data directory into an empty PostgreSQL database, in one transaction, and
// verifies the audit chain where it arrived.

import path from "node:path";
import type { Command } from "commander";
import { PlumbError } from "../errors.js";
import { auditEvents } from "../state/audit-export.js";
import { verifyAuditChain } from "../state/audit.js";
import { KyselyStore } from "../state/kysely-store.js";
import { isPostgresStore, openPostgresStore, storeDisplay } from "../state/postgres.js";
import { openSqliteStore } from "../state/sqlite.js";
import { copyStore } from "../state/store-copy.js";
import { action } from "./context.js";

export function registerStore(program: Command): void {
  program
    .command("store")
    .description("the state store itself")
    .command("migrate")
    .description("copy a data directory's SQLite store into an empty PostgreSQL database, audit chain intact (verified after)")
    .requiredOption("--from <data-dir>", "the data directory whose plumb.db to copy (stop its agent first)")
    .requiredOption("--to <postgres-url>", "an empty database (the password from PGPASSWORD)")
    .addHelpText("after", "\nExample:\n  $ PGPASSWORD=… plumb store migrate --from /var/lib/plumb --to postgres://plumb@db.internal/plumb")
    .action(
      action(async (options: { from: string; to: string }) => {
        if (!isPostgresStore(options.to))
          throw new PlumbError("PLUMB_USAGE", `--to "${storeDisplay(options.to)}" is not a postgres:// URL`, {
            hint: "e.g. --to postgres://plumb@db.internal/plumb",
          });
        const from = await openSqliteStore(path.resolve(options.from), { mustExist: true });
        try {
          const to = await openPostgresStore(options.to);
          try {
            if (!(from instanceof KyselyStore) || !(to instanceof KyselyStore))
              throw new PlumbError("PLUMB_INTERNAL", "the stores cannot be copied row for row");
            const copied = await copyStore(from, to, "postgres");
            for (const [table, rows] of Object.entries(copied)) process.stdout.write(`${table.padEnd(14)} ${rows} row(s)\n`);
            const verdict = await verifyAuditChain(auditEvents(to, {}), await to.auditHead());
            if (!verdict.ok) {
              process.stderr.write(`the copied audit trail does not verify at event #${verdict.sequence}: ${verdict.problem}\n`);
              return 1;
            }
            process.stdout.write(`moved to ${storeDisplay(options.to)}; audit trail intact there: ${verdict.count} event(s), head ${verdict.head}\n`);
            return 0;
          } finally {
            await to.close();
          }
        } finally {
          await from.close();
        }
      }),
    );
}
