// The dashboard's only way to data: the public REST API and its event stream,
// with the token the user logged in with (kept in this browser until the user
// logs out, so a stack opened in a new tab does not ask again).

// The server's own schemas and list order: one definition, never a copy.
import type { StackSummary } from "../../src/api/schemas.js";
import { stackStates, type StackState } from "../../src/api/stack-list.js";

export type { StackSummary };
export type Condition = StackSummary["conditions"][number];
/** In the order the server sorts them by: what needs a person first. */
export { stackStates };
export type StackStateWord = StackState;

import type { AuditEntry, ClaimItem, PlanChange, ResourceItem, RunItem, Session, StackList } from "../../src/api/response-schemas.js";
/** GET /api/v1/compliance: what the server's report builder returns. */
import type { ComplianceReport, ComplianceSummary } from "../../src/policy/report-schema.js";

export type { AuditEntry, ClaimItem, ComplianceReport, ComplianceSummary, PlanChange, ResourceItem, RunItem, Session, StackList };

/** One of a stack's events (GET /api/v1/stacks/:stack/events). */
export interface StackEvent {
  id: number;
  createdAt: string;
  type: string;
  message: string;
  address: string | null;
}

const tokenKey = "plumb.token";

export function savedToken(): string | null {
  return localStorage.getItem(tokenKey);
}

export function saveToken(token: string | null): void {
  if (token === null) {
    localStorage.removeItem(tokenKey);
    localStorage.removeItem(sessionKey);
  } else localStorage.setItem(tokenKey, token);
}

const sessionKey = "plumb.session";

export function savedSession(): Session | null {
  const text = localStorage.getItem(sessionKey);
  return text === null ? null : (JSON.parse(text) as Session);
}

export function saveSession(session: Session): void {
  localStorage.setItem(sessionKey, JSON.stringify(session));
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The credentials of a request: the token logged in with, else the session
 * cookie of single sign-on (the browser sends it) with its anti-forgery token
 * on anything that changes something.
 */
function credentials(method: string, token: string | null): Record<string, string> {
  if (token !== null) return { authorization: `Bearer ${token}` };
  const csrf = savedSession()?.csrfToken;
  return method === "GET" || csrf === undefined ? {} : { "x-csrf-token": csrf };
}

/** Whether the agent answered the last request: the page says so when it stops answering, and what it shows may be out of date. */
let reachable = true;
const reachabilityListeners = new Set<(reachable: boolean) => void>();

function noteReachable(answered: boolean): void {
  if (answered === reachable) return;
  reachable = answered;
  for (const listener of reachabilityListeners) listener(answered);
}

/** Calls `listener` whenever the agent stops or starts answering; returns the unsubscribe. */
export function onReachability(listener: (reachable: boolean) => void): () => void {
  reachabilityListeners.add(listener);
  listener(reachable);
  return () => reachabilityListeners.delete(listener);
}

// A proxy in front of the agent answers these when the agent is gone.
const agentGone = new Set([502, 503, 504]);

export async function api<Result>(route: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<Result> {
  const method = init.method ?? "GET";
  let response: Response;
  try {
    response = await fetch(route, {
      method,
      headers: { ...credentials(method, init.token ?? savedToken()), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  } catch {
    noteReachable(false);
    throw new ApiError(0, "The agent is not answering; try again once it is back.");
  }
  noteReachable(!agentGone.has(response.status));
  const text = await response.text();
  const parsed = text === "" ? undefined : (JSON.parse(text) as unknown);
  if (!response.ok) throw new ApiError(response.status, (parsed as { message?: string } | undefined)?.message ?? `HTTP ${response.status}`);
  return parsed as Result;
}

/**
 * The server-sent event stream, read with fetch so the token travels in a
 * header (EventSource cannot send one). Calls `onEvent` for each message and
 * reconnects after a pause until `signal` aborts.
 */
export function subscribe(onEvent: (type: string, data: unknown) => void, signal: AbortSignal, stack?: string): void {
  let lostConnection = false;
  const connect = async () => {
    while (!signal.aborted) {
      try {
        const response = await fetch(`/api/v1/events${stack === undefined ? "" : `?stack=${encodeURIComponent(stack)}`}`, {
          headers: credentials("GET", savedToken()),
          signal,
        });
        noteReachable(response.ok || !agentGone.has(response.status));
        // Back after a break: whatever changed meanwhile was not streamed, so the page reloads what it shows.
        if (lostConnection) onEvent("reconnected", null);
        lostConnection = false;
        const reader = (response.body as ReadableStream<Uint8Array>).getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.*)$/m.exec(message)?.[1];
            const data = /^data: (.*)$/m.exec(message)?.[1];
            if (type !== undefined && data !== undefined) onEvent(type, JSON.parse(data) as unknown);
          }
        }
        // The agent ended the stream (it is shutting down): what happens until the next connection is not seen.
        lostConnection = true;
      } catch {
        // Dropped or aborted; wait and connect again unless aborted.
        if (!signal.aborted) {
          lostConnection = true;
          noteReachable(false);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  void connect();
}

/** Only http(s) links: a repository URL from Git may say javascript: or data:. */
export function safeHref(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** A link to a commit for hosts whose URL layout is known (GitHub, GitLab, Gitea/Forgejo). */
export function commitHref(repo: string | undefined, revision: string | null): string | undefined {
  const base = safeHref(repo?.replace(/\.git$/, ""));
  if (base === undefined || revision === null || !/^[0-9a-f]{7,64}$/.test(revision)) return undefined;
  return `${base}${/gitlab/.test(base) ? "/-" : ""}/commit/${revision}`;
}
