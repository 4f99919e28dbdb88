import type { DatabaseSync } from "node:sqlite";
import { STATS_KEPT_MS, tallyAttempts, upsertValues } from "../attempt-tally.ts";
import { type Row, toEndpointStats } from "../rows.ts";
import { type EndpointStats, type Scope, STATS_COUNT_CAP } from "../store.ts";
import { prepareAll } from "./database.ts";

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
    prune: "DELETE FROM endpoint_stats WHERE endpoint_id = ? AND hour < ?",
    forget: "DELETE FROM endpoint_stats WHERE endpoint_id = ?",
  });

  return {
    /** Adds up the attempts recorded in one commit, then writes one row per endpoint. */
    tally(now: number) {
      const tally = tallyAttempts(now);
      return {
        count: tally.count,
        write() {
          for (const t of tally.tallies()) {
            const row = sql.add.get(...upsertValues(t, now)) as Row;
            // A new hour's first row: drop the endpoint's hours older than health looks back.
            if (row.attempts === t.attempts) sql.prune.run(t.endpointId, t.hour - STATS_KEPT_MS);
          }
        },
      };
    },
    forgetEndpointStats(endpointId: string) {
      sql.forget.run(endpointId);
    },
    async endpointStats(scope: Scope, id: string, since: number): Promise<EndpointStats | null> {
      if (!sql.endpoint.get(id, scope.accountId, scope.environment)) return null;
      const counts = { pending: Number((sql.pending.get(id) as Row).n), failed: Number((sql.failed.get(id) as Row).n) };
      return toEndpointStats(counts, sql.hours.all(id, since) as Row[], sql.last.get(id) as Row | undefined);
    },
  };
}

export type EndpointStatsQueries = ReturnType<typeof endpointStatsQueries>;
