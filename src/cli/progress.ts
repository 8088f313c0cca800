// Apply progress: a single live counter on a terminal, one plain line per
// change when output goes to a pipe or a file.

import { pastTense, type ApplyProgress } from "../engine/apply/apply.js";
import { errorMessage } from "../errors.js";

export function progressReporter(): { report: (progress: ApplyProgress) => void; end: () => void } {
  const interactive = process.stderr.isTTY === true;
  let lastDraw = 0;
  let lastLine = "";
  const draw = (line: string) => {
    lastLine = line;
    process.stderr.write(`\r\u001b[2K${line}`);
  };
  return {
    report(progress) {
      const counter = `[${String(progress.done).padStart(String(progress.total).length)}/${progress.total}]`;
      let line: string;
      if (progress.status === "succeeded")
        line = `${counter} ${progress.action in pastTense ? pastTense[progress.action as keyof typeof pastTense] : progress.action} ${progress.address} (took ${progress.durationMs} ms)`;
      else if (progress.status === "skipped") line = `${counter} skipped ${progress.address}: depends on ${progress.blockedBy ?? "a failed change"}`;
      else line = `${counter} FAILED ${progress.action} ${progress.address}: ${errorMessage(progress.error)}`;
      if (!interactive) {
        process.stdout.write(`${line}\n`);
        return;
      }
      if (progress.status !== "succeeded") {
        process.stderr.write(`\r\u001b[2K${line}\n`);
        if (lastLine !== "") draw(lastLine);
        return;
      }
      const now = Date.now();
      if (now - lastDraw >= 100 || progress.done === progress.total) {
        lastDraw = now;
        draw(`applying ${counter} ${progress.address}`);
      }
    },
    end() {
      if (interactive && lastLine !== "") process.stderr.write("\r\u001b[2K");
    },
  };
}
