// `plumb plan <dir>`: what apply would change, without changing anything.

import { Option, type Command } from "commander";
import { planHasChanges } from "../engine/plan/plan.js";
import { formatPlan, type PlanFormat } from "../engine/plan/plan-format.js";
import { planStack } from "../engine/pipeline.js";
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

export interface SyncFlags {
  prune?: boolean;
  allowEmpty?: boolean;
}

export function syncOverrides(options: SyncFlags): { prune?: boolean; allowEmpty?: boolean } {
  return { ...(options.prune === undefined ? {} : { prune: options.prune }), ...(options.allowEmpty === undefined ? {} : { allowEmpty: options.allowEmpty }) };
}

export function addSyncFlags(command: Command): Command {
  return command
    .option("--prune", "delete resources that left the stack (overrides sync.prune)")
    .option("--no-prune", "keep resources that left the stack (overrides sync.prune)")
    .option("--allow-empty", "let an empty stack prune everything (overrides sync.allowEmpty)");
}

export function registerPlan(program: Command): void {
  const command = program
    .command("plan")
    .description("show what apply would create, update, replace and delete, field by field")
    .argument("<dir>", "the stack directory")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addOption(new Option("--format <format>", "output format").choices(["text", "json", "markdown"]).default("text"))
    .option("--detailed-exitcode", "exit 0 when there are no changes, 2 when there are, 1 on error")
    .option("--show-unchanged", "list resources that need no change too");
  addSyncFlags(withRenderOptions(command))
    .addHelpText("after", "\nExamples:\n  $ plumb plan examples/hello\n  $ plumb plan examples/hello --env prod --format markdown --detailed-exitcode")
    .action(
      action(async (directory: string, options: StackOptions & SyncFlags & { format: PlanFormat; detailedExitcode?: boolean; showUnchanged?: boolean }) => {
        const rendered = await render(directory, options);
        const compliance = await complianceOptions(options.policy, directory);
        return withStackRuntime(rendered, options, async (store, connections) => {
          const { plan } = await planStack(rendered, store, connections, syncOverrides(options), compliance);
          process.stdout.write(`${formatPlan(plan, options.format, { color: useColor(process.stdout), showUnchanged: options.showUnchanged === true })}\n`);
          const pending = await store.pendingJournalEntries(plan.stack);
          if (pending.length > 0 && options.format === "text") {
            process.stdout.write(`note: ${pending.length} change(s) from an interrupted apply are pending; the next apply resolves them first.\n`);
          }
          return options.detailedExitcode === true && planHasChanges(plan) ? 2 : 0;
        });
      }),
    );
}
