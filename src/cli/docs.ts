// `plumb docs <dir>`: the documentation of the platform's composite kinds,
// generated from their schemas, as Markdown (or JSON for tools).

import { Option, type Command } from "commander";
import { compositesMarkdown, documentComposite } from "../render/composite-docs.js";
import { action, platformFrom, sandboxLimits, withSandboxOptions } from "./context.js";

export function registerDocs(program: Command): void {
  withSandboxOptions(program.command("docs"))
    .description("document the composite kinds a platform directory defines (*.composite.ts): fields, types, defaults, examples")
    .argument("<dir>", "the platform directory")
    .addOption(new Option("--format <format>", "output format").choices(["markdown", "json"]).default("markdown"))
    .addHelpText("after", "\nExamples:\n  $ plumb docs examples/platform > docs/composites.md\n  $ plumb docs examples/platform --format json")
    .action(
      action(async (directory: string, options: { format: "markdown" | "json"; programTimeout: string; programMemory: string }) => {
        const library = await platformFrom(directory, sandboxLimits(options));
        const kinds = library?.composites ?? [];
        process.stdout.write(options.format === "json" ? `${JSON.stringify({ items: kinds.map(documentComposite) }, null, 2)}\n` : compositesMarkdown(kinds));
      }),
    );
}
