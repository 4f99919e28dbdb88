import type { DatabaseSync } from "node:sqlite";
import type { Row } from "../rows.ts";
import { type Attempt, type EndpointStats, type Scope, STATS_COUNT_CAP } from "../store.ts";
import { prepareAll } from "./database.ts";

const HOUR_MS = 3_600_000;
const STATS_KEPT_MS = 8 * 24 * HOUR_MS;

/**
 * Per-endpoint hourly attempt figures for the dashboard's health charts: added up
 * as outcomes are recorded (one upsert per endpoint per commit), so reading a
 * week of health never scans attempts.
 */
export function endpointStatsQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    endpoint: "SELECT id FROM endpoints WHERE id = ? AND account_id = ? AND environment = ?",
    // One past the cap, so "more than the cap" can be told from "exactly the cap".
    pending: `SELECT count(*) AS n FROM (SELECT 1 FROM deliveries WHERE endpoint_id = ? AND due_at IS NOT NULL
      LIMIT ${STATS_COUNT_CAP + 1})`,
    failed: `SELECT count(*) AS n FROM (SELECT 1 FROM deliveries WHERE endpoint_id = ? AND status = 'failed'
      LIMIT ${STATS_COUNT_CAP + 1})`,
    hours: `SELECT hour, attempts, succeeded, duration_ms FROM endpoint_stats
      WHERE endpoint_id = ? AND hour >= ? ORDER BY hour`,
    last: `SELECT last_at, last_ok, last_status_code, last_error FROM endpoint_stats
      WHERE endpoint_id = ? ORDER BY hour DESC LIMIT 1`,
    add: `INSERT INTO endpoint_stats (endpoint_id, hour, attempts, succeeded, duration_ms, last_at, last_ok,
        last_status_code, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (endpoint_id, hour) DO UPDATE SET attempts = attempts + excluded.attempts,
        succeeded = succeeded + excluded.succeeded, duration_ms = duration_ms + excluded.duration_ms,
        last_at = excluded.last_at, last_ok = excluded.last_ok, last_status_code = excluded.last_status_code,
        last_error = excluded.last_error
      RETURNING attempts`,
    // Health looks 7 days back; older hours go when an endpoint starts a new one.
    prune: "DELETE FROM endpoint_stats WHERE endpoint_id = ? AND hour < ?",
    forget: "DELETE FROM endpoint_stats WHERE endpoint_id = ?",
  });

  return {
    /** Adds up the attempts recorded in one commit, then writes one row per endpoint. */
    tally(now: number) {
      const hour = Math.floor(now / HOUR_MS) * HOUR_MS;
      type Last = { ok: number; status: number | null; error: string | null };
      const byEndpoint = new Map<string, { attempts: number; succeeded: number; durationMs: number; last: Last }>();
      return {
        count(endpointId: string, attempt: Omit<Attempt, "id" | "deliveryId">) {
          const ok = attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
          const sum = byEndpoint.get(endpointId) ?? {
            attempts: 0,
            succeeded: 0,
            durationMs: 0,
            last: { ok: 0, status: null, error: null },
          };
          sum.attempts++;
          if (ok) sum.succeeded++;
          sum.durationMs += attempt.durationMs;
          sum.last = { ok: ok ? 1 : 0, status: attempt.statusCode, error: attempt.error };
          byEndpoint.set(endpointId, sum);
        },
        write() {
          for (const [endpointId, sum] of byEndpoint) {
            const { last } = sum;
            const row = sql.add.get(
              endpointId,
              hour,
              sum.attempts,
              sum.succeeded,
              sum.durationMs,
              now,
              last.ok,
              last.status,
              last.error,
            ) as Row;
            // A new hour's first row: drop the endpoint's hours older than health looks back.
            if (row.attempts === sum.attempts) sql.prune.run(endpointId, hour - STATS_KEPT_MS);
          }
        },
      };
    },
    forgetEndpointStats(endpointId: string) {
      sql.forget.run(endpointId);
    },
    async endpointStats(scope: Scope, id: string, since: number): Promise<EndpointStats | null> {
      if (!sql.endpoint.get(id, scope.accountId, scope.environment)) return null;
      const last = sql.last.get(id) as Row | undefined;
      return {
        pending: Number((sql.pending.get(id) as Row).n),
        failed: Number((sql.failed.get(id) as Row).n),
        hours: (sql.hours.all(id, since) as Row[]).map((row) => ({
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
    },
  };
}

export type EndpointStatsQueries = ReturnType<typeof endpointStatsQueries>;
