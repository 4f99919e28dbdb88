import type { DatabaseSync } from "node:sqlite";
import { type Row, toMetricsSnapshot } from "../rows.ts";
import { DISABLED_BY_REQUEST, METRICS_COUNT_CAP, type MetricsSnapshot } from "../store.ts";
import { prepareAll } from "./database.ts";

/**
 * The figures /metrics reads on a scrape. Each count walks at most one past
 * METRICS_COUNT_CAP entries of a partial index, so a huge backlog costs a
 * scrape a few milliseconds, never a scan of the table.
 */
export function metricsSnapshotQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    // deliveries_queue holds exactly the queued deliveries.
    queued: `SELECT count(*) AS n FROM (SELECT 1 FROM deliveries WHERE due_at IS NOT NULL LIMIT ${METRICS_COUNT_CAP + 1})`,
    // Due endpoints first (endpoints_due), then each one's due range of deliveries_queue.
    due: `SELECT count(*) AS n FROM (SELECT 1 FROM endpoints e JOIN deliveries d ON d.endpoint_id = e.id
      WHERE e.next_due_at IS NOT NULL AND e.next_due_at <= ?1 AND e.enabled = 1
        AND d.due_at IS NOT NULL AND d.due_at <= ?1
      LIMIT ${METRICS_COUNT_CAP + 1})`,
    oldest: `SELECT min(next_due_at) AS at FROM endpoints
      WHERE next_due_at IS NOT NULL AND next_due_at <= ? AND enabled = 1`,
    disabled: `SELECT count(*) AS total, coalesce(sum(disabled_reason = ?), 0) AS by_request
      FROM (SELECT disabled_reason FROM endpoints WHERE enabled = 0 LIMIT ${METRICS_COUNT_CAP + 1})`,
  });

  return {
    async metricsSnapshot(now: number): Promise<MetricsSnapshot> {
      return toMetricsSnapshot({
        queued: (sql.queued.get() as Row).n ?? 0,
        due: (sql.due.get(now) as Row).n ?? 0,
        oldest_due_at: (sql.oldest.get(now) as Row).at ?? null,
        ...(sql.disabled.get(DISABLED_BY_REQUEST) as Row),
      });
    },
  };
}
