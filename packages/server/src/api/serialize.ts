import { formatRetrySchedule } from "../delivery/retry-schedule.ts";
import type { Account, Attempt, Delivery, Endpoint, EventList } from "../store/store.ts";

/** The API's shapes: snake_case, ISO times. Kept in one place so every route agrees. */

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function accountJson(account: Account) {
  return { id: account.id, name: account.name, created_at: iso(account.createdAt) };
}

export function endpointJson(endpoint: Endpoint) {
  return {
    id: endpoint.id,
    environment: endpoint.environment,
    kind: endpoint.kind,
    url: endpoint.url,
    description: endpoint.description,
    event_types: endpoint.eventTypes,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabledReason,
    secret: endpoint.secret,
    previous_secret_expires_at: iso(endpoint.previousSecretExpiresAt),
    rate_limit_per_s: endpoint.rateLimitPerS,
    max_in_flight: endpoint.maxInFlight,
    retry_schedule: endpoint.retrySchedule && formatRetrySchedule(endpoint.retrySchedule),
    created_at: iso(endpoint.createdAt),
    updated_at: iso(endpoint.updatedAt),
  };
}

/**
 * A page of events as JSON text. Events are shown as their stored bytes, so the
 * API shows exactly what receivers get and nothing is parsed to list them.
 */
export function eventPageJson({ events, resumeBefore }: EventList, limit: number): string {
  const more = events.length > limit;
  const shown = more ? events.slice(0, limit) : events;
  const cursor = JSON.stringify(more ? shown.at(-1)?.id : resumeBefore);
  return `{"data":[${shown.map((e) => e.body).join(",")}],"next_cursor":${cursor}}`;
}

/**
 * JSON text sent as it is: Fastify writes a string with a JSON content type
 * unchanged. Typed as the value the text holds, which the route's response schema documents.
 */
export function jsonText<T>(text: string): T {
  return text as unknown as T;
}

/** `maxScheduledAttempts`: 1 + the retries of the delivery's endpoint's schedule. */
export function deliveryJson(delivery: Delivery, maxScheduledAttempts: number) {
  return {
    id: delivery.id,
    event_id: delivery.eventId,
    endpoint_id: delivery.endpointId,
    status: delivery.status,
    attempt_count: delivery.attemptCount,
    scheduled_attempts: delivery.scheduledAttempts,
    max_scheduled_attempts: maxScheduledAttempts,
    next_attempt_at: iso(delivery.nextAttemptAt),
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    created_at: iso(delivery.createdAt),
    updated_at: iso(delivery.updatedAt),
  };
}

export function attemptJson(attempt: Attempt) {
  return {
    id: attempt.id,
    delivery_id: attempt.deliveryId,
    started_at: iso(attempt.startedAt),
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error: attempt.error,
    response_snippet: attempt.responseSnippet,
    request_headers: attempt.requestHeaders,
    trigger: attempt.trigger,
  };
}

/** A page of items with the cursor for the next one (null on the last page). */
export function pageJson<T extends { id: string }, J>(items: T[], limit: number, toJson: (item: T) => J) {
  const more = items.length > limit;
  const shown = more ? items.slice(0, limit) : items;
  return { data: shown.map(toJson), next_cursor: more ? (shown.at(-1)?.id ?? null) : null };
}
