// `plumb plan <dir>`: what apply would change, without changing anything.

import path from "node:path";
import { Option, type Command } from "commander";
import { planHasChanges } from "../engine/plan/plan.js";
import { formatPlan, type PlanFormat } from "../engine/plan/plan-format.js";
import { planStack } from "../engine/pipeline.js";
import { errorMessage, PlumbError, PlumbErrorList } from "../errors.js";
import { redactor } from "../secrets/redaction.js";
import { parsePullRequest, upsertPlanComment } from "./forge-comment.js";
import { forgeToken } from "./forge.js";
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

/** A plan that could not be made (a render error, a policy denial), as the pull request comment says it. */
function failureMarkdown(stack: string, error: unknown): string {
  const problems = error instanceof PlumbErrorList ? error.errors : [error];
  const lines = [`### Plumb plan for \`${stack.replaceAll("`", "'")}\` failed`, ""];
  for (const problem of problems.slice(0, 50)) {
    const text = problem instanceof PlumbError ? problem.describe() : errorMessage(problem);
    lines.push(
      `- ${redactor
        .redact(text)
        .replaceAll("\n", " ")
        .replace(/[<>]/g, (character) => (character === "<" ? "&lt;" : "&gt;"))}`,
    );
  }
  if (problems.length > 50) lines.push(`- and ${problems.length - 50} more`);
  return lines.join("\n");
}

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
    .option("--show-unchanged", "list resources that need no change too")
    .option(
      "--comment <pull-request-url>",
      "also post the plan (Markdown) as one comment on this pull request, updated in place on the next plan; the token from PLUMB_FORGE_TOKEN, GITHUB_TOKEN, GITLAB_TOKEN or GITEA_TOKEN",
    );
  addSyncFlags(withRenderOptions(command))
    .addHelpText("after", "\nExamples:\n  $ plumb plan examples/hello\n  $ plumb plan examples/hello --env prod --format markdown --detailed-exitcode")
    .action(
      action(
        async (
          directory: string,
          options: StackOptions & SyncFlags & { format: PlanFormat; detailedExitcode?: boolean; showUnchanged?: boolean; comment?: string },
        ) => {
          // The address and the token are checked before any work, so a CI job fails at once on a typo.
          const pull = options.comment === undefined ? undefined : parsePullRequest(options.comment);
          const token = pull === undefined ? undefined : forgeToken(pull.forge, "--comment");
          // The comment is found again by the stack's directory, which a plan that fails to render still has.
          const key = path.relative(process.cwd(), path.resolve(directory)) || ".";
          const post = async (markdown: string) => {
            if (pull === undefined || token === undefined) return;
            // A plan never holds a secret's value; the comment goes through the redaction layer all the same.
            const done = await upsertPlanComment(pull, token, key, redactor.redact(markdown));
            process.stderr.write(`plan ${done === "created" ? "posted on" : "updated on"} ${pull.url}\n`);
          };
          let rendered;
          try {
            rendered = await render(directory, options);
          } catch (error) {
            await post(failureMarkdown(key, error));
            throw error;
          }
          const compliance = await complianceOptions(options.policy, directory);
          return withStackRuntime(rendered, options, async (store, connections) => {
            let planned;
            try {
              planned = await planStack(rendered, store, connections, syncOverrides(options), compliance);
            } catch (error) {
              await post(failureMarkdown(rendered.definition.name, error));
              throw error;
            }
            const { plan } = planned;
            if (pull !== undefined) await post(formatPlan(plan, "markdown", { color: false, showUnchanged: false }));
            process.stdout.write(`${formatPlan(plan, options.format, { color: useColor(process.stdout), showUnchanged: options.showUnchanged === true })}\n`);
            const pending = await store.pendingJournalEntries(plan.stack);
            if (pending.length > 0 && options.format === "text") {
              process.stdout.write(`note: ${pending.length} change(s) from an interrupted apply are pending; the next apply resolves them first.\n`);
            }
            return options.detailedExitcode === true && planHasChanges(plan) ? 2 : 0;
          });
        },
      ),
    );
}
