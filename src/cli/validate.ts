// `plumb validate <dir>`: render and check a stack without touching any live system.

import type { Command } from "commander";
import { PlumbErrorList } from "../errors.js";
import { enrichResources, loadPolicyFile, violationErrors } from "../policy/compliance.js";
import { action, environmentOption, policyOption, registry, render } from "./context.js";

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check a stack's YAML, schemas, addresses and dependencies without contacting any system")
    .argument("<dir>", "the stack directory")
    .addOption(environmentOption())
    .addOption(policyOption())
    .addHelpText("after", "\nExamples:\n  $ plumb validate examples/hello --env prod\n  $ plumb validate examples/hello --policy examples/platform/compliance.yaml")
    .action(
      action(async (directory: string, options: { env?: string; policy?: string }) => {
        const rendered = await render(directory, options);
        if (options.policy !== undefined) {
          const policy = await loadPolicyFile(options.policy);
          const { violations } = enrichResources(rendered.resources, new Map(), policy, { stack: rendered.definition.name, source: directory, commit: null, metadata: rendered.definition.metadata }, (resource) => registry.kind(resource.apiVersion, resource.kind).tagField);
          const denied = violationErrors(violations, rendered.resources, rendered.definition.name);
          for (const violation of violations.filter((item) => item.level !== "deny")) process.stdout.write(`${violation.level === "warn" ? "warning" : "remediated"}: policy rule ${violation.rule}: ${violation.message}\n`);
          if (denied.length > 0) throw new PlumbErrorList(denied);
        }
        const environment = rendered.definition.environment === undefined ? "" : ` (environment ${rendered.definition.environment})`;
        process.stdout.write(`valid: stack ${rendered.definition.name}${environment}, ${rendered.resources.length} resource(s) from ${rendered.files.length} file(s)\n`);
      }),
    );
}
