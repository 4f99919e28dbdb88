import type { DatabaseSync } from "node:sqlite";
import type { Row } from "../rows.ts";
import { prepareAll, transaction } from "./database.ts";

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
        for (const id of ids) {
          if (sql.unfinished.get(id)) continue;
          sql.attempts.run(id);
          sql.deliveries.run(id);
          sql.event.run(id);
          purged++;
        }
        return { purged, last: ids.at(-1) ?? null };
      });
    },
  };
}
