import type { Outcome } from "./store.ts";

/**
 * What the worker decided for an outcome's delivery, shared by both backends. The store
 * applies it only while the delivery is still `delivering` under that claim. One failed (its
 * endpoint disabled), cancelled (deleted) or queued again (retried, recovered) while the attempt
 * ran keeps that state: the attempt is logged, and only an acknowledgement changes the delivery.
 * The last error is the transport error or, for a non-2xx answer, `http_<status>`.
 */
export function decidedState(outcome: Outcome) {
  const { statusCode, error } = outcome.attempt;
  return {
    status: outcome.status,
    nextAttemptAt: outcome.nextAttemptAt,
    lastError: error ?? (statusCode !== null && statusCode >= 300 ? `http_${statusCode}` : null),
  };
}

/** How one settle's recorded outcomes change an endpoint's failure streak. */
export interface Streak {
  /** The last outcome succeeded: the streak ends. */
  ok: boolean;
  /** The first failure of the streak within this settle. */
  since: number;
  /** A success came earlier in this settle: the stored streak start is out of date. */
  restarted: boolean;
  /** Disable when the stored streak started at or before this (from the last failure); null: never. */
  disableIfSince: number | null;
}

/** Endpoint by endpoint, in id order. */
export function failureStreaks(recorded: Outcome[]): Map<string, Streak> {
  const streaks = new Map<string, Streak>();
  for (const outcome of recorded) {
    const id = outcome.claim.endpointId;
    const before = streaks.get(id);
    if (outcome.status === "succeeded") {
      streaks.set(id, { ok: true, since: 0, restarted: false, disableIfSince: null });
    } else if (!before || before.ok) {
      const restarted = before?.ok === true;
      streaks.set(id, {
        ok: false,
        since: outcome.attempt.startedAt,
        restarted,
        disableIfSince: outcome.disableIfFailingSince,
      });
    } else {
      before.disableIfSince = outcome.disableIfFailingSince;
    }
  }
  return new Map([...streaks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The disabled reason of an endpoint that kept failing. */
export function failingReason(failingSince: number, now: number): string {
  return `every attempt failed for ${span(now - failingSince)}, since ${new Date(failingSince).toISOString()}`;
}

function span(ms: number): string {
  for (const [unit, size] of [
    ["day", 86_400_000],
    ["hour", 3_600_000],
    ["minute", 60_000],
  ] as const) {
    if (ms >= size) {
      const count = Math.floor(ms / size);
      return `${count} ${unit}${count === 1 ? "" : "s"}`;
    }
  }
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}
