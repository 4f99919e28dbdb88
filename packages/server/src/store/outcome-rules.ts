import type { Outcome } from "./store.ts";

/**
 * What an outcome writes to its delivery, shared by both backends: an endpoint
 * disabled or deleted meanwhile gets no further attempts, and the last error is the
 * transport error or, for a non-2xx answer, `http_<status>`.
 */
export function recordedState(outcome: Outcome, endpointEnabled: boolean) {
  const stops = outcome.status === "pending" && !endpointEnabled;
  const { statusCode, error } = outcome.attempt;
  return {
    status: stops ? ("failed" as const) : outcome.status,
    nextAttemptAt: stops ? null : outcome.nextAttemptAt,
    lastError: error ?? (statusCode !== null && statusCode >= 300 ? `http_${statusCode}` : null),
  };
}
