import type { Store } from "../store.ts";
import { accountQueries } from "./accounts.ts";
import { openDatabase, type PostgresOptions } from "./database.ts";
import { deliveryQueries } from "./deliveries.ts";
import { endpointStatsQueries } from "./endpoint-stats.ts";
import { endpointQueries } from "./endpoints.ts";
import { eventTypeQueries } from "./event-types.ts";
import { eventQueries } from "./events.ts";
import { metricsSnapshotQueries } from "./metrics-snapshot.ts";
import { retentionQueries } from "./retention.ts";
import { sessionQueries } from "./sessions.ts";

export interface PostgresStore extends Store {
  /** Calls `listener` when any node made deliveries due (see Database.watchDue). */
  watchDue(listener: () => void): () => void;
}

/**
 * The PostgreSQL store: the same Store as the embedded SQLite one, for many nodes
 * on one database. Writes run in transactions on a pooled connection.
 */
export async function createPostgresStore(options: PostgresOptions): Promise<PostgresStore> {
  const db = await openDatabase(options);
  return {
    watchDue: (listener) => db.watchDue(listener),
    ...accountQueries(db),
    ...sessionQueries(db),
    ...endpointQueries(db),
    ...endpointStatsQueries(db),
    ...eventQueries(db),
    ...eventTypeQueries(db),
    ...deliveryQueries(db),
    ...retentionQueries(db),
    ...metricsSnapshotQueries(db),
    close: () => db.close(),
  };
}
