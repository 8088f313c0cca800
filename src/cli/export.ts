// `plumb export backstage`: the agent's Backstage catalog entities (a
// Component per stack, a System per project, an API per composite kind), to
// stdout or a file a Backstage catalog location points at.

import { writeFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { action } from "./context.js";
import { callAgent, callText, remoteOptions, type RemoteFlags } from "./remote.js";

interface ExportFlags extends RemoteFlags {
  out?: string;
  format: "yaml" | "json";
  dashboardUrl?: string;
  owner?: string;
}

export function registerExport(program: Command): void {
  const exportCommand = program.command("export").description("export what the agent manages for other tools");
  remoteOptions(
    exportCommand
      .command("backstage")
      .description(
        "Backstage catalog entities: a Component per stack (owner, system, lifecycle, ATO date, compliance level, dashboard link), a System per project, an API per composite kind",
      )
      .option("--out <file>", "write to this file instead of stdout")
      .addOption(new Option("--format <format>", "yaml (a catalog location) or json").choices(["yaml", "json"]).default("yaml"))
      .option("--dashboard-url <url>", "the dashboard's address for the links (default: --url)")
      .option("--owner <entity-ref>", "owner of the Systems and APIs (default group:default/platform)")
      .addHelpText(
        "after",
        "\nExamples:\n  $ plumb export backstage --out catalog/plumb.yaml\n  $ plumb export backstage --dashboard-url https://plumb.example.org --owner group:default/platform-team",
      ),
  ).action(
    action(async (flags: ExportFlags) => {
      const query = new URLSearchParams({
        format: flags.format,
        dashboardUrl: flags.dashboardUrl ?? flags.url,
        ...(flags.owner === undefined ? {} : { owner: flags.owner }),
      });
      const route = `/api/v1/catalog/backstage?${query.toString()}`;
      const body = flags.format === "json" ? `${JSON.stringify(await callAgent<unknown>(flags, "GET", route), null, 2)}\n` : await callText(flags, route);
      if (flags.out === undefined) process.stdout.write(body);
      else writeFileSync(flags.out, body);
    }),
  );
}
