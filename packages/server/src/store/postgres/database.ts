import { createHash } from "node:crypto";
import pg from "pg";
import { HooklineError } from "../../errors.ts";
import type { Row } from "../rows.ts";
import { MIGRATIONS } from "./migrations.ts";

// int8 (BIGINT: millisecond times, counts) as a JS number, as SQLite gives it; safe below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));

/** Deadlock detected, serialization failure: the transaction may simply run again. */
const RETRIED = new Set(["40P01", "40001"]);
const MAX_ATTEMPTS = 5;

/** What a query runs on: the pool (one statement, autocommit) or one transaction's connection. */
export interface Sql {
  all(text: string, values?: unknown[]): Promise<Row[]>;
  get(text: string, values?: unknown[]): Promise<Row | undefined>;
  /** Runs a statement; answers how many rows it changed. */
  run(text: string, values?: unknown[]): Promise<number>;
  /**
   * Tells every node's workers that deliveries became due: a NOTIFY sent once the transaction
   * has committed (outside it, so concurrent commits do not queue on PostgreSQL's notify lock).
   */
  notifyDue(): void;
}

export interface Database extends Sql {
  /**
   * Runs `work` in one transaction on one connection; commits if it resolves, rolls
   * back if it throws, and runs it again after a deadlock: `work` must do nothing but
   * its queries (or start over cleanly).
   */
  transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * Calls `listener` whenever any node sends notifyDue, on a connection of its own
   * that reconnects by itself, and once each time its LISTEN is in place (at start and
   * after a reconnect), for what it may have missed. Returns how to stop listening.
   */
  watchDue(listener: () => void): () => void;
  close(): Promise<void>;
}

export interface PostgresOptions {
  url: string;
  /** Every table lives in this schema (created if missing). */
  schema: string;
  poolSize: number;
}

/**
 * Opens the pool and brings the schema up to date. Migrations run under an
 * advisory lock, so many nodes starting at once apply each one exactly once.
 */
export async function openDatabase(options: PostgresOptions): Promise<Database> {
  // At most 49 characters, so the wake-up channel `hookline_due_<schema>` fits PostgreSQL's 63.
  if (!/^[a-z_][a-z0-9_]{0,48}$/.test(options.schema)) {
    throw new HooklineError("invalid_config", `the schema name "${options.schema}" must be a lowercase SQL identifier`);
  }
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    options: `-c search_path=${options.schema}`,
  });
  // An idle connection that breaks (a server restart) must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const database = wrap(pool, options);
  try {
    await migrate(pool, options.schema);
  } catch (error) {
    await pool.end();
    throw new HooklineError("store_unavailable", `cannot open PostgreSQL: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return database;
}

async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  // A cut connection fails the query under way; the event must not end the process.
  const ignore = () => {};
  client.on("error", ignore);
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('hookline migrations'))");
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    const row = (await client.query("SELECT version FROM schema_version")).rows[0] as { version: number } | undefined;
    if (!row) await client.query("INSERT INTO schema_version (version) VALUES (0)");
    for (let v = row?.version ?? 0; v < MIGRATIONS.length; v++) {
      await client.query(MIGRATIONS[v] as string);
      await client.query("UPDATE schema_version SET version = $1", [v + 1]);
    }
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.off("error", ignore);
    client.release(true);
  }
}

/**
 * Starts a statement that is planned for its values on every run instead of from a cached plan:
 * the multi-row lookups by id of claims and outcomes. PostgreSQL caches a plan for all values
 * after a prepared statement's fifth run and keeps it until the table is next analyzed; on a new
 * schema that plan is made for near-empty tables and scans whole tables as they grow. In S4-pg (a
 * new schema at 1,000 events/s) such plans took 3-4 ms per claim statement instead of 0.3, and
 * 57-74% of the events were delivered instead of all. Each of these runs once for many rows, so
 * planning it every time costs little; planning every statement every time did not (PostgreSQL
 * used a whole core at 250 events/s).
 */
export const PLANNED_EACH_RUN = "/* planned each run */ ";

const names = new Map<string, string>();

/**
 * Statements are prepared once per connection, named by their text (the store's texts are a
 * fixed set), except those marked PLANNED_EACH_RUN: unnamed, so parsed and planned each time.
 */
function statement(text: string, values: unknown[] | undefined) {
  if (text.startsWith(PLANNED_EACH_RUN)) return { text, values: values ?? [] };
  let name = names.get(text);
  if (!name) {
    name = `h${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    names.set(text, name);
  }
  return { name, text, values: values ?? [] };
}

function sqlOn(runner: { query: pg.Pool["query"] }, notifyDue: () => void): Sql {
  return {
    notifyDue,
    async all(text, values) {
      return (await runner.query(statement(text, values))).rows as Row[];
    },
    async get(text, values) {
      return (await runner.query(statement(text, values))).rows[0] as Row | undefined;
    },
    async run(text, values) {
      return (await runner.query(statement(text, values))).rowCount ?? 0;
    },
  };
}

/** The wake-up channel of one installation (one schema). */
function dueChannel(schema: string): string {
  return `hookline_due_${schema}`;
}

/**
 * Sends the wake-up NOTIFY, one at a time: a request made while one is on its way gets one
 * more after it, so every committed change is followed by a NOTIFY sent after its commit.
 * A NOTIFY that fails is left to the workers' recheck (at least every minute).
 */
function wakeUps(pool: pg.Pool, channel: string): () => void {
  let sending = false;
  let again = false;
  const send = () => {
    sending = true;
    again = false;
    pool
      .query(statement("SELECT pg_notify($1, '')", [channel]))
      .catch(() => {})
      .finally(() => {
        sending = false;
        if (again) send();
      });
  };
  return () => {
    if (sending) again = true;
    else send();
  };
}

function wrap(pool: pg.Pool, options: PostgresOptions): Database {
  const wake = wakeUps(pool, dueChannel(options.schema));
  return {
    ...sqlOn(pool, wake),
    async transaction(work) {
      for (let attempt = 1; ; attempt++) {
        const client = await pool.connect();
        // A connection cut between two queries (a server restart) is reported on the
        // client; unheard, it would end the process. The transaction fails instead.
        let broken = false;
        const onError = () => {
          broken = true;
        };
        client.on("error", onError);
        let wakeAfterCommit = false;
        try {
          await client.query("BEGIN");
          const result = await work(
            sqlOn(client, () => {
              wakeAfterCommit = true;
            }),
          );
          await client.query("COMMIT");
          if (wakeAfterCommit) wake();
          return result;
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {
            broken = true;
          });
          // Two transactions that lock the same rows in a different order: PostgreSQL
          // aborts one; running it again is the standard answer (it did nothing).
          if (!RETRIED.has((error as { code?: string }).code ?? "") || attempt >= MAX_ATTEMPTS) throw error;
        } finally {
          client.off("error", onError);
          // A broken connection is closed, not handed to the next transaction.
          client.release(broken);
        }
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
      }
    },
    watchDue(listener) {
      return watch(options.url, dueChannel(options.schema), listener);
    },
    async close() {
      await pool.end();
    },
  };
}

const RECONNECT_MS = [1000, 2000, 5000, 10_000, 30_000];

function watch(url: string, channel: string, listener: () => void): () => void {
  let stopped = false;
  let client: pg.Client | null = null;
  let failures = 0;
  let timer: NodeJS.Timeout | null = null;
  const connect = async () => {
    timer = null;
    if (stopped) return;
    const next = new pg.Client({ connectionString: url });
    client = next;
    next.on("notification", () => listener());
    const lost = () => {
      if (client !== next || stopped) return;
      client = null;
      next.end().catch(() => {});
      timer = setTimeout(connect, RECONNECT_MS[Math.min(failures++, RECONNECT_MS.length - 1)]);
    };
    next.on("error", lost);
    next.on("end", lost);
    try {
      await next.connect();
      await next.query(`LISTEN "${channel}"`);
      // What was made due before the LISTEN was in place (at start, or while reconnecting) woke no one.
      listener();
      failures = 0;
    } catch {
      lost();
    }
  };
  void connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    client?.end().catch(() => {});
    client = null;
  };
}
