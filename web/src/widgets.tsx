// Small pieces the pages share: condition badges and a button that asks first.

import { useState } from "react";
import type { Condition, StackSummary } from "./api.js";

export function conditionOf(stack: StackSummary, type: string): Condition | undefined {
  return stack.conditions.find((condition) => condition.type === type);
}

/** One word for a stack's state, and the colour class that goes with it. */
export function stackState(stack: StackSummary): { label: string; tone: string } {
  if (stack.suspended) return { label: "Suspended", tone: "muted" };
  if (conditionOf(stack, "Stalled")?.status === "True") return { label: "Stalled", tone: "bad" };
  if (conditionOf(stack, "Degraded")?.status === "True") return { label: "Degraded", tone: "bad" };
  if (conditionOf(stack, "Reconciling")?.status === "True") return { label: "Reconciling", tone: "busy" };
  const ready = conditionOf(stack, "Ready");
  if (ready?.status === "True") return { label: "Ready", tone: "good" };
  if (ready?.reason === "Drifted") return { label: "Drifted", tone: "warn" };
  return { label: ready?.reason || "Unknown", tone: "muted" };
}

export function Badge({ tone, children, title }: { tone: string; children: React.ReactNode; title?: string }) {
  return (
    <span className={`badge ${tone}`} title={title}>
      {children}
    </span>
  );
}

export function ConfirmButton({ label, question, onConfirm, disabled }: { label: string; question: string; onConfirm: () => Promise<void>; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!asking) {
    return (
      <button type="button" disabled={disabled === true || busy} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button
        type="button"
        className="primary"
        autoFocus
        onClick={() => {
          setBusy(true);
          setAsking(false);
          void onConfirm().finally(() => setBusy(false));
        }}
      >
        Yes, {label.toLowerCase()}
      </button>
      <button type="button" onClick={() => setAsking(false)}>
        Cancel
      </button>
    </span>
  );
}

export function shortRevision(revision: string | null): string {
  return revision === null ? "—" : revision.slice(0, 12);
}

/** A card holding a scrollable table with column headings. */
export function TableCard({ title, headings, children }: { title?: string; headings: string[]; children: React.ReactNode }) {
  return (
    <section className="card">
      {title === undefined ? null : <h2>{title}</h2>}
      <div className="scroll">
        <table>
          <thead><tr>{headings.map((heading) => <th key={heading} scope="col">{heading}</th>)}</tr></thead>
          <tbody>{Array.isArray(children) && children.length === 0 ? <tr><td colSpan={headings.length} className="muted">None.</td></tr> : children}</tbody>
        </table>
      </div>
    </section>
  );
}
