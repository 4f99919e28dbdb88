import type {
  Account,
  Attempt,
  CreatedAccount,
  Delivery,
  Endpoint,
  EndpointChanges,
  EndpointStats,
  Environment,
  EventFilters,
  EventType,
  HooklineEvent,
  Page,
  PortalLink,
  PortalLinkOptions,
  Session,
} from "./api-types.ts";

/** An answer of `{"error":{"code","message"}}`, or a failure to get any answer. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** Which account and environment account routes act on (the account only for an admin session). */
export interface Scope {
  accountId: string | null;
  environment: Environment;
}

// The CSRF token lives in memory only: a reload asks the server for it again (GET /v1/session).
let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function rememberSession(session: Session | null): void {
  csrfToken = session?.csrf_token ?? null;
}

/** Called when a request answers 401 outside a login: the session has ended. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

interface RequestOptions {
  body?: unknown;
  scope?: Scope;
  query?: Record<string, string | undefined>;
  signal?: AbortSignal;
  /** Logins and the session check: a 401 means no session (yet), which the caller handles. */
  expectUnauthorized?: boolean;
}

async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  // The operator's and a portal's sessions are separate cookies; the pages under /portal use the portal's.
  headers["hookline-session"] = window.location.pathname.startsWith("/portal") ? "portal" : "operator";
  if (options.scope) {
    headers["hookline-environment"] = options.scope.environment;
    if (options.scope.accountId) headers["hookline-account"] = options.scope.accountId;
  }
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(options.query ?? {})) if (value) query.set(name, value);
  const url = query.size > 0 ? `${path}?${query}` : path;

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, "network_error", "Could not reach the Hookline server. Check your connection.");
  }
  if (response.status === 204) return undefined as T;
  const payload: unknown = await response.json().catch(() => null);
  if (response.ok) {
    if (payload === null)
      throw new ApiError(response.status, "invalid_response", "The server sent an unreadable answer.");
    return payload as T;
  }
  if (response.status === 401 && !options.expectUnauthorized) onUnauthorized();
  const error = (payload as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  throw new ApiError(
    response.status,
    typeof error?.code === "string" ? error.code : "http_error",
    typeof error?.message === "string" ? error.message : `The server answered ${response.status}.`,
  );
}

const segment = encodeURIComponent;

export const api = {
  getSession: (signal?: AbortSignal) => request<Session>("GET", "/v1/session", { signal, expectUnauthorized: true }),
  logInWithAdminKey: (adminKey: string) =>
    request<Session>("POST", "/v1/sessions", { body: { admin_key: adminKey }, expectUnauthorized: true }),
  logInWithPortalToken: (portalToken: string) =>
    request<Session>("POST", "/v1/sessions", { body: { portal_token: portalToken }, expectUnauthorized: true }),
  logOut: () => request<void>("DELETE", "/v1/session"),

  listAccounts: (after: string | undefined, signal?: AbortSignal) =>
    request<Page<Account>>("GET", "/v1/accounts", { query: { after }, signal }),
  getAccount: (id: string, signal?: AbortSignal) => request<Account>("GET", `/v1/accounts/${segment(id)}`, { signal }),
  createAccount: (name: string) => request<CreatedAccount>("POST", "/v1/accounts", { body: { name } }),
  createPortalLink: (accountId: string, options: PortalLinkOptions) =>
    request<PortalLink>("POST", `/v1/accounts/${segment(accountId)}/portal-link`, { body: options }),

  listEventTypes: (scope: Scope, signal?: AbortSignal) =>
    request<{ data: EventType[] }>("GET", "/v1/event-types", { scope, signal }),

  listEndpoints: (scope: Scope, after: string | undefined, signal?: AbortSignal) =>
    request<Page<Endpoint>>("GET", "/v1/endpoints", { scope, query: { after, limit: "250" }, signal }),
  getEndpoint: (scope: Scope, id: string, signal?: AbortSignal) =>
    request<Endpoint>("GET", `/v1/endpoints/${segment(id)}`, { scope, signal }),
  createEndpoint: (scope: Scope, fields: EndpointChanges & { url: string }) =>
    request<Endpoint>("POST", "/v1/endpoints", { scope, body: fields }),
  updateEndpoint: (scope: Scope, id: string, changes: EndpointChanges) =>
    request<Endpoint>("PATCH", `/v1/endpoints/${segment(id)}`, { scope, body: changes }),
  deleteEndpoint: (scope: Scope, id: string) => request<void>("DELETE", `/v1/endpoints/${segment(id)}`, { scope }),
  rotateSecret: (scope: Scope, id: string) =>
    request<Endpoint>("POST", `/v1/endpoints/${segment(id)}/rotate-secret`, { scope }),
  sendTestEvent: (scope: Scope, id: string) =>
    request<HooklineEvent>("POST", `/v1/endpoints/${segment(id)}/test`, { scope }),
  recoverFailed: (scope: Scope, id: string, since: string) =>
    request<{ recovered: number }>("POST", `/v1/endpoints/${segment(id)}/recover`, { scope, body: { since } }),
  getEndpointStats: (scope: Scope, id: string, signal?: AbortSignal) =>
    request<EndpointStats>("GET", `/v1/endpoints/${segment(id)}/stats`, { scope, signal }),

  listEvents: (scope: Scope, filters: EventFilters, after: string | undefined, signal?: AbortSignal) =>
    request<Page<HooklineEvent>>("GET", "/v1/events", { scope, query: { ...filters, after }, signal }),
  getEvent: (scope: Scope, id: string, signal?: AbortSignal) =>
    request<HooklineEvent>("GET", `/v1/events/${segment(id)}`, { scope, signal }),
  listEventDeliveries: (scope: Scope, eventId: string, after: string | undefined, signal?: AbortSignal) =>
    request<Page<Delivery>>("GET", `/v1/events/${segment(eventId)}/deliveries`, {
      scope,
      query: { after },
      signal,
    }),

  listAttempts: (scope: Scope, deliveryId: string, after: string | undefined, signal?: AbortSignal) =>
    request<Page<Attempt>>("GET", `/v1/deliveries/${segment(deliveryId)}/attempts`, {
      scope,
      query: { after, limit: "250" },
      signal,
    }),
  retryDelivery: (scope: Scope, deliveryId: string) =>
    request<Delivery>("POST", `/v1/deliveries/${segment(deliveryId)}/retry`, { scope }),
};

/** Every page of a list, following `next_cursor`. */
export async function allPages<T>(loadPage: (after: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let after: string | undefined;
  do {
    const page = await loadPage(after);
    items.push(...page.data);
    after = page.next_cursor ?? undefined;
  } while (after);
  return items;
}
