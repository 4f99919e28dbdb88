import { toMetricsSnapshot } from "../rows.ts";
import { DISABLED_BY_REQUEST, METRICS_COUNT_CAP, type MetricsSnapshot } from "../store.ts";
import type { Database } from "./database.ts";
import { DUE_ENDPOINTS } from "./queue.ts";

/** A scrape's query gives up after this long, so a slow database never holds a pool connection for long. */
const STATEMENT_TIMEOUT_MS = 2000;

/**
 * The figures /metrics reads on a scrape, as in the SQLite store: each count walks
 * at most one past METRICS_COUNT_CAP entries of a partial index.
 */
export function metricsSnapshotQueries(db: Database) {
  return {
    async metricsSnapshot(now: number): Promise<MetricsSnapshot> {
      const row = await db.transaction(async (tx) => {
        await tx.run(`SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`);
        return tx.get(
          `SELECT
            (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE due_at IS NOT NULL LIMIT $2) q) AS queued,
            (SELECT count(*) FROM (SELECT 1 FROM (${DUE_ENDPOINTS}) q JOIN endpoints e ON e.id = q.id
                JOIN deliveries d ON d.endpoint_id = e.id
              WHERE e.enabled = 1 AND d.due_at IS NOT NULL AND d.due_at <= $1
              LIMIT $2) d) AS due,
            (SELECT min(q.due_at) FROM (${DUE_ENDPOINTS}) q JOIN endpoints e ON e.id = q.id
              WHERE e.enabled = 1) AS oldest_due_at,
            count(*) AS total, count(*) FILTER (WHERE disabled_reason = $3) AS by_request
          FROM (SELECT disabled_reason FROM endpoints WHERE enabled = 0 LIMIT $2) disabled`,
          [now, METRICS_COUNT_CAP + 1, DISABLED_BY_REQUEST],
        );
      });
      return toMetricsSnapshot(row ?? {});
    },
  };
}
