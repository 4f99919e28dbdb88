import { newSigningSecret } from "../../src/ids.ts";
import type { Claim, ClaimRequest, NewEndpoint, Outcome } from "../../src/store/store.ts";

// Building blocks for tests that drive an embedded store directly (no dispatcher).

/** A claim request for up to `limit` deliveries, at most `defaultMaxInFlight` of each endpoint. */
export function claimRequest(
  now: number,
  limit: number,
  options: { room?: Map<string, number>; defaultMaxInFlight?: number } = {},
): ClaimRequest {
  return {
    now,
    limit,
    leaseMs: 60_000,
    excludeEndpoints: [],
    room: options.room ?? new Map(),
    held: new Map(),
    node: "test-node",
    listenersOnly: false,
    defaultMaxInFlight: options.defaultMaxInFlight ?? 10,
  };
}

/** A plain endpoint for `url`: every event type, no rate limit, the default cap and schedule, a new secret. */
export function endpointInput(url: string, more: Partial<NewEndpoint> = {}): NewEndpoint {
  return {
    url,
    description: "",
    eventTypes: null,
    rateLimitPerS: null,
    maxInFlight: null,
    retrySchedule: null,
    secret: newSigningSecret(),
    ...more,
  };
}

/**
 * What one scheduled attempt answered with `statusCode`: retried at `nextAttemptAt`, or final when null.
 * `requestHeaders` are what the attempt log records of the request (none by default).
 */
export function attemptOutcome(
  claim: Claim,
  statusCode: number,
  nextAttemptAt: number | null,
  at: number,
  requestHeaders: Record<string, string> = {},
): Outcome {
  return {
    claim,
    attempt: {
      startedAt: at,
      durationMs: 1,
      statusCode,
      error: null,
      responseSnippet: "",
      requestHeaders,
      trigger: "scheduled",
    },
    status: statusCode < 300 ? "succeeded" : nextAttemptAt === null ? "failed" : "pending",
    scheduledAttempts: 1,
    nextAttemptAt,
    disableEndpoint: statusCode === 410 ? "the receiver answered 410 Gone" : null,
    disableIfFailingSince: null,
    keepSnippets: 10,
  };
}
