import type { Attempt } from "./store.ts";

const HOUR_MS = 3_600_000;

/** Health looks 7 days back; an endpoint's hours older than this are dropped when it starts a new one. */
export const STATS_KEPT_MS = 8 * 24 * HOUR_MS;

/** One endpoint's attempts recorded in one commit, as one `endpoint_stats` upsert. */
export interface HourTally {
  endpointId: string;
  hour: number;
  attempts: number;
  succeeded: number;
  durationMs: number;
  lastOk: 0 | 1;
  lastStatusCode: number | null;
  lastError: string | null;
}

/**
 * Adds up the attempts one commit records, per endpoint, for the health figures:
 * both backends write the result as one row per endpoint and hour.
 */
export function tallyAttempts(now: number) {
  const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
  const byEndpoint = new Map<string, HourTally>();
  return {
    count(endpointId: string, attempt: Omit<Attempt, "id" | "deliveryId">) {
      const ok = attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
      const sum = byEndpoint.get(endpointId) ?? {
        endpointId,
        hour,
        attempts: 0,
        succeeded: 0,
        durationMs: 0,
        lastOk: 0,
        lastStatusCode: null,
        lastError: null,
      };
      sum.attempts++;
      if (ok) sum.succeeded++;
      sum.durationMs += attempt.durationMs;
      sum.lastOk = ok ? 1 : 0;
      sum.lastStatusCode = attempt.statusCode;
      sum.lastError = attempt.error;
      byEndpoint.set(endpointId, sum);
    },
    tallies(): Iterable<HourTally> {
      return byEndpoint.values();
    },
  };
}

/** A tally's values in the order both backends' `endpoint_stats` upserts bind them. */
export function upsertValues(t: HourTally, now: number) {
  return [t.endpointId, t.hour, t.attempts, t.succeeded, t.durationMs, now, t.lastOk, t.lastStatusCode, t.lastError];
}
