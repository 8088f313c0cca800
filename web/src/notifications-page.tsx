// Notifications: the platform's sinks with how many messages each has in
// every state, and the delivery log — what was sent where, how often the same
// news came again meanwhile, and why a message has not arrived yet.

import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "./api.js";
import { Badge, Field, TableCard, useLiveReload } from "./widgets.js";

interface Notifications {
  sinks: { name: string; type: string; file: string; triggers: string[]; counts: Record<string, number> }[];
  items: {
    id: string;
    sink: string;
    trigger: string;
    stack: string;
    state: string;
    attempts: number;
    repeats: number;
    title: string;
    lastError: string | null;
    createdAt: string;
    deliveredAt: string | null;
    nextAttemptAt: string | null;
  }[];
}

const stateTones: Record<string, string> = { delivered: "good", pending: "warn", failed: "bad" };

export function NotificationsPage() {
  const [answer, setAnswer] = useState<Notifications | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sink, setSink] = useState("");
  // Only the newest request's answer is shown: a slow earlier one (another sink) never replaces it.
  const latest = useRef(0);
  const load = useCallback(() => {
    const request = ++latest.current;
    api<Notifications>(`/api/v1/notifications?limit=200${sink === "" ? "" : `&sink=${encodeURIComponent(sink)}`}`).then(
      (result) => {
        if (request !== latest.current) return;
        setAnswer(result);
        setError(null);
      },
      (failure: Error) => {
        if (request === latest.current) setError(failure.message);
      },
    );
  }, [sink]);
  useEffect(load, [load]);
  useLiveReload(load, 2000);
  return (
    <main>
      <h1>Notifications</h1>
      <p className="muted">
        Where the platform&apos;s news goes (NotificationSink documents) and what was sent. A repeat of the same news within a sink&apos;s window is counted on
        the first message instead of sent again.
      </p>
      {error === null ? null : (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {answer === null ? (
        error === null ? (
          <p className="loading">Loading…</p>
        ) : null
      ) : (
        <>
          <TableCard title="Sinks" headings={["Sink", "Type", "Triggers", "Messages"]}>
            {answer.sinks.map((item) => (
              <tr key={item.name}>
                <th scope="row" title={item.file}>
                  {item.name}
                </th>
                <td>{item.type}</td>
                <td>{item.triggers.join(", ")}</td>
                <td>
                  {Object.entries(item.counts).length === 0
                    ? "none yet"
                    : Object.entries(item.counts).map(([state, count]) => (
                        <Badge key={state} tone={stateTones[state] ?? "muted"}>
                          {count} {state}
                        </Badge>
                      ))}
                </td>
              </tr>
            ))}
          </TableCard>
          <form className="filters" role="search" onSubmit={(event) => event.preventDefault()}>
            <Field label="Sink">
              {(id) => (
                <select id={id} value={sink} onChange={(event) => setSink(event.target.value)}>
                  <option value="">all</option>
                  {answer.sinks.map((item) => (
                    <option key={item.name} value={item.name}>
                      {item.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </form>
          <TableCard title="Delivery log" headings={["When", "Sink", "State", "Trigger", "Stack", "Message", "Attempts"]}>
            {answer.items.map((item) => (
              <tr key={item.id}>
                <td>{new Date(item.createdAt).toLocaleString()}</td>
                <td>{item.sink}</td>
                <td>
                  <Badge tone={stateTones[item.state] ?? "muted"}>{item.state}</Badge>
                </td>
                <td>{item.trigger}</td>
                <td>{item.stack.startsWith("(") ? item.stack : <a href={`#/stacks/${encodeURIComponent(item.stack)}`}>{item.stack}</a>}</td>
                <td>
                  {item.title}
                  {item.repeats > 0 ? <span className="muted"> (and {item.repeats} repeat(s) not sent)</span> : null}
                  {item.lastError === null ? null : <div className="error">{item.lastError}</div>}
                </td>
                <td>
                  {item.attempts}
                  {item.nextAttemptAt === null ? null : <div className="muted">next {new Date(item.nextAttemptAt).toLocaleTimeString()}</div>}
                </td>
              </tr>
            ))}
          </TableCard>
        </>
      )}
    </main>
  );
}
