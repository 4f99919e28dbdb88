import { capOf, sharedRoom } from "../claim-rules.ts";
import type { Row } from "../rows.ts";
import type { ClaimRequest } from "../store.ts";
import type { Sql } from "./database.ts";

/**
 * The delivery queue's summary. As in the SQLite store, `endpoints.next_due_at` is the
 * `due_at` of the endpoint's oldest queued delivery, but here only writers holding the
 * endpoint's row lock (claims, retries, endpoint changes) rewrite it. A writer that makes a
 * delivery due without that lock (ingest, advancing a scope's pending deliveries, an outcome
 * scheduling a retry) adds a mark to `endpoint_due_marks` in its own transaction instead, so it
 * never waits for a worker that holds the row. An endpoint is due at the earliest of its row's
 * time and its marks, which may be early (a claim then finds nothing and refreshes the row),
 * never late; the next refresh under the lock folds the marks into the row. Outcomes refresh the
 * rows no one else holds (`refreshFree`), so marks do not pile up.
 */
/**
 * The order in which anything that waits for an endpoint's KEY SHARE or FOR UPDATE lock takes
 * several of them (ingest's targets, advancing a scope, disabling after outcomes): by scope, then
 * id, compared bytewise whatever the database's collation.
 */
export const TARGET_ORDER = `account_id COLLATE "C", environment COLLATE "C", id COLLATE "C"`;

export const queue = {
  /**
   * Locks endpoint rows in `TARGET_ORDER`, NO KEY UPDATE (ingest's target reads go on), and
   * returns the ids of those still there. A writer that changes an endpoint's deliveries and then
   * its queue summary locks the endpoint first: the order a delete or a disable takes them in, so
   * neither waits for a delivery this transaction holds while it waits for the endpoint.
   */
  async lock(tx: Sql, endpointIds: Iterable<string>): Promise<Set<string>> {
    const rows = await tx.all(
      `SELECT id FROM endpoints WHERE id = ANY($1::text[]) ORDER BY ${TARGET_ORDER} FOR NO KEY UPDATE`,
      [[...new Set(endpointIds)]],
    );
    return new Set(rows.map((row) => String(row.id)));
  },
  /**
   * Locks endpoint rows KEY SHARE, in `TARGET_ORDER`, and returns the ids of those still there:
   * what recording outcomes holds while it changes the endpoints' deliveries. Other workers'
   * claims and outcomes go on beside it; a delete or a disable (FOR UPDATE) waits for its commit,
   * so it never waits for a delivery this transaction holds.
   */
  async share(tx: Sql, endpointIds: Iterable<string>): Promise<Set<string>> {
    const rows = await tx.all(
      `SELECT id FROM endpoints WHERE id = ANY($1::text[]) ORDER BY ${TARGET_ORDER} FOR KEY SHARE`,
      [[...new Set(endpointIds)]],
    );
    return new Set(rows.map((row) => String(row.id)));
  },
  /**
   * Recomputes the endpoints' next due time from their deliveries (one index probe each) and
   * drops the marks that time now covers. The caller holds each endpoint's row lock (NO KEY
   * UPDATE or more, or a lock on the whole table); the delete and the recompute then share one
   * snapshot, taken after the lock: a mark it deletes was committed with its deliveries, so the
   * recompute sees them, and a mark committed later stays.
   */
  async refresh(tx: Sql, endpointIds: Iterable<string>) {
    for (const id of new Set(endpointIds)) {
      await tx.run(
        `WITH folded AS (DELETE FROM endpoint_due_marks WHERE endpoint_id = $1)
        UPDATE endpoints SET next_due_at =
          (SELECT min(due_at) FROM deliveries WHERE endpoint_id = $1 AND due_at IS NOT NULL) WHERE id = $1`,
        [id],
      );
    }
  },
  /**
   * Refreshes those of the endpoints whose rows no other transaction holds, without waiting (SKIP
   * LOCKED): a writer holding only KEY SHARE uses it to fold marks and keep the summaries exact
   * where it can. One it skips keeps its summary, which must then be early or exact already.
   */
  async refreshFree(tx: Sql, endpointIds: Iterable<string>) {
    const rows = await tx.all(
      `SELECT id FROM endpoints WHERE id = ANY($1::text[]) ORDER BY ${TARGET_ORDER} FOR NO KEY UPDATE SKIP LOCKED`,
      [[...new Set(endpointIds)]],
    );
    await queue.refresh(
      tx,
      rows.map((row) => String(row.id)),
    );
  },
  /**
   * Marks each endpoint as having a delivery due at the time given (deliveries leased at
   * ingest are due only when their lease ends), and wakes the workers if one of them is due now.
   * The caller holds a KEY SHARE lock (or more) on each endpoint, so none is deleted meanwhile.
   */
  async markDue(tx: Sql, dueTimes: ReadonlyMap<string, number>, now: number) {
    if (dueTimes.size === 0) return;
    await tx.run(
      "INSERT INTO endpoint_due_marks (endpoint_id, due_at) SELECT * FROM unnest($1::text[], $2::bigint[])",
      [[...dueTimes.keys()], [...dueTimes.values()]],
    );
    if ([...dueTimes.values()].some((at) => at <= now)) tx.notifyDue();
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

/**
 * Each endpoint with a delivery due by `$1` and the earliest such time (`id`, `due_at`): its
 * row's summary (through the partial index of enabled endpoints) and its marks together. Marks
 * of disabled endpoints are not filtered out here: callers join `endpoints` on `enabled = 1`.
 */
export const DUE_ENDPOINTS = `SELECT id, min(due_at) AS due_at FROM (
    SELECT id, next_due_at AS due_at FROM endpoints WHERE next_due_at IS NOT NULL AND next_due_at <= $1 AND enabled = 1
    UNION ALL SELECT endpoint_id, due_at FROM endpoint_due_marks WHERE due_at <= $1
  ) due GROUP BY id`;
