import type {
  Attempt,
  CreateEndpointRequest,
  CreateEventRequest,
  Delivery,
  Endpoint,
  HooklineEvent,
  Page,
  UpdateEndpointRequest,
} from "./schemas.ts";

export interface ClientOptions {
  /** An account key (hl_test_… or hl_live_…), or the admin key for accounts. */
  apiKey: string;
  /** Where Hookline's API is (default http://127.0.0.1:8080). */
  baseUrl?: string;
  /** Retries of a safe request after a network error, a 5xx or a 429 (default 3). */
  retries?: number;
  /** Per request, in ms (default 10 s). */
  timeoutMs?: number;
  /** For tests or other runtimes; default the global fetch. */
  fetch?: typeof fetch;
}

/** An answer from the API that is not a success: `status`, and the API's `code` and `message`. */
export class HooklineApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "HooklineApiError";
    this.status = status;
    this.code = code;
  }
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";
type Query = Record<string, string | number | undefined>;

/**
 * The Hookline API for the platform's application.
 *
 * Publishing is safe to retry: an event without an `idempotency_key` gets one
 * here, so the retry of a request whose answer was lost returns the event stored
 * the first time instead of a second one. Reads and deletes are retried too;
 * other changes are not (a lost answer could hide a change that happened).
 */
export class Hookline {
  readonly events;
  readonly endpoints;
  readonly deliveries;
  readonly #options: Required<Omit<ClientOptions, "fetch">> & { fetch: typeof fetch };

  constructor(options: ClientOptions) {
    if (!options.apiKey) throw new TypeError("apiKey is required");
    this.#options = {
      baseUrl: "http://127.0.0.1:8080",
      retries: 3,
      timeoutMs: 10_000,
      ...options,
      fetch: options.fetch ?? globalThis.fetch,
    };
    const call = this.#call.bind(this);
    const id = encodeURIComponent;

    this.events = {
      /** Stores the event and queues its deliveries; resolves once it is durable. */
      create: (event: CreateEventRequest) =>
        call<HooklineEvent>("POST", "/v1/events", { body: withKey(event), retry: true }),
      /** Up to 1,000 events, stored all or nothing. */
      createBatch: (events: CreateEventRequest[]) =>
        call<{ data: HooklineEvent[] }>("POST", "/v1/events/batch", {
          body: { events: events.map(withKey) },
          retry: true,
        }),
      get: (eventId: string) => call<HooklineEvent>("GET", `/v1/events/${id(eventId)}`),
      list: (query: { type?: string; since?: string; until?: string; limit?: number; after?: string } = {}) =>
        call<Page<HooklineEvent>>("GET", "/v1/events", { query }),
      /** A page of the event's deliveries (one per endpoint it went to); follow `next_cursor` for more. */
      deliveries: (eventId: string, query: { limit?: number; after?: string } = {}) =>
        call<Page<Delivery>>("GET", `/v1/events/${id(eventId)}/deliveries`, { query }),
    };

    this.endpoints = {
      create: (endpoint: CreateEndpointRequest) => call<Endpoint>("POST", "/v1/endpoints", { body: endpoint }),
      get: (endpointId: string) => call<Endpoint>("GET", `/v1/endpoints/${id(endpointId)}`),
      list: (query: { limit?: number; after?: string } = {}) => call<Page<Endpoint>>("GET", "/v1/endpoints", { query }),
      update: (endpointId: string, patch: UpdateEndpointRequest) =>
        call<Endpoint>("PATCH", `/v1/endpoints/${id(endpointId)}`, { body: patch }),
      delete: (endpointId: string) => call<null>("DELETE", `/v1/endpoints/${id(endpointId)}`),
      rotateSecret: (endpointId: string) => call<Endpoint>("POST", `/v1/endpoints/${id(endpointId)}/rotate-secret`),
      /** Sends a `webhook.test` event to this endpoint only. */
      sendTest: (endpointId: string) => call<HooklineEvent>("POST", `/v1/endpoints/${id(endpointId)}/test`),
      /** Re-queues the endpoint's failed deliveries created in [since, until). */
      recover: (endpointId: string, window: { since: string; until?: string }) =>
        call<{ recovered: number }>("POST", `/v1/endpoints/${id(endpointId)}/recover`, { body: window }),
    };

    this.deliveries = {
      get: (deliveryId: string) => call<Delivery>("GET", `/v1/deliveries/${id(deliveryId)}`),
      attempts: (deliveryId: string, query: { limit?: number; after?: string } = {}) =>
        call<Page<Attempt>>("GET", `/v1/deliveries/${id(deliveryId)}/attempts`, { query }),
      /** One attempt now; it does not use up the retry schedule. */
      retry: (deliveryId: string) => call<Delivery>("POST", `/v1/deliveries/${id(deliveryId)}/retry`),
    };
  }

  async #call<T>(method: Method, path: string, request: { body?: unknown; query?: Query; retry?: boolean } = {}) {
    const { baseUrl, apiKey, retries, timeoutMs } = this.#options;
    const url = new URL(path, baseUrl);
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const safe = request.retry === true || method === "GET" || method === "DELETE";
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.#options.fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            ...(request.body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        if (safe && attempt < retries) {
          await pause(backoff(attempt));
          continue;
        }
        throw error;
      }
      if (response.ok) return (response.status === 204 ? null : await response.json()) as T;
      // A retried delete whose first try did land finds nothing left to delete: that is success.
      if (method === "DELETE" && attempt > 0 && response.status === 404) {
        await response.body?.cancel();
        return null as T;
      }
      const retryable = response.status >= 500 || response.status === 429;
      if (safe && retryable && attempt < retries) {
        await response.body?.cancel();
        await pause(retryAfter(response) ?? backoff(attempt));
        continue;
      }
      const text = await response.text();
      const error = parseError(text);
      throw new HooklineApiError(
        response.status,
        error?.code ?? "http_error",
        error?.message ?? `HTTP ${response.status}`,
      );
    }
  }
}

/** An event keeps its own idempotency key, or gets a fresh one that its retries reuse. */
function withKey(event: CreateEventRequest): CreateEventRequest {
  return event.idempotency_key ? event : { ...event, idempotency_key: crypto.randomUUID() };
}

/** 200 ms, 400 ms, 800 ms … with ±25% jitter, at most 5 s. */
function backoff(attempt: number): number {
  return Math.min(5000, 200 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
}

function retryAfter(response: Response): number | null {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, 30_000) : null;
}

function pause(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function parseError(text: string): { code: string; message: string } | null {
  try {
    return (JSON.parse(text) as { error?: { code: string; message: string } }).error ?? null;
  } catch {
    return null;
  }
}
