// `plumb validate <dir>`: render and check a stack without touching any live system.

import type { Command } from "commander";
import { action, environmentOption, render } from "./context.js";

export function registerValidate(program: Command): void {
  program
    .command("validate")
    .description("check a stack's YAML, schemas, addresses and dependencies without contacting any system")
    .argument("<dir>", "the stack directory")
    .addOption(environmentOption())
    .addHelpText("after", "\nExample:\n  $ plumb validate examples/hello --env prod")
    .action(
      action(async (directory: string, options: { env?: string }) => {
        const rendered = await render(directory, options);
        const environment = rendered.definition.environment === undefined ? "" : ` (environment ${rendered.definition.environment})`;
        process.stdout.write(`valid: stack ${rendered.definition.name}${environment}, ${rendered.resources.length} resource(s) from ${rendered.files.length} file(s)\n`);
      }),
    );
}
