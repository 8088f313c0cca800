// `plumb state list|show`: what the store remembers about a stack's resources.

import type { Command } from "commander";
import { stringify } from "yaml";
import { PlumbError } from "../errors.js";
import type { Store } from "../state/store.js";
import { action, dataDirectoryOption, openStore, storeOption } from "./context.js";

async function chooseStack(store: Store, requested: string | undefined): Promise<string[]> {
  const stacks = (await store.listStacks()).map((stack) => stack.name);
  if (requested !== undefined) {
    if (!stacks.includes(requested)) {
      throw new PlumbError("PLUMB_STATE_NOT_FOUND", `no stack named ${requested} in the state store`, {
        hint: stacks.length === 0 ? "nothing has been applied with this data directory yet" : `stacks in the store: ${stacks.join(", ")}`,
      });
    }
    return [requested];
  }
  return stacks;
}

export function registerState(program: Command): void {
  const state = program.command("state").description("inspect the state store");
  state
    .command("list")
    .description("list recorded resources with their status and health")
    .option("-s, --stack <name>", "only this stack")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addHelpText("after", "\nExample:\n  $ plumb state list --stack hello")
    .action(
      action(async (options: { stack?: string; dataDir: string }) => {
        const store = await openStore(options, { mustExist: true });
        try {
          const stacks = await chooseStack(store, options.stack);
          if (stacks.length === 0) process.stdout.write("The state store is empty: nothing has been applied yet.\n");
          for (const stack of stacks) {
            const resources = await store.listResources(stack);
            process.stdout.write(`${stack}: ${resources.length} resource(s)\n`);
            for (const resource of resources) process.stdout.write(`  ${resource.address}\t${resource.status}\t${resource.health}\t${resource.updatedAt}\n`);
          }
        } finally {
          await store.close();
        }
      }),
    );
  state
    .command("show")
    .description("show everything recorded about one resource")
    .argument("<address>", "apiVersion/kind/name, e.g. file.plumb.dev/v1/File/readme")
    .option("-s, --stack <name>", "the stack (needed when several stacks hold that address)")
    .addOption(dataDirectoryOption())
    .addOption(storeOption())
    .addHelpText("after", "\nExample:\n  $ plumb state show file.plumb.dev/v1/File/readme --stack hello")
    .action(
      action(async (address: string, options: { stack?: string; dataDir: string }) => {
        const store = await openStore(options, { mustExist: true });
        try {
          const stacks = await chooseStack(store, options.stack);
          const found = [];
          for (const stack of stacks) {
            const record = await store.getResource(stack, address);
            if (record !== undefined) found.push(record);
          }
          if (found.length === 0) {
            throw new PlumbError("PLUMB_STATE_NOT_FOUND", `no resource ${address} in the state store`, {
              hint: "run `plumb state list` to see the recorded addresses",
            });
          }
          if (found.length > 1) {
            throw new PlumbError("PLUMB_USAGE", `${address} exists in several stacks: ${found.map((record) => record.stack).join(", ")}`, {
              hint: "pick one with --stack",
            });
          }
          process.stdout.write(stringify(found[0]));
        } finally {
          await store.close();
        }
      }),
    );
}
