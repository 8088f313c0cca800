// A resource's desired-vs-live diff: the differing fields (drift marked), both
// whole objects side by side, and the resource's own events; it takes the
// focus when opened and gives it back when closed.

import { useEffect, useRef, useState } from "react";
import { api, type PlanChange, type StackEvent } from "./api.js";
import { Badge } from "./widgets.js";

/** The whole object on both sides: the spec applied last (secrets as references) and the live object read now (secret values hidden). */
function Manifests({ stack, address }: { stack: string; address: string }) {
  const [manifest, setManifest] = useState<{ desired: unknown; live: unknown } | string | null>(null);
  useEffect(() => {
    let current = true;
    setManifest(null);
    api<{ desired: unknown; live: unknown }>(`/api/v1/stacks/${encodeURIComponent(stack)}/manifest?address=${encodeURIComponent(address)}`).then(
      (answer) => current && setManifest(answer),
      (failure: Error) => current && setManifest(failure.message),
    );
    return () => {
      current = false;
    };
  }, [stack, address]);
  if (manifest === null) return <p className="loading">Loading the manifests…</p>;
  if (typeof manifest === "string")
    return (
      <p role="alert" className="error">
        {manifest}
      </p>
    );
  return (
    <div className="manifests">
      <section aria-label="Desired manifest">
        <h3>Desired (applied last)</h3>
        <pre tabIndex={0}>{JSON.stringify(manifest.desired, null, 2)}</pre>
      </section>
      <section aria-label="Live manifest">
        <h3>Live (read now)</h3>
        <pre tabIndex={0}>{manifest.live === null ? "(does not exist)" : JSON.stringify(manifest.live, null, 2)}</pre>
      </section>
    </div>
  );
}

export function DiffPanel({
  stack,
  address,
  changes,
  events,
  onClose,
}: {
  stack: string;
  address: string;
  changes: PlanChange[] | null;
  /** This resource's own events, newest first. */
  events: StackEvent[];
  onClose: () => void;
}) {
  const change = changes?.find((item) => item.address === address);
  const panel = useRef<HTMLElement>(null);
  // Opening a diff brings it into view and puts the focus on it; closing puts the focus back on the resource's Diff button.
  useEffect(() => {
    panel.current?.scrollIntoView({ block: "nearest" });
    panel.current?.focus({ preventScroll: true });
  }, [address]);
  const close = () => {
    onClose();
    const opener =
      document.querySelector<HTMLElement>(`button[aria-label="${CSS.escape(`Diff of ${address}`)}"]`) ??
      document.querySelector<SVGGElement>(`.graph [data-address="${CSS.escape(address)}"]`);
    opener?.focus();
  };
  return (
    <section
      ref={panel}
      tabIndex={-1}
      className="card diff"
      aria-label={`Diff of ${address}`}
      onKeyDown={(event) => {
        if (event.key === "Escape") close();
      }}
    >
      <header>
        <h2>
          Desired vs live: <code>{address}</code>
        </h2>
        <button type="button" onClick={close}>
          Close
        </button>
      </header>
      {changes === null ? (
        <p>Loading…</p>
      ) : change === undefined ? (
        <p className="good-text">In sync: live matches what Git declares.</p>
      ) : (
        <>
          <p>
            {change.action}: {change.reason}
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Live</th>
                <th scope="col">Desired</th>
              </tr>
            </thead>
            <tbody>
              {change.diffs.map((diff) => (
                <tr key={diff.path}>
                  <td>
                    <code>{diff.path}</code>
                    {diff.drift ? <Badge tone="warn">drift</Badge> : null}
                  </td>
                  <td>
                    <code>{diff.before === undefined ? "(absent)" : JSON.stringify(diff.before)}</code>
                  </td>
                  <td>
                    <code>{diff.after === undefined ? "(absent)" : JSON.stringify(diff.after)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <Manifests stack={stack} address={address} />
      <h3>Events of this resource</h3>
      {events.length === 0 ? (
        <p className="muted">None recently.</p>
      ) : (
        <ul className="events">
          {events.map((event) => (
            <li key={event.id}>
              <time>{new Date(event.createdAt).toLocaleString()}</time> <span className="kind">{event.type}</span> {event.message}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
