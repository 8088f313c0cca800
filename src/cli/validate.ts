// `plumb validate <dir>`: render and check a stack without touching any live
// system; a stack's main.ts is also type-checked against plumb/sdk.

import type { Command } from "commander";
import { PlumbErrorList } from "../errors.js";
import { enrichResources, loadPolicyFile, violationErrors } from "../policy/compliance.js";
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
        const violations = [...rendered.policyViolations];
        if (options.policy !== undefined) {
          const policy = await loadPolicyFile(options.policy);
          violations.push(
            ...enrichResources(
              rendered.resources,
              new Map(),
              policy,
              { stack: rendered.definition.name, source: directory, commit: null, metadata: rendered.definition.metadata },
              (resource) => registry.kind(resource.apiVersion, resource.kind).tagField,
            ).violations,
          );
        }
        for (const violation of violations.filter((item) => item.level !== "deny"))
          process.stdout.write(`${violation.level === "warn" ? "warning" : "remediated"}: policy rule ${violation.rule}: ${violation.message}\n`);
        const denied = await violationErrors(violations, rendered.resources, directory, rendered.definition.name);
        if (denied.length > 0) throw new PlumbErrorList(denied);
        const environment = rendered.definition.environment === undefined ? "" : ` (environment ${rendered.definition.environment})`;
        const claims = rendered.claims.length === 0 ? "" : ` and ${rendered.claims.length} composite claim(s)`;
        process.stdout.write(
          `valid: stack ${rendered.definition.name}${environment}, ${rendered.resources.length} resource(s)${claims} from ${rendered.files.length} file(s)\n`,
        );
      }),
    );
}
