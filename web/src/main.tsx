// The Plumb dashboard: a token login, the stacks table and one stack's page,
// kept current by the event stream. Routes live in the URL's hash so the agent
// serves one static page.

import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { api, ApiError, onReachability, saveSession, savedSession, saveToken, type Session } from "./api.js";
import { AuditPage, CompliancePage } from "./compliance-page.js";
import { DocsPage } from "./docs-page.js";
import { EnvironmentsPage } from "./environments-page.js";
import { NotificationsPage } from "./notifications-page.js";
import { OverviewPage } from "./overview-page.js";
import { StackPage } from "./stack-page.js";
import { StacksPage } from "./stacks-page.js";
import "./styles.css";

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const changed = () => setHash(window.location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return hash;
}

function Login({ onSession }: { onSession: (session: Session) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [singleSignOn, setSingleSignOn] = useState(false);
  useEffect(() => {
    fetch("/auth/config").then(
      async (response) => setSingleSignOn(((await response.json()) as { enabled?: boolean }).enabled === true),
      () => setSingleSignOn(false),
    );
  }, []);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    try {
      const session = await api<Session>("/api/v1/session", { token: token.trim() });
      saveToken(token.trim());
      saveSession(session);
      onSession(session);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? "That token is not valid." : "The agent cannot be reached.");
    }
  };
  return (
    <main className="login">
      <form onSubmit={(event) => void submit(event)} aria-label="Log in">
        <h1>Plumb</h1>
        {singleSignOn ? (
          <p>
            <a className="button" href="/auth/login">
              Sign in with single sign-on
            </a>
          </p>
        ) : null}
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="off" value={token} onChange={(event) => setToken(event.target.value)} autoFocus />
        <p className="hint">
          The agent printed an admin token on its first start; <code>POST /api/v1/tokens</code> makes more.
        </p>
        {error === null ? null : (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={token.trim() === ""}>
          Log in
        </button>
      </form>
    </main>
  );
}

/** Says so while the agent is not answering: the page then shows what it last heard, which may be out of date. */
function ConnectionBanner() {
  const [reachable, setReachable] = useState(true);
  useEffect(() => onReachability(setReachable), []);
  if (reachable) return null;
  return (
    <p role="alert" className="offline">
      The agent is not answering. What this page shows may be out of date; it tries again every few seconds.
    </p>
  );
}

/** Puts the keyboard (and a screen reader) at the start of the page's content. */
function focusMain(): void {
  const main = document.querySelector("main");
  if (main === null) return;
  main.setAttribute("tabindex", "-1");
  main.focus({ preventScroll: true });
}

function App() {
  const hash = useHash();
  const path = hash.replace(/^#/, "").split("?")[0] ?? "";
  // The session seen at login is shown at once and checked again in the background.
  // Without a token, a session cookie from single sign-on may still be there: the server says.
  const [session, setSession] = useState<Session | null | undefined>(() => savedSession() ?? undefined);
  useEffect(() => {
    api<Session>("/api/v1/session").then(
      (current) => {
        saveSession(current);
        setSession(current);
      },
      () => setSession(null),
    );
  }, []);
  // After moving to another page, focus starts at its content, not back on the page's body.
  const signedIn = session !== null && session !== undefined;
  useEffect(() => {
    if (signedIn) focusMain();
  }, [path, signedIn]);
  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <Login onSession={setSession} />;
  const route = path;
  const stack = /^\/stacks\/([^/]+)$/.exec(route)?.[1];
  const pages: Record<string, React.ReactNode> = {
    "/overview": <OverviewPage />,
    "/environments": <EnvironmentsPage />,
    "/docs": <DocsPage />,
    "/compliance": <CompliancePage />,
    "/audit": <AuditPage />,
    "/notifications": <NotificationsPage />,
  };
  const logOut = () => {
    // Sent before the session (and its anti-forgery token) is forgotten here.
    if (session.kind === "user") void api("/auth/logout", { method: "POST" }).catch(() => undefined);
    saveToken(null);
    setSession(null);
  };
  return (
    <>
      <header className="top">
        <a
          href="#main"
          className="skip-link"
          onClick={(event) => {
            // The address holds the page and its filters; skipping moves focus, not the address.
            event.preventDefault();
            focusMain();
          }}
        >
          Skip to content
        </a>
        <a href="#/" className="brand">
          Plumb
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={stack !== undefined || route === "" || route === "/" ? "page" : undefined}>
            Stacks
          </a>
          <a href="#/overview" aria-current={route === "/overview" ? "page" : undefined}>
            Overview
          </a>
          <a href="#/environments" aria-current={route === "/environments" ? "page" : undefined}>
            Environments
          </a>
          <a href="#/compliance" aria-current={route === "/compliance" ? "page" : undefined}>
            Compliance
          </a>
          <a href="#/audit" aria-current={route === "/audit" ? "page" : undefined}>
            Audit
          </a>
          <a href="#/notifications" aria-current={route === "/notifications" ? "page" : undefined}>
            Notifications
          </a>
          <a href="#/docs" aria-current={route === "/docs" ? "page" : undefined}>
            Docs
          </a>
        </nav>
        <span className="who">
          {session.name} <span className="role">{session.role}</span>
          <button type="button" className="link" onClick={logOut}>
            Log out
          </button>
        </span>
      </header>
      <ConnectionBanner />
      {stack !== undefined ? <StackPage name={decodeURIComponent(stack)} session={session} /> : (pages[route] ?? <StacksPage />)}
    </>
  );
}

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
