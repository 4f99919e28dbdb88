import pg from "pg";
import { newestEventSql, plainSecretsSql, type StoreInspection, sealedKeyIdsSql } from "../inspection.ts";
import { MIGRATIONS } from "./migrations.ts";

export interface PostgresInspection extends StoreInspection {
  /** The database server's clock minus this machine's (ms), measured at the middle of the round trip. */
  clockSkewMs: number;
}

/**
 * Reads a PostgreSQL store without changing it (no schema, no migration): one connection,
 * read-only queries. Throws when the server cannot be reached.
 * @param now this machine's clock, to compare with the server's
 */
export async function inspectStore(
  options: { url: string; schema: string; timeoutMs: number },
  now: () => number,
): Promise<PostgresInspection> {
  const client = new pg.Client({
    connectionString: options.url,
    connectionTimeoutMillis: options.timeoutMs,
    query_timeout: options.timeoutMs,
  });
  // A connection cut mid-query fails that query; the event must not end the process.
  client.on("error", () => {});
  await client.connect();
  try {
    const before = now();
    const clock = (await client.query("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now")).rows[0];
    const after = now();
    const clockSkewMs = Math.round((clock as { now: number }).now - (before + after) / 2);
    const inspection: PostgresInspection = {
      version: 0,
      expected: MIGRATIONS.length,
      sealedKeyIds: [],
      plainSecrets: 0,
      newestEventAt: null,
      clockSkewMs,
    };
    const table = (name: string) => `${options.schema}.${name}`;
    const exists = await client.query("SELECT to_regclass($1)::text AS name", [table("schema_version")]);
    if (exists.rows[0]?.name === null) return inspection;
    const version = await client.query(`SELECT version FROM ${table("schema_version")}`);
    inspection.version = (version.rows[0] as { version: number } | undefined)?.version ?? 0;
    if (inspection.version === 0) return inspection;
    const keyIds = await client.query(sealedKeyIdsSql(table("endpoints")));
    inspection.sealedKeyIds = keyIds.rows.map((row: { key_id: string }) => row.key_id);
    const plain = await client.query(plainSecretsSql(table("endpoints")));
    inspection.plainSecrets = Number((plain.rows[0] as { n: string | number }).n);
    const newest = await client.query(newestEventSql(table("events")));
    const at = (newest.rows[0] as { created_at: string | number } | undefined)?.created_at;
    inspection.newestEventAt = at === undefined ? null : Number(at);
    return inspection;
  } finally {
    await client.end().catch(() => {});
  }
}
