import type { AttemptError, Claim, Outcome } from "../store/store.ts";
import { nextAttempt } from "./retry-schedule.ts";

/** What one HTTP attempt produced; a failed delivery is data, not an exception. */
export interface AttemptResult {
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  error: AttemptError | null;
  responseSnippet: string | null;
  requestHeaders: Record<string, string>;
  /** Parsed Retry-After of a 429 or 503, in ms. */
  retryAfterMs: number | null;
}

/**
 * Decides where a delivery goes after an attempt. Only a 2xx acknowledges.
 * A manual retry does not use up the schedule: on failure the delivery keeps
 * the scheduled attempt it had, or stays failed if it had none.
 */
export function decideOutcome(
  claim: Claim,
  result: AttemptResult,
  now: number,
  rules: { retrySchedule: readonly number[]; disableAfterMs: number; keepSnippets: number },
  random: () => number,
): Outcome {
  const attempt = {
    ...result,
    // From a receiver or a listener alike, NUL goes the way of invalid bytes (U+FFFD):
    // PostgreSQL's text refuses it, and with it the whole batch of outcomes.
    responseSnippet: result.responseSnippet?.replaceAll("\u0000", "\uFFFD") ?? null,
    trigger: claim.manual ? ("manual" as const) : ("scheduled" as const),
  };
  const scheduledAttempts = claim.scheduledAttempts + (claim.manual ? 0 : 1);
  const { deliveryId, claimToken, endpointId } = claim;
  const base = {
    claim: { deliveryId, claimToken, endpointId },
    attempt,
    scheduledAttempts,
    disableEndpoint: null,
    disableIfFailingSince: result.startedAt - rules.disableAfterMs,
    keepSnippets: rules.keepSnippets,
  };
  const code = result.statusCode;
  if (code !== null && code >= 200 && code < 300) {
    return { ...base, status: "succeeded", nextAttemptAt: null, disableIfFailingSince: null };
  }
  if (code === 410) {
    return {
      ...base,
      status: "failed",
      nextAttemptAt: null,
      disableEndpoint: "the receiver answered 410 Gone, which asks for no more deliveries",
      disableIfFailingSince: null,
    };
  }
  if (claim.manual) {
    return claim.nextAttemptAt === null
      ? { ...base, status: "failed", nextAttemptAt: null }
      : { ...base, status: "pending", nextAttemptAt: claim.nextAttemptAt };
  }
  const schedule = claim.retrySchedule ?? rules.retrySchedule;
  const next = nextAttempt(schedule, scheduledAttempts, random, result.retryAfterMs);
  return next === null
    ? { ...base, status: "failed", nextAttemptAt: null }
    : {
        ...base,
        status: "pending",
        nextAttemptAt: now + next.delayMs,
        scheduledAttempts: scheduledAttempts + next.skipped,
      };
}
