import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { HooklineError } from "../../errors.ts";
import { MIGRATIONS } from "./migrations.ts";

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
  // secure_delete: what a write replaces or deletes (a secret before it was encrypted, a purged
  // event) is zeroed in the page rather than left in free space; FAST costs no extra I/O.
  db.exec(
    "PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = FAST",
  );
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

/**
 * Runs `work` in one write transaction (BEGIN IMMEDIATE, so no upgrade deadlocks).
 * Inside an open transaction (see `commitTogether`) it is a savepoint instead:
 * all or nothing still, made durable by the enclosing commit.
 */
export function transaction<T>(db: DatabaseSync, work: () => T): T {
  const nested = db.isTransaction;
  db.exec(nested ? "SAVEPOINT work" : "BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec(nested ? "RELEASE work" : "COMMIT");
    return result;
  } catch (error) {
    if (nested) db.exec("ROLLBACK TO work; RELEASE work");
    else if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs several independent calls under one commit, so they share one fsync.
 * Each call is a savepoint: one that throws leaves no trace and the others still
 * commit. Nothing is reported before the commit; if the commit itself fails,
 * every call fails with its error. The calls must do all their work
 * synchronously (awaiting only already-settled promises), as the store's do.
 */
export async function commitTogether<T>(db: DatabaseSync, calls: (() => Promise<T>)[]): Promise<Settled<T>[]> {
  const results: Settled<T>[] = [];
  try {
    db.exec("BEGIN IMMEDIATE");
    for (const call of calls) {
      db.exec("SAVEPOINT call");
      try {
        results.push({ ok: true, value: await call() });
        db.exec("RELEASE call");
      } catch (error) {
        db.exec("ROLLBACK TO call; RELEASE call");
        results.push({ ok: false, error });
      }
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    return calls.map(() => ({ ok: false, error }));
  }
  return results;
}

/** Prepares a named set of statements once, when the store opens. */
export function prepareAll<K extends string>(db: DatabaseSync, sql: Record<K, string>): Record<K, StatementSync> {
  const prepared = {} as Record<K, StatementSync>;
  for (const key of Object.keys(sql) as K[]) prepared[key] = db.prepare(sql[key]);
  return prepared;
}
