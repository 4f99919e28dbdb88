import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { HooklineError } from "../../errors.ts";
import { MIGRATIONS } from "./migrations.ts";

export type Row = Record<string, string | number | null>;

/**
 * Opens the embedded store in `dataDir`. WAL with synchronous=FULL: a commit
 * is on disk before it returns, which is what a 202 promises.
 */
export function openDatabase(dataDir: string): DatabaseSync {
  let db: DatabaseSync;
  try {
    mkdirSync(dataDir, { recursive: true });
    db = new DatabaseSync(join(dataDir, "hookline.db"));
    db.exec("PRAGMA journal_mode = WAL");
  } catch (error) {
    throw new HooklineError(
      "store_unavailable",
      `cannot open the data directory ${dataDir}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  db.exec("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY");
  migrate(db);
  return db;
}

function migrate(db: DatabaseSync): void {
  const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  for (let v = version; v < MIGRATIONS.length; v++) {
    transaction(db, () => {
      db.exec(MIGRATIONS[v] as string);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/** Runs `work` in one write transaction (BEGIN IMMEDIATE, so no upgrade deadlocks). */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/** Prepares a named set of statements once, when the store opens. */
export function prepareAll<K extends string>(db: DatabaseSync, sql: Record<K, string>): Record<K, StatementSync> {
  const prepared = {} as Record<K, StatementSync>;
  for (const key of Object.keys(sql) as K[]) prepared[key] = db.prepare(sql[key]);
  return prepared;
}
