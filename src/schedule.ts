// Timing rules of the agent's loops: durations, jitter, retry backoff and sync
// windows (Argo CD's allow/deny windows: a cron schedule, in UTC, opens one for
// a duration). Ground level: `validate` and the agent check a Stack's sync
// policy with the same function.

import { CronExpressionParser } from "cron-parser";
import { PlumbError } from "./errors.js";

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest wait a timer can hold (Node's setTimeout limit, about 24.8 days). */
export const longestTimerMs = 2 ** 31 - 1;

/** "1h30m" → milliseconds, at most `longestMs` (a timer's limit unless said otherwise). */
export function parseDuration(text: string, where: string, longestMs = longestTimerMs): number {
  let total = 0;
  let consumed = "";
  for (const match of text.matchAll(/([0-9]+)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (units[match[2] as string] as number);
    consumed += match[0];
  }
  if (consumed !== text || consumed === "") {
    throw new PlumbError("PLUMB_STACK_DEFINITION", `${where}: "${text}" is not a duration`, { hint: "write it like 30s, 5m or 1h30m" });
  }
  if (total > longestMs) {
    throw new PlumbError(
      "PLUMB_STACK_DEFINITION",
      `${where}: "${text}" is longer than ${Math.floor(longestMs / 3_600_000)}h, the longest this duration can be`,
      { hint: "use a shorter duration" },
    );
  }
  return total;
}

/** Spreads polls of many stacks over time: ±10 %. */
export function withJitter(milliseconds: number, random: () => number = Math.random): number {
  return Math.round(milliseconds * (0.9 + 0.2 * random()));
}

/** The timing fields of a Stack's sync policy (render's schema has checked their shapes). */
export interface TimedSyncPolicy {
  interval?: string;
  driftInterval?: string;
  healthTimeout?: string;
  retry?: { limit?: number; backoff?: { duration?: string; factor?: number; max?: string } };
  windows?: readonly SyncWindow[];
}

export interface Backoff {
  /** Attempts after the first before the stack is Stalled; undefined: keep retrying. */
  limit: number | undefined;
  initialMs: number;
  factor: number;
  maxMs: number;
}

export function backoffOf(sync: TimedSyncPolicy, where: string): Backoff {
  const retry = sync.retry;
  return {
    limit: retry?.limit,
    initialMs: retry?.backoff?.duration === undefined ? 5_000 : parseDuration(retry.backoff.duration, where),
    factor: retry?.backoff?.factor ?? 2,
    maxMs: retry?.backoff?.max === undefined ? 180_000 : parseDuration(retry.backoff.max, where),
  };
}

/** The wait before attempt `failures + 1`. */
export function backoffDelay(backoff: Backoff, failures: number): number {
  return Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, failures - 1));
}

export interface SyncWindow {
  kind: "allow" | "deny";
  schedule: string;
  duration: string;
}

/** A window may stay open for up to a year; it is compared with the clock, never put in a timer. */
const longestWindowMs = 366 * 86_400_000;

/** Checks every window's cron expression and duration once, so a bad one is reported when the Stack is read. */
export function checkWindows(windows: readonly SyncWindow[], where: string): void {
  for (const [index, window] of windows.entries()) {
    try {
      CronExpressionParser.parse(window.schedule);
    } catch (error) {
      throw new PlumbError(
        "PLUMB_STACK_DEFINITION",
        `${where}: sync.windows[${index}].schedule "${window.schedule}" is not a cron expression: ${error instanceof Error ? error.message : String(error)}`,
        {
          hint: 'use five fields: minute hour day-of-month month day-of-week, e.g. "0 22 * * *"',
        },
      );
    }
    parseDuration(window.duration, `${where}: sync.windows[${index}].duration`, longestWindowMs);
  }
}

export interface SyncTimings {
  intervalMs: number;
  driftIntervalMs: number;
  /** How long resources may stay Progressing after an apply before the stack is Stalled. */
  healthTimeoutMs: number;
  backoff: Backoff;
}

export const defaultHealthTimeoutMs = 600_000;

/**
 * Every check a Stack's sync policy needs beyond its schema: durations a
 * timer can hold, intervals of at least a second, backoff, windows. `plumb
 * validate` and the agent both call this, so neither accepts what the other refuses.
 */
export function checkSyncPolicy(sync: TimedSyncPolicy, where: string, defaults: { intervalMs: number; driftIntervalMs: number }): SyncTimings {
  const intervalMs = sync.interval === undefined ? defaults.intervalMs : parseDuration(sync.interval, `${where}: sync.interval`);
  const driftIntervalMs = sync.driftInterval === undefined ? defaults.driftIntervalMs : parseDuration(sync.driftInterval, `${where}: sync.driftInterval`);
  if (intervalMs < 1000 || driftIntervalMs < 1000) {
    throw new PlumbError("PLUMB_STACK_DEFINITION", `${where}: interval and driftInterval must be at least 1s`, { hint: "use 1s or more, e.g. interval: 1m" });
  }
  const healthTimeoutMs = sync.healthTimeout === undefined ? defaultHealthTimeoutMs : parseDuration(sync.healthTimeout, `${where}: sync.healthTimeout`);
  const backoff = backoffOf(sync, where);
  checkWindows(sync.windows ?? [], where);
  return { intervalMs, driftIntervalMs, healthTimeoutMs, backoff };
}

function isOpen(window: SyncWindow, now: Date): boolean {
  const expression = CronExpressionParser.parse(window.schedule, { currentDate: new Date(now.getTime() + 1), tz: "UTC" });
  const lastStart = expression.prev().toDate().getTime();
  return now.getTime() < lastStart + parseDuration(window.duration, "window", longestWindowMs);
}

/** Automatic applies are allowed unless a deny window is open, or allow windows exist and none is open. */
export function syncAllowed(windows: readonly SyncWindow[] | undefined, now: Date = new Date()): { allowed: boolean; reason: string } {
  if (windows === undefined || windows.length === 0) return { allowed: true, reason: "no sync windows" };
  const deny = windows.find((window) => window.kind === "deny" && isOpen(window, now));
  if (deny !== undefined) return { allowed: false, reason: `deny window "${deny.schedule}" for ${deny.duration} is open` };
  const allows = windows.filter((window) => window.kind === "allow");
  if (allows.length > 0 && !allows.some((window) => isOpen(window, now))) return { allowed: false, reason: "no allow window is open" };
  return { allowed: true, reason: "inside the sync windows" };
}
