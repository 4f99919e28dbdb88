import type { Database } from "./database.ts";

/** Purging old events with their deliveries and attempts. */
export function retentionQueries(db: Database) {
  return {
    async purgeEvents(after: string | null, before: string, limit: number) {
      return db.transaction(async (tx) => {
        const window = await tx.all("SELECT id FROM events WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3", [
          after ?? "",
          before,
          limit,
        ]);
        const ids = window.map((row) => String(row.id));
        if (ids.length === 0) return { purged: 0, last: null };
        // Pending and delivering work is never purged; rows another node is purging are skipped.
        const finished = await tx.all(
          `SELECT e.id FROM events e WHERE e.id = ANY($1::text[])
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'delivering'))
          ORDER BY e.id FOR UPDATE SKIP LOCKED`,
          [ids],
        );
        const candidates = finished.map((row) => String(row.id));
        if (candidates.length === 0) return { purged: 0, last: ids.at(-1) ?? null };
        // The deliveries are locked, then checked again: a retry or recover that made one pending
        // meanwhile keeps it (and its event); one that comes now waits, then finds it gone.
        const final = await tx.all(
          `SELECT id FROM deliveries WHERE event_id = ANY($1::text[]) AND status NOT IN ('pending', 'delivering')
          ORDER BY id FOR UPDATE`,
          [candidates],
        );
        const deliveryIds = final.map((row) => String(row.id));
        await tx.run("DELETE FROM attempts WHERE delivery_id = ANY($1::text[])", [deliveryIds]);
        await tx.run("DELETE FROM deliveries WHERE id = ANY($1::text[])", [deliveryIds]);
        const purged = await tx.run(
          `DELETE FROM events e WHERE e.id = ANY($1::text[])
            AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id)`,
          [candidates],
        );
        return { purged, last: ids.at(-1) ?? null };
      });
    },
  };
}
