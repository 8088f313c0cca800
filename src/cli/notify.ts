// plumb notify: the agent's notification sinks — a test message to one, and
// the delivery log — over its API.

import type { Command } from "commander";
import { action } from "./context.js";
import { callAgent, remoteOptions, type RemoteFlags } from "./remote.js";

interface Deliveries {
  sinks: { name: string; type: string; counts: Record<string, number> }[];
  items: { sink: string; trigger: string; stack: string; state: string; attempts: number; title: string; lastError: string | null; createdAt: string }[];
}

export function registerNotify(program: Command): void {
  const notify = program.command("notify").description("the agent's notification sinks: send a test message, read the delivery log");
  remoteOptions(
    notify
      .command("test")
      .description("send a test message to a sink now; exit 1 saying why it did not arrive")
      .argument("<sink>", "a NotificationSink's name"),
  ).action(
    action(async (sink: string, flags: RemoteFlags) => {
      const answer = await callAgent<{ delivered: boolean; error: string | null }>(flags, "POST", `/api/v1/notifications/${encodeURIComponent(sink)}/test`);
      if (answer.delivered) {
        process.stdout.write(`delivered a test message to ${sink}\n`);
        return 0;
      }
      process.stderr.write(`the test message to ${sink} did not arrive: ${answer.error ?? "unknown"}\n`);
      return 1;
    }),
  );
  remoteOptions(notify.command("log").description("the delivery log, newest first").option("--sink <name>", "one sink's messages")).action(
    action(async (flags: RemoteFlags & { sink?: string }) => {
      const answer = await callAgent<Deliveries>(
        flags,
        "GET",
        `/api/v1/notifications?limit=200${flags.sink === undefined ? "" : `&sink=${encodeURIComponent(flags.sink)}`}`,
      );
      for (const sink of answer.sinks)
        process.stdout.write(
          `${sink.name} (${sink.type}): ${
            Object.entries(sink.counts)
              .map(([state, count]) => `${count} ${state}`)
              .join(", ") || "nothing sent yet"
          }\n`,
        );
      for (const item of answer.items)
        process.stdout.write(
          `${item.createdAt}  ${item.sink}  ${item.state.padEnd(10)} ${item.trigger.padEnd(18)} ${item.stack}  ${item.title}${item.lastError === null ? "" : `  (${item.lastError}; ${item.attempts} attempt(s))`}\n`,
        );
    }),
  );
}
