import pg from "pg";
import { HooklineError } from "../../errors.ts";
import type { Sql } from "../postgres/database.ts";
import { createPostgresStore } from "../postgres/postgres-store.ts";
import { queue } from "../postgres/queue.ts";
import type { Row } from "../rows.ts";
import { quoteName, type TargetColumn, type TargetTable } from "./table-plan.ts";

interface DescribedColumn {
  table_name: string;
  column_name: string;
  not_null: boolean;
  has_default: boolean;
  udt_schema: string;
  udt_name: string;
}

/** The PostgreSQL side of the copy: one connection, one transaction from `begin` to `commit`. */
export interface PostgresTarget {
  /** Starts the transaction, locks every table of the schema against writers, and describes them. */
  begin(): Promise<TargetTable[]>;
  /** The tables that hold at least one row. */
  nonEmpty(tables: readonly string[]): Promise<string[]>;
  /** Inserts `rows` (values in `columns`' order) with one statement. */
  insert(table: string, columns: readonly string[], rows: readonly unknown[][]): Promise<void>;
  /** Ends what the source's last process held: its claimed deliveries are due again (answers how many), its listeners gone. */
  releaseClaims(now: number): Promise<number>;
  /** Recomputes every endpoint's next due time with the queue's own function; answers how many endpoints. */
  refreshQueue(): Promise<number>;
  count(table: string): Promise<number>;
  commit(): Promise<void>;
  /** Rolls back what was not committed and disconnects. */
  close(): Promise<void>;
}

/** The URL without its passwords (user:password, or `?password=` / `?sslpassword=`), for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    for (const name of ["password", "sslpassword"]) {
      if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***");
    }
    return parsed.toString();
  } catch {
    return "(the given URL)";
  }
}

/** A connection error's text: a refused connection to a name with two addresses has an empty message. */
function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  const { message, code } = error as { message?: string; code?: string };
  return message || code || String(error);
}

/**
 * Connects to PostgreSQL and brings `schema` up to date with the store's own
 * migrations (what `hookline migrate` runs), so the copy lands in exactly the
 * tables `hookline serve` expects.
 */
export async function openPostgresTarget(url: string, schema: string): Promise<PostgresTarget> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A broken connection also fails the query in progress; that error is the one reported.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw new HooklineError(
      "store_unavailable",
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${describeError(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    const store = await createPostgresStore({ url, schema, poolSize: 1 });
    await store.close();
    await client.query(`SET search_path TO ${quoteName(schema)}`);
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
  let open = false;
  const sql = sqlOn(client);
  /** Each column's type, qualified, to cast its array of values to. */
  const types = new Map<string, Map<string, string>>();
  return {
    async begin() {
      await client.query("BEGIN");
      open = true;
      const described = await client.query(
        `SELECT c.table_name, c.column_name, c.is_nullable = 'NO' AS not_null,
          c.column_default IS NOT NULL OR c.is_identity = 'YES' AS has_default, c.udt_schema, c.udt_name
        FROM information_schema.columns c
        JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.is_generated = 'NEVER'
          AND c.table_name <> 'schema_version'
        ORDER BY c.table_name, c.ordinal_position`,
        [schema],
      );
      const tables = new Map<string, { name: string; columns: TargetColumn[] }>();
      for (const row of described.rows as DescribedColumn[]) {
        let table = tables.get(row.table_name);
        if (!table) {
          table = { name: row.table_name, columns: [] };
          tables.set(row.table_name, table);
          types.set(row.table_name, new Map());
        }
        table.columns.push({ name: row.column_name, notNull: row.not_null, hasDefault: row.has_default });
        types.get(row.table_name)?.set(row.column_name, `${quoteName(row.udt_schema)}.${quoteName(row.udt_name)}`);
      }
      // EXCLUSIVE lets readers in and keeps every writer out until the commit: the emptiness
      // check stays true, and a node started on this schema meanwhile waits instead of
      // making its own first-start account beside the copied ones.
      try {
        await client.query("SET LOCAL lock_timeout = '10s'");
        await client.query(`LOCK TABLE ${[...tables.keys()].map(quoteName).join(", ")} IN EXCLUSIVE MODE`);
        await client.query("SET LOCAL lock_timeout = DEFAULT");
      } catch (error) {
        if ((error as { code?: string }).code !== "55P03") throw error;
        throw new HooklineError(
          "target_in_use",
          `PostgreSQL schema "${schema}" is busy (is Hookline running on it?): its tables could not be locked in 10 s`,
          { cause: error },
        );
      }
      return [...tables.values()];
    },
    async nonEmpty(names) {
      const found: string[] = [];
      for (const name of names) {
        const row = (await client.query(`SELECT EXISTS (SELECT 1 FROM ${quoteName(name)}) AS found`)).rows[0];
        if (row?.found) found.push(name);
      }
      return found;
    },
    async insert(table, columns, rows) {
      // One array per column, unnested into rows: one parameter per column whatever the
      // batch size, and about three times faster than a multi-row VALUES list.
      const arrays: unknown[][] = columns.map(() => []);
      for (const row of rows) {
        for (const [i, value] of row.entries()) {
          // node:sqlite gives BLOBs as Uint8Array; pg sends only a Buffer as bytes.
          arrays[i]?.push(
            value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value,
          );
        }
      }
      const typeOf = types.get(table);
      const casts = columns.map((column, i) => {
        const type = typeOf?.get(column);
        if (!type) throw new Error(`PostgreSQL has no column ${table}.${column}`);
        return `$${i + 1}::${type}[]`;
      });
      // Unnamed statements: a prepared statement per table would outlive its use on this connection.
      await client.query(
        `INSERT INTO ${quoteName(table)} (${columns.map(quoteName).join(", ")}) SELECT * FROM unnest(${casts.join(", ")})`,
        arrays,
      );
    },
    async releaseClaims(now) {
      // What the store's releaseClaims does for a stopping worker: due again at once (a delivering
      // row's endpoint is enabled: a disable fails delivering rows, a delete cancels them).
      const released = await client.query(
        `UPDATE deliveries SET claim_token = NULL, updated_at = $1, status = 'pending', due_at = $1::bigint
        WHERE status = 'delivering'`,
        [now],
      );
      // A lease that outlived a disable or a delete: the attempt behind it ended with its process.
      await client.query("UPDATE deliveries SET claim_token = NULL WHERE claim_token IS NOT NULL");
      // So did its `hookline listen` sessions: their endpoints are nobody's until a listener connects.
      await client.query("UPDATE endpoints SET listener_node = NULL, listener_until = NULL");
      return released.rowCount ?? 0;
    },
    async refreshQueue() {
      const ids = (await sql.all("SELECT id FROM endpoints")).map((row) => String(row.id));
      await queue.refresh(sql, ids);
      return ids.length;
    },
    async count(table) {
      return Number((await client.query(`SELECT count(*) AS n FROM ${quoteName(table)}`)).rows[0]?.n);
    },
    async commit() {
      await client.query("COMMIT");
      open = false;
    },
    async close() {
      if (open) await client.query("ROLLBACK").catch(() => {});
      open = false;
      await client.end().catch(() => {});
    },
  };
}

/** The store's query interface on this one connection, for the queue's functions. */
function sqlOn(client: pg.Client): Sql {
  return {
    all: async (text, values) => (await client.query(text, values)).rows as Row[],
    get: async (text, values) => (await client.query(text, values)).rows[0] as Row | undefined,
    run: async (text, values) => (await client.query(text, values)).rowCount ?? 0,
    // Nobody to wake: the schema was empty, so no node served it; workers read next_due_at when they start.
    notifyDue: async () => {},
  };
}
