// Small pieces the pages share: condition badges and a button that asks first.

import { useEffect, useId, useRef, useState } from "react";
import { ApiError, savedToken, subscribe, type Condition, type StackStateWord, type StackSummary } from "./api.js";

export function conditionOf(stack: StackSummary, type: string): Condition | undefined {
  return stack.conditions.find((condition) => condition.type === type);
}

const stateTones: Record<StackStateWord, string> = {
  Ready: "good",
  Drifted: "warn",
  Stalled: "bad",
  Degraded: "bad",
  Reconciling: "busy",
  NotReady: "warn",
  Unknown: "muted",
  Suspended: "muted",
};

/** Words a person reads for the server's state names. */
export function stateLabel(state: StackStateWord): string {
  return state === "NotReady" ? "Not ready" : state;
}

export function stackStateTone(state: StackStateWord): string {
  return stateTones[state];
}

/** The stack's state word and the colour class that goes with it; "Not ready" says why when the Ready condition does. */
export function stackState(stack: StackSummary): { label: string; tone: string } {
  const reason = stack.state === "NotReady" ? conditionOf(stack, "Ready")?.reason : undefined;
  return { label: reason === undefined || reason === "" ? stateLabel(stack.state) : reason, tone: stateTones[stack.state] };
}

/**
 * Two words, as Argo CD users read a stack: whether live matches Git (Synced,
 * OutOfSync, Syncing, Failed) and whether what runs is well (Healthy,
 * Progressing, Degraded, Unknown).
 */
export function syncAndHealth(stack: StackSummary): { sync: { word: string; tone: string }; health: { word: string; tone: string } } {
  const isTrue = (type: string) => conditionOf(stack, type)?.status === "True";
  const liveDrift = stack.drift !== null && !stack.drift.healed && Object.keys(stack.drift.resources).length > 0;
  const sync = isTrue("Stalled")
    ? { word: "Failed", tone: "bad" }
    : isTrue("Reconciling")
      ? { word: "Syncing", tone: "busy" }
      : liveDrift || stack.lastAppliedRevision === null || stack.lastAppliedRevision !== stack.lastAttemptedRevision
        ? { word: "OutOfSync", tone: "warn" }
        : { word: "Synced", tone: "good" };
  const health = isTrue("Degraded")
    ? { word: "Degraded", tone: "bad" }
    : isTrue("Ready")
      ? { word: "Healthy", tone: "good" }
      : isTrue("Reconciling")
        ? { word: "Progressing", tone: "busy" }
        : { word: "Unknown", tone: "muted" };
  return { sync, health };
}

export function Badge({ tone, children, title }: { tone: string; children: React.ReactNode; title?: string }) {
  return (
    <span className={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

/** An action that asks first. Escape or Cancel says no; focus goes back to the action's button either way, so a keyboard user stays in place. */
export function ConfirmButton({
  label,
  question,
  onConfirm,
  disabled,
}: {
  label: string;
  question: string;
  onConfirm: () => Promise<void>;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const button = useRef<HTMLButtonElement>(null);
  const answered = useRef(false);
  useEffect(() => {
    if (asking || !answered.current) return;
    answered.current = false;
    button.current?.focus();
  }, [asking]);
  const answer = (yes: boolean) => {
    answered.current = true;
    setAsking(false);
    if (!yes) return;
    setBusy(true);
    void onConfirm().finally(() => setBusy(false));
  };
  if (!asking) {
    return (
      // While busy the button stays focusable (aria-disabled, not disabled) so focus can come back to it.
      <button
        ref={button}
        type="button"
        disabled={disabled === true}
        aria-disabled={busy || undefined}
        onClick={() => {
          if (!busy) setAsking(true);
        }}
      >
        {label}
      </button>
    );
  }
  return (
    <span
      className="confirm"
      role="group"
      aria-label={question}
      onKeyDown={(event) => {
        if (event.key === "Escape") answer(false);
      }}
    >
      <span>{question}</span>
      <button type="button" className="primary" autoFocus onClick={() => answer(true)}>
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => answer(false)}>
        Cancel
      </button>
    </span>
  );
}

/** "just now", "5 min ago", "3 h ago", "2 d ago": how long since an ISO time. */
export function ago(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} d ago`;
}

export function shortRevision(revision: string | null): string {
  return revision === null ? "—" : revision.slice(0, 12);
}

/** A card holding a scrollable table with column headings. */
export function TableCard({
  title,
  label,
  headings,
  className,
  footer,
  children,
}: {
  title?: string;
  label?: string;
  headings: string[];
  /** `stacked`: at phone width each row becomes a small block instead of a table row wider than the screen. */
  className?: string;
  /** Below the table: a "Show all" button, for one. */
  footer?: React.ReactNode;
  children: React.ReactNode;
}) {
  return (
    <section className={className === undefined ? "card" : `card ${className}`}>
      {title === undefined ? null : <h2>{title}</h2>}
      {/* A region the keyboard can reach, so a table wider than the screen can be scrolled without a mouse. */}
      <div className="scroll" tabIndex={0} role="region" aria-label={title ?? label ?? "Table"}>
        <table>
          <thead>
            <tr>
              {headings.map((heading) => (
                <th key={heading} scope="col">
                  {heading}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.isArray(children) && children.length === 0 ? (
              <tr>
                <td colSpan={headings.length} className="muted">
                  None.
                </td>
              </tr>
            ) : (
              children
            )}
          </tbody>
        </table>
      </div>
      {footer}
    </section>
  );
}

/**
 * One of a few ways to show something (List or Graph, Table or Tiles) as
 * pressed buttons; the choice is kept in this browser under `key`, the first
 * choice when nothing is kept.
 */
export function useViewChoice<Choice extends string>(
  key: string,
  choices: readonly { value: Choice; label: string }[],
  groupLabel: string,
): [Choice, React.ReactNode] {
  const first = (choices[0] as { value: Choice }).value;
  const [chosen, setChosen] = useState<Choice>(() => choices.find((choice) => choice.value === localStorage.getItem(key))?.value ?? first);
  const switcher = (
    <div className="view-switch" role="group" aria-label={groupLabel}>
      {choices.map((choice) => (
        <button
          key={choice.value}
          type="button"
          aria-pressed={chosen === choice.value}
          onClick={() => {
            localStorage.setItem(key, choice.value);
            setChosen(choice.value);
          }}
        >
          {choice.label}
        </button>
      ))}
    </div>
  );
  return [chosen, switcher];
}

/**
 * The first `count` items and, when there are more, a button that shows them
 * all: a long history stays one click away without making the page a scroll.
 */
export function useFirst<Item>(items: readonly Item[], what: string, count = 10): [readonly Item[], React.ReactNode] {
  const [all, setAll] = useState(false);
  if (all || items.length <= count) return [items, null];
  return [
    items.slice(0, count),
    <button type="button" className="link show-all" onClick={() => setAll(true)}>
      Show all {items.length} {what}
    </button>,
  ];
}

export function runTone(result: string): string {
  return result === "succeeded" ? "good" : result === "running" ? "busy" : "bad";
}

export { metadataCoverage } from "../../src/policy/report-summary.js";

/** Horizontal bars, one a row, longest first; plain HTML so it reads at any width and to a screen reader. */
export function BarChart({
  title,
  rows,
  tone = "accent",
  limit = 12,
}: {
  title: string;
  rows: { label: string; value: number }[];
  tone?: string;
  limit?: number;
}) {
  const sorted = [...rows].sort((left, right) => right.value - left.value || left.label.localeCompare(right.label));
  const shown = sorted.slice(0, limit);
  const highest = Math.max(1, ...shown.map((row) => row.value));
  return (
    <figure className="bars">
      <figcaption>{title}</figcaption>
      {shown.length === 0 ? <p className="muted">None.</p> : null}
      <dl>
        {shown.map((row) => (
          <div key={row.label} className="bar-row">
            <dt title={row.label}>{row.label}</dt>
            <dd>
              <span className={`bar ${tone}`} style={{ width: `${(row.value / highest) * 100}%` }} />
              <span className="value">{row.value.toLocaleString()}</span>
            </dd>
          </div>
        ))}
      </dl>
      {sorted.length > shown.length ? <p className="muted">and {sorted.length - shown.length} more</p> : null}
    </figure>
  );
}

/** Sums `value` per key: the rows a bar chart takes. */
export function countBy<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => number = () => 1): { label: string; value: number }[] {
  const totals = new Map<string, number>();
  for (const item of items) totals.set(key(item), (totals.get(key(item)) ?? 0) + value(item));
  return [...totals].map(([label, total]) => ({ label, value: total }));
}

/** Saves an API response as a file: the token goes in a header, so a plain link cannot; a refusal is shown beside the button. */
export function DownloadButton({ label, route, fileName }: { label: string; route: string; fileName: string }) {
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    try {
      const response = await fetch(route, { headers: { authorization: `Bearer ${savedToken() ?? ""}` } });
      if (!response.ok)
        throw new ApiError(response.status, ((await response.json().catch(() => ({}))) as { message?: string }).message ?? `HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = fileName;
      link.click();
      URL.revokeObjectURL(url);
      setError(null);
    } catch (failure) {
      setError(`${label} failed: ${(failure as Error).message}`);
    }
  };
  return (
    <>
      <button type="button" onClick={() => void save()}>
        {label}
      </button>
      {error === null ? null : (
        <span role="alert" className="error">
          {error}
        </span>
      )}
    </>
  );
}

/** A labelled form control whose label names only the control, not the options inside it. */
export function Field({ label, className, children }: { label: string; className?: string; children: (id: string) => React.ReactNode }) {
  const id = useId();
  return (
    <div className={`field${className === undefined ? "" : ` ${className}`}`}>
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}

/**
 * Calls `reload` after what the event stream reports (status changes only, or
 * every event of one stack), at most once per `delayMs`, so a busy fleet does
 * not turn into a request per event.
 */
export function useLiveReload(reload: () => void, delayMs: number, stack?: string): void {
  // The subscription follows the latest reload without reopening the event stream each time a filter changes it.
  const latestReload = useRef(reload);
  latestReload.current = reload;
  useEffect(() => {
    const controller = new AbortController();
    let pending: number | undefined;
    subscribe(
      (type) => {
        if ((stack === undefined && type !== "status" && type !== "reconnected") || pending !== undefined) return;
        pending = window.setTimeout(() => {
          pending = undefined;
          latestReload.current();
        }, delayMs);
      },
      controller.signal,
      stack,
    );
    return () => {
      controller.abort();
      window.clearTimeout(pending);
    };
  }, [delayMs, stack]);
}

/** A page's filters from the address (`#/audit?stack=x`), so a filtered view can be shared and survives a reload. */
export function filtersInAddress(): URLSearchParams {
  return new URLSearchParams(window.location.hash.split("?")[1] ?? "");
}

/** Writes a page's filters into the address without a new history entry; empty ones are left out. */
export function keepFiltersInAddress(page: string, filters: Record<string, string>): void {
  const query = new URLSearchParams(Object.entries(filters).filter(([, value]) => value.trim() !== "")).toString();
  window.history.replaceState(null, "", `#${page}${query === "" ? "" : `?${query}`}`);
}

/** `value` once it has stayed the same for `delayMs`: typing asks the server once it pauses. */
export function useSettled<Value>(value: Value, delayMs: number): Value {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setSettled(value), delayMs);
    return () => window.clearTimeout(timer);
  }, [value, delayMs]);
  return settled;
}
