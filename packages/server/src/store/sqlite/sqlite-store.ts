import type { Store } from "../store.ts";
import { accountQueries } from "./accounts.ts";
import { openDatabase } from "./database.ts";
import { deliveryQueries } from "./deliveries.ts";
import { endpointQueries } from "./endpoints.ts";
import { eventQueries } from "./events.ts";
import { queueSummary } from "./queue.ts";

/**
 * The embedded store: one SQLite file in the data directory. `node:sqlite` is
 * synchronous, so every method finishes its work before its promise settles.
 */
export function createSqliteStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  const queue = queueSummary(db);
  return {
    ...accountQueries(db),
    ...endpointQueries(db, queue),
    ...eventQueries(db, queue),
    ...deliveryQueries(db, queue),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
