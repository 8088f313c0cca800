// Tells a live process from a dead, zombie or reused pid: a pid alone is not
// an identity (an agent that is pid 1 in a container restarts as pid 1), so a
// holder records the pid with the process's start time from /proc.

import { readFileSync } from "node:fs";

interface ProcessState {
  state: string;
  startTime: string;
}

function processState(pid: number): ProcessState | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses; the fields after its last ")" are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", startTime: fields[19] ?? "" };
  } catch {
    return undefined;
  }
}

/** This process's identity: pid and start time (clock ticks after boot), or just the pid where /proc is missing. */
export function ownIdentity(): string {
  const state = processState(process.pid);
  return state === undefined ? String(process.pid) : `${process.pid}@${state.startTime}`;
}

/** Whether the process named by `identity` (from ownIdentity on this host) still runs. */
export function processAlive(identity: string): boolean {
  const [pidText, startTime] = identity.split("@");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const state = processState(pid);
  if (state !== undefined) {
    if (state.state === "Z" || state.state === "X") return false;
    return startTime === undefined || startTime === state.startTime;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return !(typeof error === "object" && error !== null && "code" in error && error.code === "ESRCH");
  }
}
