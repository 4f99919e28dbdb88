import type { DatabaseSync } from "node:sqlite";
import { prepareAll } from "./database.ts";

/**
 * The delivery queue's summary: `endpoints.next_due_at` is the `due_at` of the
 * endpoint's oldest queued delivery. Every write that moves a `due_at` keeps it
 * true, in the same transaction, so claims look at endpoints first and then
 * take each one's oldest deliveries from the (endpoint_id, due_at) index.
 */
export function queueSummary(db: DatabaseSync) {
  const sql = prepareAll(db, {
    refresh: `UPDATE endpoints SET next_due_at =
      (SELECT min(due_at) FROM deliveries WHERE endpoint_id = ?1 AND due_at IS NOT NULL) WHERE id = ?1`,
    dueBy: "UPDATE endpoints SET next_due_at = ?2 WHERE id = ?1 AND (next_due_at IS NULL OR next_due_at > ?2)",
    failPending: `UPDATE deliveries SET status = 'failed', due_at = NULL, next_attempt_at = NULL, last_error = ?,
      updated_at = ? WHERE endpoint_id = ? AND due_at IS NOT NULL AND status IN ('pending', 'delivering')`,
  });

  return {
    /** Recomputes the endpoints' next due time from their deliveries (one index probe each). */
    refresh(endpointIds: Iterable<string>) {
      for (const id of endpointIds) sql.refresh.run(id);
    },
    /** The endpoint has a delivery due at `at`: move its next due time earlier if needed. */
    dueBy(endpointId: string, at: number) {
      sql.dueBy.run(endpointId, at);
    },
    /**
     * Disabling an endpoint fails what was waiting for it, claimed or not; `recover`
     * brings those back. An attempt already running keeps its claim token, so its
     * real outcome is still recorded.
     */
    failPending(endpointId: string, reason: string, now: number) {
      sql.failPending.run(reason, now, endpointId);
      sql.refresh.run(endpointId);
    },
  };
}

export type QueueSummary = ReturnType<typeof queueSummary>;
