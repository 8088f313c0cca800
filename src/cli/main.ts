#!/usr/bin/env node
// The `plumb` command line: one entry point, one file per command.

import { Command } from "commander";
import { stopAllSandboxes } from "../render/sandbox.js";
import { redactProcessOutput } from "../secrets/redaction.js";
import { registerAgent } from "./agent.js";
import { registerApply } from "./apply.js";
import { registerSecrets } from "./secrets.js";
import { registerDocs } from "./docs.js";
import { registerExport } from "./export.js";
import { registerSchemas } from "./schemas.js";
import { registerAudit } from "./audit.js";
import { registerCompletion } from "./completion.js";
import { registerLogin } from "./login.js";
import { registerRemote } from "./remote.js";
import { registerStore } from "./store.js";
import { registerImport } from "./import.js";
import { registerPromote } from "./promote.js";
import { registerNotify } from "./notify.js";
import { registerPlan } from "./plan.js";
import { registerState } from "./state.js";
import { registerValidate } from "./validate.js";

redactProcessOutput();

const program = new Command()
  .name("plumb")
  .description("Keep live systems true to the resources declared in a stack directory.")
  .version("0.1.0")
  .showHelpAfterError("(run with --help for usage)")
  // An interrupted one-shot command ends its sandbox processes and removes their
  // workspaces before it exits; the agent shuts down on its own signal handlers.
  .hook("preAction", (_program, command) => {
    if (command.name() === "agent") return;
    for (const [signal, code] of [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const) {
      process.once(signal, () => {
        stopAllSandboxes();
        process.exit(code);
      });
    }
  });

process.on("exit", stopAllSandboxes);

registerValidate(program);
registerPlan(program);
registerApply(program);
registerImport(program);
registerPromote(program);
registerNotify(program);
registerState(program);
registerAgent(program);
registerAudit(program);
registerDocs(program);
registerSchemas(program);
registerSecrets(program);
registerRemote(program);
registerLogin(program);
registerStore(program);
registerExport(program);
registerCompletion(program);

await program.parseAsync(process.argv);
