// `plumb validate <dir>`: render and check a stack without touching any live
// system; a stack's main.ts is also type-checked against plumb/sdk.

import type { Command } from "commander";
import { PlumbErrorList } from "../errors.js";
import { loadPolicyFile } from "../policy/compliance.js";
import { runPolicyStage } from "../policy/stage.js";
import { hasProgram } from "../render/programs.js";
import { typeCheckProgram } from "../render/type-check.js";
import { action, registry, render, withRenderOptions, type RenderFlags } from "./context.js";

export function registerValidate(program: Command): void {
  withRenderOptions(program.command("validate"))
    .description("check a stack's YAML, program types, schemas, addresses and dependencies without contacting any system")
    .argument("<dir>", "the stack directory")
    .option("--no-type-check", "skip type-checking main.ts (schemas are still checked)")
    .addHelpText(
      "after",
      "\nExamples:\n  $ plumb validate examples/hello --env prod\n  $ plumb validate examples/hello --policy examples/platform/compliance.yaml\n  $ plumb validate examples/teams/payments --platform examples/platform",
    )
    .action(
      action(async (directory: string, options: RenderFlags & { typeCheck: boolean }) => {
        if (options.typeCheck && hasProgram(directory)) {
          const typeErrors = await typeCheckProgram(directory);
          if (typeErrors.length > 0) throw new PlumbErrorList(typeErrors);
        }
        const rendered = await render(directory, options);
        const policy = options.policy === undefined ? undefined : await loadPolicyFile(options.policy);
        const { findings } = runPolicyStage(
          rendered,
          rendered.resources,
          new Map(),
          policy === undefined ? undefined : { policy, source: directory, commit: null },
          (resource) => registry.kind(resource.apiVersion, resource.kind).tagField,
        );
        for (const finding of findings)
          process.stdout.write(`${finding.level === "warn" ? "warning" : "remediated"}: policy rule ${finding.rule}: ${finding.message}\n`);
        const environment = rendered.definition.environment === undefined ? "" : ` (environment ${rendered.definition.environment})`;
        const claims = rendered.claims.length === 0 ? "" : ` and ${rendered.claims.length} composite claim(s)`;
        process.stdout.write(
          `valid: stack ${rendered.definition.name}${environment}, ${rendered.resources.length} resource(s)${claims} from ${rendered.files.length} file(s)\n`,
        );
      }),
    );
}
