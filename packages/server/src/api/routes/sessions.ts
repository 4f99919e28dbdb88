import type { CookieSerializeOptions } from "@fastify/cookie";
import { HooklineError, notFound } from "../../errors.ts";
import { hashKey, randomToken, sameHash } from "../../ids.ts";
import type { Session, Theme } from "../../store/store.ts";
import { liveSession, SESSION_COOKIES, sessionCookie } from "../auth.ts";
import type { Api, ApiContext } from "../context.ts";
import { errorResponse, noContent } from "../openapi.ts";
import { CreateSessionBody, IdParams, PortalLinkBody, PortalLinkResponse, SessionResponse } from "../schemas.ts";
import { iso } from "../serialize.ts";

const SESSION_MS = 12 * 3_600_000;
const DEFAULT_PORTAL_LINK_S = 900;

/**
 * The dashboard's logins. The admin key makes an operator session; a portal link
 * (made by the operator for one account) makes an account session, once. Either
 * way the browser holds only an HttpOnly cookie; the CSRF token it must echo on
 * changes is in the JSON, kept in the page's memory.
 */
export function registerSessionRoutes(app: Api, { store, adminKeyHash, config, now }: ApiContext): void {
  // Hookline serves plain http; behind a TLS proxy, the public URL says users come in over https.
  const secure = config.publicUrl?.startsWith("https:") ?? false;
  const noSession = errorResponse("`unauthorized`: no session cookie, or the session has ended");
  app.post(
    "/v1/sessions",
    {
      schema: {
        summary: "Log in to the dashboard",
        description:
          "With the admin key (an operator session) or a portal link's one-time token (a session for that account). Sets the session as an HttpOnly cookie; the answer's `csrf_token` must be sent in `x-csrf-token` with every change made with it.",
        body: CreateSessionBody,
        response: {
          201: SessionResponse,
          401: errorResponse(
            "`invalid_credentials`: the admin key or portal token is not valid, has expired or was used",
          ),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      let session: Session;
      const at = now();
      const base = { csrfToken: randomToken(32), createdAt: at, expiresAt: at + SESSION_MS };
      if ("admin_key" in body) {
        const valid = body.admin_key.startsWith("hl_admin_") && sameHash(hashKey(body.admin_key), adminKeyHash);
        if (!valid) throw invalidCredentials("the admin key is not valid");
        session = { ...base, kind: "admin", accountId: null, adminKeyHash, theme: null };
      } else {
        const link = await store.usePortalLink(hashKey(body.portal_token), at);
        if (!link) throw invalidCredentials("the portal link is not valid, has expired or was already used");
        session = { ...base, kind: "account", accountId: link.accountId, adminKeyHash: null, theme: link.theme };
      }
      // Always a new id: a session id planted before login is never promoted (no fixation).
      const id = randomToken(40);
      await store.createSession(hashKey(id), session);
      reply.setCookie(SESSION_COOKIES[session.kind], id, cookieOptions(session, secure));
      return reply.code(201).send(await sessionJson(store, session));
    },
  );

  app.get(
    "/v1/session",
    {
      schema: {
        summary: "The current dashboard session",
        security: [{ operatorSession: [] }, { portalSession: [] }],
        response: { 200: SessionResponse, 401: noSession },
      },
    },
    async (request) => {
      const id = sessionCookie(app, request);
      if (!id) throw new HooklineError("unauthorized", "no session: log in first", { status: 401 });
      return sessionJson(store, await liveSession(store, request, id, now(), adminKeyHash));
    },
  );

  app.delete(
    "/v1/session",
    {
      schema: {
        summary: "Log out of the dashboard",
        security: [
          { operatorSession: [], csrfToken: [] },
          { portalSession: [], csrfToken: [] },
        ],
        response: {
          204: noContent("Logged out: the session is deleted and its cookie cleared"),
          401: noSession,
          403: errorResponse("`csrf_token_invalid`: the session's CSRF token was not sent in `x-csrf-token`"),
        },
      },
    },
    async (request, reply) => {
      const id = sessionCookie(app, request);
      if (!id) throw new HooklineError("unauthorized", "no session: log in first", { status: 401 });
      const session = await liveSession(store, request, id, now(), adminKeyHash);
      await store.deleteSession(hashKey(id));
      reply.clearCookie(SESSION_COOKIES[session.kind], cookieOptions(session, secure));
      return reply.code(204).send();
    },
  );

  app.post(
    "/v1/accounts/:id/portal-link",
    {
      config: { auth: "admin" },
      schema: {
        summary: "Make a portal link for an account",
        description:
          "A short-lived, one-time URL (15 minutes by default) that opens the dashboard scoped to this account, optionally branded (`theme`). The body may be left out.",
        params: IdParams,
        body: PortalLinkBody,
        response: { 201: PortalLinkResponse },
      },
      // Every field is optional, so no body at all is fine too.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request, reply) => {
      const account = await store.getAccount(request.params.id);
      if (!account) throw notFound("account", request.params.id);
      const body = request.body;
      const at = now();
      const expiresAt = at + (body.expires_in_s ?? DEFAULT_PORTAL_LINK_S) * 1000;
      const theme: Theme | null = body.theme
        ? {
            productName: body.theme.product_name ?? null,
            accentColor: body.theme.accent_color ?? null,
            logoUrl: body.theme.logo_url ?? null,
          }
        : null;
      const token = `plt_${randomToken(40)}`;
      await store.createPortalLink(hashKey(token), { accountId: account.id, theme, expiresAt }, at);
      const origin = config.publicUrl ?? `${request.protocol}://${request.host}`;
      // In the fragment: never sent to a server, so never in access logs or Referer headers.
      return reply.code(201).send({ url: `${origin}/portal#${token}`, expires_at: iso(expiresAt) });
    },
  );
}

/**
 * HttpOnly always, Secure over https. The operator's session is SameSite=Strict. A
 * portal session lives in an iframe of another site, where only SameSite=None
 * (Secure, and Partitioned for browsers that block third-party cookies) reaches it;
 * that needs https. CSRF stays blocked by the x-csrf-token header either way.
 */
function cookieOptions(session: Session, secure: boolean): CookieSerializeOptions {
  const common = {
    httpOnly: true,
    path: "/",
    secure,
    maxAge: Math.round((session.expiresAt - session.createdAt) / 1000),
  };
  if (session.kind === "account" && secure) return { ...common, sameSite: "none", partitioned: true };
  return { ...common, sameSite: session.kind === "admin" ? "strict" : "lax" };
}

async function sessionJson(store: ApiContext["store"], session: Session) {
  const account = session.accountId === null ? null : await store.getAccount(session.accountId);
  const theme = session.theme;
  return {
    kind: session.kind,
    account: account && { id: account.id, name: account.name },
    csrf_token: session.csrfToken,
    expires_at: iso(session.expiresAt),
    theme: theme && { product_name: theme.productName, accent_color: theme.accentColor, logo_url: theme.logoUrl },
  };
}

function invalidCredentials(message: string) {
  return new HooklineError("invalid_credentials", message, { status: 401 });
}
