import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, rememberSession, setUnauthorizedHandler } from "./api.ts";
import type { Session } from "./api-types.ts";
import { AppHeader } from "./components/app-header.tsx";
import { ErrorBoundary } from "./components/error-boundary.tsx";
import { ErrorText } from "./components/messages.tsx";
import { Redirect } from "./components/redirect.tsx";
import { AccountView } from "./pages/account-view.tsx";
import { AccountsPage } from "./pages/accounts-page.tsx";
import { LoginPage } from "./pages/login-page.tsx";
import { NotFoundPage } from "./pages/not-found-page.tsx";
import { PortalEndedPage } from "./pages/portal-ended-page.tsx";
import { navigate, useLocationPath } from "./router.ts";
import { parseRoute, type Route } from "./routes.ts";
import { SessionContext, type SessionControls } from "./session.ts";
import { applyTheme, resolveTheme } from "./theme.ts";

type SessionState =
  | { status: "checking" }
  | { status: "failed"; error: Error }
  | { status: "none" }
  | { status: "active"; session: Session };

const PORTAL_HOME = "/portal/test/endpoints";

const isPortalRoute = (route: Route) =>
  route.page === "portal-entry" || (route.page === "account" && route.base.accountId === null);

/** `portalToken`: from a portal link's fragment; it is exchanged for a session instead of checking for one. */
export function App({ portalToken }: { portalToken: string | null }) {
  const path = useLocationPath();
  const route = parseRoute(path.split("?")[0] ?? "/");
  const [state, setState] = useState<SessionState>({ status: "checking" });
  // A portal token works once: keep the one exchange across StrictMode's repeated effects.
  const portalExchange = useRef<Promise<Session> | null>(null);

  const startSession = useCallback((session: Session) => {
    rememberSession(session);
    setState({ status: "active", session });
  }, []);

  const endSession = useCallback(() => {
    rememberSession(null);
    setState({ status: "none" });
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(endSession);
    let cancelled = false;
    if (portalToken) portalExchange.current ??= api.logInWithPortalToken(portalToken);
    const sessionAnswer = portalExchange.current ?? api.getSession();
    sessionAnswer.then(
      (session) => {
        if (cancelled) return;
        startSession(session);
        if (portalToken) navigate(PORTAL_HOME, { replace: true });
      },
      (error: unknown) => {
        if (cancelled) return;
        // For a portal link, 401 means the link is unknown, expired or used: the entry page says so.
        if (error instanceof ApiError && error.status === 401) endSession();
        else setState({ status: "failed", error: error instanceof Error ? error : new Error(String(error)) });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [portalToken, startSession, endSession]);

  const session = state.status === "active" ? state.session : null;
  const theme = useMemo(() => resolveTheme(session?.kind === "account" ? session.theme : null), [session]);
  useEffect(() => applyTheme(theme), [theme]);

  const controls = useMemo<SessionControls | null>(
    () =>
      session && {
        session,
        logOut: async () => {
          try {
            await api.logOut();
          } catch (error) {
            // Already ended on the server: logged out all the same.
            if (!(error instanceof ApiError && error.status === 401)) throw error;
          }
          endSession();
          if (session.kind === "admin") navigate("/login");
        },
      },
    [session, endSession],
  );

  return (
    <SessionContext value={controls}>
      <AppHeader theme={theme} />
      <main className="container">
        <ErrorBoundary key={path}>{renderPage(route, state, startSession)}</ErrorBoundary>
      </main>
    </SessionContext>
  );
}

function renderPage(route: Route, state: SessionState, startSession: (session: Session) => void) {
  if (state.status === "checking") return <p className="muted">Loading…</p>;
  if (state.status === "failed") return <ErrorText error={state.error} />;
  if (route.page === "login") {
    if (state.status === "active" && state.session.kind === "admin") return <Redirect to="/" />;
    return <LoginPage onSession={startSession} />;
  }
  if (state.status === "none") {
    if (route.page === "portal-entry") return <PortalEndedPage reason="invalid-link" />;
    if (isPortalRoute(route)) return <PortalEndedPage reason="ended" />;
    return <Redirect to="/login" />;
  }
  const session = state.session;
  if (route.page === "not-found") return <NotFoundPage />;
  if (session.kind === "account") {
    return isPortalRoute(route) && route.page === "account" ? (
      <AccountView base={route.base} section={route.section} />
    ) : (
      <Redirect to={PORTAL_HOME} />
    );
  }
  if (route.page === "accounts") return <AccountsPage />;
  if (route.page === "account" && route.base.accountId !== null) {
    return <AccountView base={route.base} section={route.section} />;
  }
  return <Redirect to="/" />;
}
