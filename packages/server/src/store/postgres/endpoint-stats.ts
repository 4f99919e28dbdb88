import { randomInt } from "node:crypto";
import { STATS_KEPT_MS, tallyAttempts, upsertValues } from "../attempt-tally.ts";
import { toEndpointStats } from "../rows.ts";
import { type EndpointStats, type Scope, STATS_COUNT_CAP } from "../store.ts";
import type { Database, Sql } from "./database.ts";

/**
 * A store's own rows of `endpoint_stats`. Each store (process) recording outcomes adds to rows
 * of its own, so workers delivering to the same endpoints never wait for each other's upserts;
 * reads add the shards up.
 */
export function newStatsShard(): number {
  return randomInt(2 ** 31 - 1);
}

/**
 * Per-endpoint hourly attempt figures for the dashboard's health charts, added up as
 * outcomes are recorded (one upsert per endpoint per commit), as in the SQLite store.
 */
export function tally(now: number, shard: number) {
  const tally = tallyAttempts(now);
  return {
    count: tally.count,
    async write(tx: Sql) {
      // In endpoint order: the clean-up below deletes other stores' old rows too, so two stores
      // starting a new hour on the same endpoints wait for each other in one order, never in a cycle.
      const tallies = [...tally.tallies()].sort((a, b) =>
        a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0,
      );
      for (const t of tallies) {
        const row = await tx.get(
          `INSERT INTO endpoint_stats (endpoint_id, hour, shard, attempts, succeeded, duration_ms, last_at, last_ok,
            last_status_code, last_error) VALUES ($1, $2, $10, $3, $4, $5, $6, $7, $8, $9)
          ON CONFLICT (endpoint_id, hour, shard) DO UPDATE SET attempts = endpoint_stats.attempts + excluded.attempts,
            succeeded = endpoint_stats.succeeded + excluded.succeeded,
            duration_ms = endpoint_stats.duration_ms + excluded.duration_ms,
            last_at = excluded.last_at, last_ok = excluded.last_ok, last_status_code = excluded.last_status_code,
            last_error = excluded.last_error
          RETURNING attempts`,
          [...upsertValues(t, now), shard],
        );
        // This store's first row of a new hour: drop the endpoint's hours older than health looks back.
        if (row?.attempts === t.attempts) {
          await tx.run("DELETE FROM endpoint_stats WHERE endpoint_id = $1 AND hour < $2", [
            t.endpointId,
            t.hour - STATS_KEPT_MS,
          ]);
        }
      }
    },
  };
}

export function endpointStatsQueries(db: Database) {
  return {
    async endpointStats(scope: Scope, id: string, since: number): Promise<EndpointStats | null> {
      const endpoint = await db.get("SELECT id FROM endpoints WHERE id = $1 AND account_id = $2 AND environment = $3", [
        id,
        scope.accountId,
        scope.environment,
      ]);
      if (!endpoint) return null;
      // One past the cap, so "more than the cap" can be told from "exactly the cap".
      const counts = (await db.get(
        `SELECT
          (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE endpoint_id = $1 AND due_at IS NOT NULL LIMIT $2) p) AS pending,
          (SELECT count(*) FROM (SELECT 1 FROM deliveries WHERE endpoint_id = $1 AND status = 'failed' LIMIT $2) f) AS failed`,
        [id, STATS_COUNT_CAP + 1],
      )) as { pending: number; failed: number };
      const hours = await db.all(
        `SELECT hour, sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(duration_ms) AS duration_ms
        FROM endpoint_stats WHERE endpoint_id = $1 AND hour >= $2 GROUP BY hour ORDER BY hour`,
        [id, since],
      );
      const last = await db.get(
        `SELECT last_at, last_ok, last_status_code, last_error FROM endpoint_stats
        WHERE endpoint_id = $1 ORDER BY hour DESC, last_at DESC LIMIT 1`,
        [id],
      );
      return toEndpointStats({ pending: Number(counts.pending), failed: Number(counts.failed) }, hours, last);
    },
  };
}
