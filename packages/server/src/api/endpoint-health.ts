import { type EndpointHour, type EndpointStats, STATS_COUNT_CAP } from "../store/store.ts";
import { iso } from "./serialize.ts";

const HOUR_MS = 3_600_000;

/** The hours a health answer covers: the current one and the 167 before it (7 days). */
export function healthSince(now: number): number {
  return currentHour(now) - 167 * HOUR_MS;
}

/**
 * `GET /v1/endpoints/{id}/stats` from the store's hourly rows: totals over 24 h and
 * 7 days, and chart series of 24 hourly and 28 six-hour buckets ending with the
 * current hour (empty buckets included, so a chart needs no gap logic).
 */
export function endpointHealthJson(endpointId: string, stats: EndpointStats, now: number) {
  const hour = currentHour(now);
  return {
    endpoint_id: endpointId,
    counts: { pending: stats.pending, failed: stats.failed },
    counts_capped_at: STATS_COUNT_CAP,
    windows: {
      "24h": windowJson(stats.hours, hour - 23 * HOUR_MS, hour + HOUR_MS),
      "7d": windowJson(stats.hours, hour - 167 * HOUR_MS, hour + HOUR_MS),
    },
    series: {
      "24h": buckets(stats.hours, hour - 23 * HOUR_MS, 24, HOUR_MS),
      "7d": buckets(stats.hours, hour - 167 * HOUR_MS, 28, 6 * HOUR_MS),
    },
    last_attempt: stats.last && {
      at: iso(stats.last.at),
      ok: stats.last.ok,
      status_code: stats.last.statusCode,
      error: stats.last.error,
    },
  };
}

function currentHour(now: number): number {
  return Math.floor(now / HOUR_MS) * HOUR_MS;
}

function sum(hours: EndpointHour[], from: number, to: number) {
  let attempts = 0;
  let succeeded = 0;
  let durationMs = 0;
  for (const h of hours) {
    if (h.hour < from || h.hour >= to) continue;
    attempts += h.attempts;
    succeeded += h.succeeded;
    durationMs += h.durationMs;
  }
  return { attempts, succeeded, avg_duration_ms: attempts ? Math.round(durationMs / attempts) : null };
}

function windowJson(hours: EndpointHour[], from: number, to: number) {
  const { attempts, succeeded, avg_duration_ms } = sum(hours, from, to);
  const success_rate = attempts ? Math.round((succeeded / attempts) * 1000) / 1000 : null;
  return { attempts, succeeded, success_rate, avg_duration_ms };
}

function buckets(hours: EndpointHour[], from: number, count: number, size: number) {
  return Array.from({ length: count }, (_, i) => {
    const start = from + i * size;
    return { start: iso(start) as string, ...sum(hours, start, start + size) };
  });
}
