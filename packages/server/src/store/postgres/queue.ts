import { capOf, sharedRoom } from "../claim-rules.ts";
import type { Row } from "../rows.ts";
import type { ClaimRequest } from "../store.ts";
import type { Sql } from "./database.ts";

/**
 * The delivery queue's summary, as in the SQLite store: `endpoints.next_due_at` is
 * the `due_at` of the endpoint's oldest queued delivery, kept true by every write
 * that moves a `due_at`, in the same transaction.
 */
export const queue = {
  /**
   * Recomputes the endpoints' next due time from their deliveries (one index probe each).
   * The row is locked first and the minimum read by a later statement: computed in the
   * same statement, it would come from a snapshot taken before a concurrent writer's
   * deliveries committed, and overwrite the time they set.
   */
  async refresh(tx: Sql, endpointIds: Iterable<string>) {
    for (const id of [...endpointIds].sort()) {
      await tx.run("SELECT 1 FROM endpoints WHERE id = $1 FOR NO KEY UPDATE", [id]);
      await tx.run(
        `UPDATE endpoints SET next_due_at =
          (SELECT min(due_at) FROM deliveries WHERE endpoint_id = $1 AND due_at IS NOT NULL) WHERE id = $1`,
        [id],
      );
    }
  },
  /**
   * The endpoint has a delivery due at `at`: move its next due time earlier if needed,
   * and wake the workers if that is already now (deliveries leased at ingest are due
   * only when their lease ends). It always writes the row, so it holds the row's lock
   * until commit and a concurrent refresh recomputes after this transaction's deliveries exist.
   */
  async dueBy(tx: Sql, endpointId: string, at: number, now: number) {
    await tx.run("UPDATE endpoints SET next_due_at = LEAST(COALESCE(next_due_at, $2), $2) WHERE id = $1", [
      endpointId,
      at,
    ]);
    if (at <= now) await tx.notifyDue();
  },
  /** Disabling an endpoint fails what was waiting for it, claimed or not; `recover` brings those back. */
  async failPending(tx: Sql, endpointId: string, reason: string, now: number) {
    await tx.run(
      `UPDATE deliveries SET status = 'failed', due_at = NULL, next_attempt_at = NULL, last_error = $1,
        updated_at = $2 WHERE endpoint_id = $3 AND due_at IS NOT NULL AND status IN ('pending', 'delivering')`,
      [reason, now, endpointId],
    );
    await queue.refresh(tx, [endpointId]);
  },
};

/**
 * How many more claims `request`'s process may take on an endpoint whose row this
 * transaction has locked: its own policy, narrowed by the unexpired claims of other nodes.
 */
export async function roomOn(tx: Sql, endpoint: Row, endpointId: string, request: ClaimRequest): Promise<number> {
  const cap = capOf(endpoint, request);
  const local = request.room.get(endpointId) ?? cap;
  if (local <= 0) return 0;
  const row = await tx.get(
    "SELECT count(*) AS claimed FROM deliveries WHERE endpoint_id = $1 AND status = 'delivering' AND due_at > $2",
    [endpointId, request.now],
  );
  return sharedRoom(local, cap, Number(row?.claimed ?? 0), request.held.get(endpointId) ?? 0);
}
