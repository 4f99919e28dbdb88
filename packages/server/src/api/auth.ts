import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { HooklineError, notFound } from "../errors.ts";
import { hashKey, sameHash } from "../ids.ts";
import type { Environment, Scope, Session, Store } from "../store/store.ts";

/**
 * The dashboard's session cookies (see routes/sessions.ts): the operator's and a
 * portal's are kept apart, so opening a portal link in the operator's browser
 * replaces neither. A request names the one it means with `hookline-session:
 * portal`; a cross-site request cannot send that header, so it never uses the
 * portal cookie (the only one that may be sent cross-site, inside an iframe).
 */
export const SESSION_COOKIES = { admin: "hookline_session", account: "hookline_portal" } as const;

declare module "fastify" {
  interface FastifyContextConfig {
    /** Which key a route needs (`any`: admin or account); routes without it are public (health checks). */
    auth?: "admin" | "account" | "any";
  }
  interface FastifyRequest {
    /** The account and environment of an account key, set before the body is read. */
    scope: Scope | null;
  }
}

const KEY_CACHE_SIZE = 10_000;

/**
 * Checks the key (or the dashboard's session cookie) in `onRequest`, before the
 * body is read or validated: an anonymous caller learns nothing about the schema
 * and costs no parsing.
 */
export function installAuth(app: FastifyInstance, store: Store, adminKeyHash: string, now: () => number): void {
  // Keys never change once made, so what the store said about one can be remembered.
  const known = new Map<string, Scope>();
  const findKey = async (hash: string) => {
    let scope = known.get(hash) ?? null;
    if (!scope) {
      scope = await store.findKey(hash);
      if (scope) {
        if (known.size >= KEY_CACHE_SIZE) known.clear();
        known.set(hash, scope);
      }
    }
    return scope;
  };
  app.decorateRequest("scope", null);
  app.addHook("onRequest", async (request) => {
    const needs = request.routeOptions.config.auth;
    if (!needs) return;
    const sessionId = request.headers.authorization === undefined ? sessionCookie(app, request) : undefined;
    if (sessionId) {
      const session = await liveSession(store, request, sessionId, now(), adminKeyHash);
      request.scope = await sessionScope(store, request, session, needs);
      return;
    }
    const key = bearer(request);
    const hash = hashKey(key);
    const isAdmin = key.startsWith("hl_admin_") && sameHash(hash, adminKeyHash);
    const scope = isAdmin ? null : await findKey(hash);
    if (!isAdmin && !scope) throw unauthorized("the API key is not valid");
    if (needs === "admin" && !isAdmin) {
      throw new HooklineError("forbidden", "this route needs the admin key, not an account key", { status: 403 });
    }
    if (needs === "account" && !scope) {
      throw new HooklineError(
        "wrong_key",
        "this route needs an account key (hl_test_… or hl_live_…), not the admin key",
        {
          status: 403,
        },
      );
    }
    request.scope = scope;
  });
}

/** The session id the browser sent for the session the request names, if any. */
export function sessionCookie(app: FastifyInstance, request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  const kind = request.headers["hookline-session"] === "portal" ? "account" : "admin";
  return header ? app.parseCookie(header)[SESSION_COOKIES[kind]] : undefined;
}

/** The session behind a cookie; any change also needs its CSRF token in `x-csrf-token`. */
export async function liveSession(
  store: Store,
  request: FastifyRequest,
  id: string,
  now: number,
  adminKeyHash: string,
): Promise<Session> {
  const session = await store.findSession(hashKey(id), now);
  // An operator session ends when the admin key it was opened with is replaced.
  const stale = session?.kind === "admin" && session.adminKeyHash !== adminKeyHash;
  if (!session || stale) throw unauthorized("the session has ended; log in again");
  if (request.method !== "GET" && request.method !== "HEAD") {
    const sent = Buffer.from(String(request.headers["x-csrf-token"] ?? ""));
    const expected = Buffer.from(session.csrfToken);
    if (sent.length !== expected.length || !timingSafeEqual(sent, expected)) {
      throw new HooklineError("csrf_token_invalid", "send the session's csrf_token in the x-csrf-token header", {
        status: 403,
      });
    }
  }
  return session;
}

/**
 * What a session may reach. An admin session is the operator: admin routes, and any
 * account named by `hookline-account`. An account session (a portal link) reaches
 * only its own account. Account routes take the environment from `hookline-environment`;
 * a browser cannot send such headers cross-site, which also keeps WebSocket routes safe.
 */
async function sessionScope(
  store: Store,
  request: FastifyRequest,
  session: Session,
  needs: "admin" | "account" | "any",
): Promise<Scope | null> {
  if (session.kind === "admin" && needs !== "account") return null;
  if (session.kind === "account" && needs === "admin") {
    throw new HooklineError("forbidden", "a portal session cannot use operator routes", { status: 403 });
  }
  const environment = request.headers["hookline-environment"];
  if (environment !== "test" && environment !== "live") {
    throw new HooklineError(
      "invalid_request",
      "send the environment in the hookline-environment header (test or live)",
      {
        status: 400,
      },
    );
  }
  let accountId = session.accountId;
  if (session.kind === "admin") {
    const named = request.headers["hookline-account"];
    if (typeof named !== "string" || named === "") {
      throw new HooklineError(
        "invalid_request",
        "an operator session names the account in the hookline-account header",
        {
          status: 400,
        },
      );
    }
    if (!(await store.getAccount(named))) throw notFound("account", named);
    accountId = named;
  }
  return { accountId: accountId as string, environment: environment as Environment };
}

/** The scope of a route configured with `auth: "account"`. */
export function scopeOf(request: FastifyRequest): Scope {
  if (!request.scope) throw new Error(`route ${request.routeOptions.url} is not configured with auth: "account"`);
  return request.scope;
}

function bearer(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw unauthorized("send the API key as `Authorization: Bearer <key>`");
  return match[1] as string;
}

function unauthorized(message: string) {
  return new HooklineError("unauthorized", message, { status: 401, headers: { "www-authenticate": "Bearer" } });
}
