import type { Store } from "../store.ts";
import { accountQueries } from "./accounts.ts";
import { commitTogether, openDatabase, type Settled } from "./database.ts";
import { deliveryQueries } from "./deliveries.ts";
import { endpointStatsQueries } from "./endpoint-stats.ts";
import { endpointQueries } from "./endpoints.ts";
import { eventTypeQueries } from "./event-types.ts";
import { eventQueries } from "./events.ts";
import { metricsSnapshotQueries } from "./metrics-snapshot.ts";
import { queueSummary } from "./queue.ts";
import { retentionQueries } from "./retention.ts";
import { sessionQueries } from "./sessions.ts";

export interface SqliteStore extends Store {
  /** Runs independent store calls under one commit (see database.commitTogether). */
  commitTogether<T>(calls: (() => Promise<T>)[]): Promise<Settled<T>[]>;
}

/**
 * The embedded store: one SQLite file in the data directory. `node:sqlite` is
 * synchronous, so every method finishes its work before its promise settles.
 */
export function createSqliteStore(dataDir: string): SqliteStore {
  const db = openDatabase(dataDir);
  const queue = queueSummary(db);
  const { tally, forgetEndpointStats, endpointStats } = endpointStatsQueries(db);
  return {
    ...accountQueries(db),
    ...sessionQueries(db),
    ...endpointQueries(db, queue, forgetEndpointStats),
    endpointStats,
    ...eventQueries(db, queue),
    ...eventTypeQueries(db),
    ...deliveryQueries(db, queue, tally),
    ...retentionQueries(db),
    ...metricsSnapshotQueries(db),
    commitTogether: (calls) => commitTogether(db, calls),
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
