// A sync's dry run on the stack page: what a sync (of every resource, or of
// the ones chosen) would change now, asked of the agent and applied nowhere.

import { useEffect, useRef } from "react";
import type { PlanChange } from "./api.js";
import { Badge, shortRevision } from "./widgets.js";

export interface SyncPreviewAnswer {
  revision: string;
  summary: Record<string, number>;
  warnings: string[];
  changes: PlanChange[];
  /** The resources the dry run was limited to; null for all. */
  chosen: string[] | null;
}

const actionTone: Record<string, string> = { create: "good", update: "warn", replace: "bad", delete: "bad", orphan: "muted" };

function shown(value: unknown): string {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}

export function SyncPreview({ preview, onClose }: { preview: SyncPreviewAnswer | string; onClose: () => void }) {
  const panel = useRef<HTMLElement>(null);
  useEffect(() => {
    panel.current?.scrollIntoView({ block: "nearest" });
    panel.current?.focus({ preventScroll: true });
  }, [preview]);
  return (
    <section
      ref={panel}
      tabIndex={-1}
      className="card preview"
      aria-label="Dry run"
      onKeyDown={(event) => {
        if (event.key === "Escape") onClose();
      }}
    >
      <header>
        <h2>Dry run{typeof preview === "string" || preview.chosen === null ? "" : ` of ${preview.chosen.length} chosen resource(s)`}</h2>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </header>
      {typeof preview === "string" ? (
        <p role="alert" className="error">
          {preview}
        </p>
      ) : (
        <>
          <p>
            A sync now would apply <code>{shortRevision(preview.revision)}</code>:{" "}
            {preview.changes.length === 0
              ? "nothing to change."
              : `${(["create", "update", "replace", "delete", "orphan"] as const)
                  .filter((action) => (preview.summary[action] ?? 0) > 0)
                  .map((action) => `${preview.summary[action]} ${action}`)
                  .join(", ")}.`}{" "}
            Nothing has been applied.
          </p>
          {preview.warnings.map((warning) => (
            <p key={warning} className="message warn-text">
              {warning}
            </p>
          ))}
          <ul className="preview-changes">
            {preview.changes.map((change) => (
              <li key={change.address}>
                <Badge tone={actionTone[change.action] ?? "muted"}>{change.action}</Badge> <code>{change.address}</code>{" "}
                <span className="muted">{change.reason}</span>
                {change.diffs.length === 0 ? null : (
                  <ul>
                    {change.diffs.map((diff) => (
                      <li key={diff.path}>
                        <code>{diff.path}</code>: {shown(diff.before)} → {shown(diff.after)}
                      </li>
                    ))}
                  </ul>
                )}
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
