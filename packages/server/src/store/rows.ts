import type {
  Account,
  Attempt,
  AttemptError,
  Claim,
  Delivery,
  DeliveryStatus,
  DisabledEndpoint,
  Endpoint,
  EndpointKind,
  EndpointSecrets,
  EndpointStats,
  Environment,
  EventRecord,
  EventTypeRecord,
  MetricsSnapshot,
  Session,
  Theme,
} from "./store.ts";

/**
 * Rows as both backends return them (the same column names and types: text, integer
 * milliseconds, 0/1 flags, JSON as text), and the records the store interface gives.
 */
export type Row = Record<string, string | number | null>;

export function toAccount(row: Row): Account {
  return { id: String(row.id), name: String(row.name), createdAt: Number(row.created_at) };
}

/** A claim from a delivery row joined with its endpoint's row (and the event's body). */
export function toClaim(row: Row, claimToken: string, now: number, leaseUntil: number, sendAt = now): Claim {
  const secrets = [String(row.secret)];
  if (row.previous_secret !== null && Number(row.previous_secret_expires_at) > now) {
    secrets.push(String(row.previous_secret));
  }
  return {
    deliveryId: String(row.id),
    claimToken,
    eventId: String(row.event_id),
    body: String(row.body),
    endpointId: String(row.endpoint_id),
    environment: row.environment as Environment,
    kind: row.kind as EndpointKind,
    url: String(row.url),
    secrets,
    retrySchedule: row.retry_schedule === null ? null : JSON.parse(String(row.retry_schedule)),
    maxInFlight: row.max_in_flight === null ? null : Number(row.max_in_flight),
    rateLimitPerS: row.rate_limit_per_s === null ? null : Number(row.rate_limit_per_s),
    sendAt,
    scheduledAttempts: Number(row.scheduled_attempts),
    leaseUntil,
    nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at),
    manual: row.manual === 1,
  };
}

/** The operator's record of an endpoint just disabled, from its row. */
export function disabledEndpoint(row: Row, reason: string, at: number): DisabledEndpoint {
  return {
    endpointId: String(row.id),
    accountId: String(row.account_id),
    environment: row.environment as Environment,
    url: String(row.url),
    reason,
    failingSince: row.failing_since === null ? null : Number(row.failing_since),
    at,
  };
}

/** A LIKE pattern for secrets sealed under master key `keyId` (hex: no LIKE wildcards in it). */
export function sealedPrefix(keyId: string): string {
  return `hlenc:v1:${keyId}:%`;
}

/** A disable whose system event is still to be recorded. */
export function toDisabledNotice(row: Row): DisabledEndpoint {
  return disabledEndpoint(row, String(row.disabled_reason), Number(row.disabled_notice_at));
}

export function toEndpointSecrets(row: Row): EndpointSecrets {
  return {
    id: String(row.id),
    secret: String(row.secret),
    previousSecret: row.previous_secret === null ? null : String(row.previous_secret),
  };
}

export function toDelivery(row: Row): Delivery {
  return {
    id: String(row.id),
    eventId: String(row.event_id),
    endpointId: String(row.endpoint_id),
    status: row.status as DeliveryStatus,
    attemptCount: Number(row.attempt_count),
    scheduledAttempts: Number(row.scheduled_attempts),
    nextAttemptAt: row.next_attempt_at === null ? null : Number(row.next_attempt_at),
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error === null ? null : String(row.last_error),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toAttempt(row: Row): Attempt {
  return {
    id: String(row.id),
    deliveryId: String(row.delivery_id),
    startedAt: Number(row.started_at),
    durationMs: Number(row.duration_ms),
    statusCode: row.status_code === null ? null : Number(row.status_code),
    error: row.error as AttemptError | null,
    responseSnippet: row.response_snippet === null ? null : String(row.response_snippet),
    requestHeaders: JSON.parse(String(row.request_headers)),
    trigger: row.trigger as "scheduled" | "manual",
  };
}

export function toEndpoint(row: Row): Endpoint {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    environment: row.environment as Environment,
    kind: row.kind as EndpointKind,
    url: String(row.url),
    description: String(row.description),
    eventTypes: row.event_types === null ? null : JSON.parse(String(row.event_types)),
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason === null ? null : String(row.disabled_reason),
    secret: String(row.secret),
    previousSecret: row.previous_secret === null ? null : String(row.previous_secret),
    previousSecretExpiresAt: row.previous_secret_expires_at === null ? null : Number(row.previous_secret_expires_at),
    rateLimitPerS: row.rate_limit_per_s === null ? null : Number(row.rate_limit_per_s),
    maxInFlight: row.max_in_flight === null ? null : Number(row.max_in_flight),
    retrySchedule: row.retry_schedule === null ? null : JSON.parse(String(row.retry_schedule)),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function json(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

export function toEventType(row: Row): EventTypeRecord {
  return {
    name: String(row.name),
    description: String(row.description),
    schema: row.schema === null ? null : JSON.parse(String(row.schema)),
    example: JSON.parse(String(row.example)),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function toEvent(row: Row): EventRecord {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    environment: row.environment as Environment,
    type: String(row.type),
    body: String(row.body),
    idempotencyKey: row.idempotency_key === null ? null : String(row.idempotency_key),
    createdAt: Number(row.created_at),
  };
}

export function toTheme(value: Row[string] | undefined): Theme | null {
  return value === null || value === undefined ? null : (JSON.parse(String(value)) as Theme);
}

export function themeText(theme: Theme | null): string | null {
  return theme === null ? null : JSON.stringify(theme);
}

export function toSession(row: Row): Session {
  return {
    kind: row.kind as Session["kind"],
    accountId: row.account_id === null ? null : String(row.account_id),
    adminKeyHash: row.admin_key_hash === null ? null : String(row.admin_key_hash),
    csrfToken: String(row.csrf_token),
    theme: toTheme(row.theme),
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** An endpoint's health from its counts, its hourly rows and its latest row's last attempt. */
export function toEndpointStats(
  counts: { pending: number; failed: number },
  hours: Row[],
  last: Row | undefined,
): EndpointStats {
  return {
    ...counts,
    hours: hours.map((row) => ({
      hour: Number(row.hour),
      attempts: Number(row.attempts),
      succeeded: Number(row.succeeded),
      durationMs: Number(row.duration_ms),
    })),
    last: last
      ? {
          at: Number(last.last_at),
          ok: last.last_ok === 1,
          statusCode: last.last_status_code === null ? null : Number(last.last_status_code),
          error: last.last_error === null ? null : String(last.last_error),
        }
      : null,
  };
}

/** The metrics figures, from the same columns in both backends (counts, and disabled endpoints in all). */
export function toMetricsSnapshot(row: Row): MetricsSnapshot {
  const total = Number(row.total ?? 0);
  const byRequest = Number(row.by_request ?? 0);
  return {
    queued: Number(row.queued ?? 0),
    due: Number(row.due ?? 0),
    oldestDueAt: row.oldest_due_at === null || row.oldest_due_at === undefined ? null : Number(row.oldest_due_at),
    disabledEndpoints: { byRequest, automatic: total - byRequest },
  };
}
