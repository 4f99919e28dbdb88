import type { Store } from "../store.ts";
import { accountQueries } from "./accounts.ts";
import { openDatabase } from "./database.ts";
import { deliveryQueries } from "./deliveries.ts";
import { endpointQueries } from "./endpoints.ts";
import { eventQueries } from "./events.ts";

/**
 * The embedded store: one SQLite file in the data directory. `node:sqlite` is
 * synchronous, so every method finishes its work before its promise settles.
 */
export function createSqliteStore(dataDir: string): Store {
  const db = openDatabase(dataDir);
  return {
    ...accountQueries(db),
    ...endpointQueries(db),
    ...eventQueries(db),
    ...deliveryQueries(db),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
