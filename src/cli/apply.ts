// `plumb apply <dir>`: resolve what an interrupted run left, plan, confirm, apply.

import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { withStackLock } from "../engine/apply/lock.js";
import { planHasChanges } from "../engine/plan/plan.js";
import { formatPlanText, summaryLine } from "../engine/plan/plan-format.js";
import { applyStackPlan, planStack } from "../engine/pipeline.js";
import { resolvePendingJournal } from "../engine/apply/recover.js";
import { PlumbError } from "../errors.js";
import {
  action,
  complianceOptions,
  dataDirectoryOption,
  render,
  useColor,
  withStackRuntime,
  type StackOptions,
  withRenderOptions,
  storeOption,
} from "./context.js";
import { addSyncFlags, syncOverrides, type SyncFlags } from "./plan.js";
import { progressReporter } from "./progress.js";

async function confirm(): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question("\nApply these changes? Only 'yes' is accepted: ");
    return answer.trim() === "yes";
  } finally {
    prompt.close();
  }
}

export function registerApply(program: Command): void {
  const command = program
    .command("apply")
    .description("make the live systems match the stack: create, update, replace and (with prune) delete in dependency order")
    .argument("<dir>", "the stack directory")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .option("-y, --yes", "apply without asking for confirmation (required when not on a terminal)");
  addSyncFlags(withRenderOptions(command))
    .addHelpText("after", "\nExamples:\n  $ plumb apply examples/hello\n  $ plumb apply examples/hello --env prod --yes --prune")
    .action(
      action(async (directory: string, options: StackOptions & SyncFlags & { yes?: boolean }) => {
        const rendered = await render(directory, options);
        const compliance = await complianceOptions(options.policy, directory);
        const stack = rendered.definition.name;
        return withStackRuntime(rendered, options, (store, connections) =>
          withStackLock(store, stack, async () => {
            const resolved = await resolvePendingJournal(store, stack, connections);
            if (resolved.length > 0) {
              process.stdout.write(`Resolved ${resolved.length} change(s) left pending by an interrupted apply:\n`);
              const counts = new Map<string, number>();
              for (const entry of resolved) counts.set(entry.resolution, (counts.get(entry.resolution) ?? 0) + 1);
              for (const [resolution, count] of counts) process.stdout.write(`  ${resolution}: ${count}\n`);
            }
            const planned = await planStack(rendered, store, connections, syncOverrides(options), compliance);
            const { plan } = planned;
            // Piped with --yes, the plan would only repeat what the progress lines say change by change.
            if (options.yes === true && process.stdout.isTTY !== true) {
              process.stdout.write(`${summaryLine(plan)} (plumb plan shows each change)\n`);
              for (const warning of plan.warnings) process.stdout.write(`warning: ${warning}\n`);
            } else process.stdout.write(`${formatPlanText(plan, { color: useColor(process.stdout) })}\n`);
            const staleRecords = plan.changes.some((change) => change.recordStale);
            if (!planHasChanges(plan) && !staleRecords) return 0;
            if (planHasChanges(plan) && options.yes !== true) {
              if (process.stdin.isTTY !== true) {
                throw new PlumbError("PLUMB_USAGE", "refusing to apply without confirmation: standard input is not a terminal", {
                  hint: "review the plan above and pass --yes to apply it",
                });
              }
              if (!(await confirm())) {
                process.stdout.write("Apply cancelled; nothing was changed.\n");
                return 1;
              }
            }
            const progress = progressReporter();
            const { runId, result } = await applyStackPlan(rendered, planned, store, connections, {
              trigger: "cli",
              revision: null,
              onProgress: progress.report,
            });
            progress.end();
            const counts = { create: 0, update: 0, replace: 0, delete: 0 };
            for (const outcome of result.outcomes)
              if (outcome.status === "succeeded" && outcome.action in counts) counts[outcome.action as keyof typeof counts]++;
            if (result.failed > 0) {
              process.stderr.write(
                `\nApply failed (run ${runId}): ${result.failed} change(s) failed, ${result.skipped} skipped because they depend on a failed one.\n`,
              );
              for (const outcome of result.outcomes) {
                if (outcome.status === "failed") process.stderr.write(`  ${outcome.address}: ${outcome.error?.describe() ?? "failed"}\n`);
              }
              return 1;
            }
            process.stdout.write(
              `\nApply complete (run ${runId}): ${counts.create} created, ${counts.update} updated, ${counts.replace} replaced, ${counts.delete} deleted${result.recorded > 0 ? `, ${result.recorded} recorded` : ""}${result.orphaned > 0 ? `, ${result.orphaned} no longer managed` : ""}.\n`,
            );
            return 0;
          }),
        );
      }),
    );
}
