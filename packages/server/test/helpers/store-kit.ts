import type { Claim, ClaimRequest, Outcome } from "../../src/store/store.ts";

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

/** What one scheduled attempt answered with `statusCode`: retried at `nextAttemptAt`, or final when null. */
export function attemptOutcome(claim: Claim, statusCode: number, nextAttemptAt: number | null, at: number): Outcome {
  return {
    claim,
    attempt: {
      startedAt: at,
      durationMs: 1,
      statusCode,
      error: null,
      responseSnippet: "",
      requestHeaders: {},
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
