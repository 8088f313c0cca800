// `plumb import <dir> <address>`: records an object that already exists in the
// live system as managed by the stack, the way it is now, so the next plan
// shows what it would change instead of refusing to take it over.

import { userInfo } from "node:os";
import type { Command } from "commander";
import { observe } from "../engine/observe/observe.js";
import { recordFor } from "../engine/record/resource-records.js";
import { PlumbError, PlumbErrorList } from "../errors.js";
import type { JsonObject } from "../sdk/resource.js";
import { action, dataDirectoryOption, render, storeOption, withRenderOptions, withStackRuntime, type StackOptions } from "./context.js";

/** The live values at the fields the desired spec sets: what Plumb will manage, as it is now. */
function liveAtManagedFields(desired: JsonObject, live: JsonObject): JsonObject {
  const result: JsonObject = {};
  for (const [key, wanted] of Object.entries(desired)) {
    if (!Object.hasOwn(live, key)) continue;
    const value = live[key];
    const bothMaps =
      typeof wanted === "object" && wanted !== null && !Array.isArray(wanted) && typeof value === "object" && value !== null && !Array.isArray(value);
    result[key] = bothMaps ? liveAtManagedFields(wanted as JsonObject, value as JsonObject) : (value as JsonObject[string]);
  }
  return result;
}

export function registerImport(program: Command): void {
  const command = program
    .command("import")
    .description("record an existing object as managed by a stack, as it is now (the next plan shows what would change)")
    .argument("<dir>", "the stack directory")
    .argument("<address>", "the resource's address in the stack: apiVersion/kind/name, as plan prints it")
    .addOption(dataDirectoryOption())
    .addOption(storeOption());
  withRenderOptions(command)
    .addHelpText("after", "\nExamples:\n  $ plumb import stacks/orders postgres.plumb.dev/v1/Role/orders_app")
    .action(
      action(async (directory: string, address: string, options: StackOptions) => {
        const rendered = await render(directory, options);
        const stack = rendered.definition.name;
        const resource = rendered.resources.find((item) => item.address === address);
        if (resource === undefined) {
          const near = rendered.resources.filter((item) => item.name === address.split("/").pop()).map((item) => item.address);
          throw new PlumbError("PLUMB_USAGE", `stack ${stack} declares no resource ${address}`, {
            hint:
              near.length > 0
                ? `did you mean ${near.join(" or ")}?`
                : "declare the resource in the stack first, then import it; plumb plan lists the addresses",
          });
        }
        return withStackRuntime(rendered, options, async (store, connections) => {
          const recorded = await store.getResource(stack, address);
          if (recorded !== undefined)
            throw new PlumbError("PLUMB_USAGE", `${address} is managed by stack ${stack} already`, { hint: "plumb plan shows what would change" });
          const observation = await observe([{ ...resource, desired: resource.spec }], connections);
          if (observation.errors.length > 0) throw new PlumbErrorList(observation.errors);
          const live = observation.live.get(address) ?? null;
          if (live === null)
            throw new PlumbError("PLUMB_USAGE", `there is no ${resource.kind} "${resource.name}" in the live system to import`, {
              location: { stack, resource: address },
              hint: "plumb apply creates it; import is for objects that exist already",
            });
          const handler = connections.handler(resource.apiVersion, resource.kind);
          const record = recordFor({ ...resource, stack }, liveAtManagedFields(resource.spec, live.spec), live, handler, null);
          // The record and its audit event commit together: a killed import leaves both or neither.
          await store.putResources(
            [record],
            [
              {
                kind: "resource.imported",
                actor: `cli:${userInfo().username}`,
                stack,
                resource: address,
                commit: null,
                author: null,
                commitMessage: null,
                summary: { action: "import", fields: record.managedFields },
              },
            ],
          );
          process.stdout.write(`imported ${address} into stack ${stack}; plumb plan shows what would change to make it match the source\n`);
          return 0;
        });
      }),
    );
}
