import type { DatabaseSync } from "node:sqlite";
import type { Row } from "../rows.ts";
import { prepareAll, transaction } from "./database.ts";

/**
 * Rows one purge call deletes at most (events, deliveries and attempts together): the store's
 * one thread also serves ingest and claims, so a call stays in the milliseconds even when each
 * event brings hundreds of attempt rows.
 */
const ROW_BUDGET = 5_000;

/** Purging old events with their deliveries and attempts. */
export function retentionQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    window: "SELECT id FROM events WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
    // Pending and delivering work is never purged.
    unfinished: "SELECT 1 FROM deliveries WHERE event_id = ? AND status IN ('pending', 'delivering') LIMIT 1",
    attempts: "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ?)",
    deliveries: "DELETE FROM deliveries WHERE event_id = ?",
    event: "DELETE FROM events WHERE id = ?",
  });
  return {
    async purgeEvents(after: string | null, before: string, limit: number) {
      return transaction(db, () => {
        const ids = (sql.window.all(after ?? "", before, limit) as Row[]).map((row) => String(row.id));
        let purged = 0;
        let rows = 0;
        for (const [i, id] of ids.entries()) {
          // Over budget: the next call goes on after the last event looked at.
          if (rows >= ROW_BUDGET) return { purged, last: ids[i - 1] as string };
          if (sql.unfinished.get(id)) continue;
          rows += Number(sql.attempts.run(id).changes) + Number(sql.deliveries.run(id).changes);
          rows += Number(sql.event.run(id).changes);
          purged++;
        }
        return { purged, last: ids.at(-1) ?? null };
      });
    },
  };
}
