import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type SQLOutputValue } from "node:sqlite";
import { HooklineError } from "../../errors.ts";
import { MIGRATIONS } from "../sqlite/migrations.ts";
import { quoteName, type SourceTable } from "./table-plan.ts";

/** The embedded store, read-only, locked for as long as it is open. */
export interface SqliteSource {
  tables(): SourceTable[];
  count(table: string): number;
  /** The table's rows, one at a time, each as its `columns`' values in that order. */
  rows(table: string, columns: readonly string[]): IterableIterator<SQLOutputValue[]>;
  close(): void;
}

/**
 * Opens the store in `dataDir` and takes an exclusive lock on it for the whole copy.
 * In WAL mode every open connection holds a shared lock on the file, even when idle,
 * so the lock is refused while any Hookline has the store open (that is how a
 * running server is detected), and a server started during the copy cannot open it.
 * One transaction from the lock to close: every table is read from the same state.
 */
export function openSqliteSource(dataDir: string): SqliteSource {
  const file = join(dataDir, "hookline.db");
  if (!existsSync(dataDir) || !statSync(dataDir).isDirectory()) {
    throw new HooklineError(
      "source_not_found",
      `there is no data directory ${dataDir}: give the embedded store's directory with --from (the one \`hookline serve --data-dir\` used)`,
    );
  }
  // Checked first: opening a missing file would create an empty database.
  if (!existsSync(file)) {
    throw new HooklineError("not_a_data_dir", `${dataDir} is not a Hookline data directory: it has no hookline.db`);
  }
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file);
    db.exec("PRAGMA busy_timeout = 1000; PRAGMA locking_mode = EXCLUSIVE");
  } catch (error) {
    throw new HooklineError("source_unavailable", `cannot open ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    db.exec("BEGIN EXCLUSIVE");
  } catch (error) {
    db.close();
    const message = (error as Error).message;
    if (/locked|busy/i.test(message)) {
      throw new HooklineError(
        "source_in_use",
        `the embedded store in ${dataDir} is in use (is Hookline still running on it?): stop every process using it, then run migrate-data again`,
        { cause: error },
      );
    }
    if (/not a database/i.test(message)) {
      throw new HooklineError("not_a_data_dir", `${file} is not a Hookline store: ${message}`, { cause: error });
    }
    throw new HooklineError("source_unavailable", `cannot read ${file}: ${message}`, { cause: error });
  }
  try {
    checkVersion(db, dataDir);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    tables() {
      const names = db
        .prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .all()
        .map((row) => String(row.name));
      return names.map((name) => ({
        name,
        columns: db
          .prepare(`PRAGMA table_info(${quoteName(name)})`)
          .all()
          .map((row) => String(row.name)),
      }));
    },
    count(table) {
      return Number(db.prepare(`SELECT count(*) AS n FROM ${quoteName(table)}`).get()?.n);
    },
    rows(table, columns) {
      const statement = db.prepare(`SELECT ${columns.map(quoteName).join(", ")} FROM ${quoteName(table)}`);
      // Integers as BigInt: exact at any size; pg sends them as text.
      statement.setReadBigInts(true);
      statement.setReturnArrays(true);
      return statement.iterate() as unknown as IterableIterator<SQLOutputValue[]>;
    },
    close() {
      if (!db.isOpen) return;
      // Nothing was written: ending the transaction releases the lock.
      if (db.isTransaction) db.exec("ROLLBACK");
      db.close();
    },
  };
}

function checkVersion(db: DatabaseSync, dataDir: string): void {
  let version: number;
  try {
    version = Number(db.prepare("PRAGMA user_version").get()?.user_version);
  } catch (error) {
    throw new HooklineError(
      "not_a_data_dir",
      `${dataDir}/hookline.db is not a Hookline store: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (version === 0) {
    throw new HooklineError(
      "not_a_data_dir",
      `${dataDir}/hookline.db is not a Hookline store (it has no schema version)`,
    );
  }
  if (version < MIGRATIONS.length) {
    throw new HooklineError(
      "source_outdated",
      `the embedded store in ${dataDir} was made by an older Hookline (schema version ${version} of ${MIGRATIONS.length}): ` +
        `run \`hookline migrate --data-dir ${dataDir}\` first`,
    );
  }
  if (version > MIGRATIONS.length) {
    throw new HooklineError(
      "source_too_new",
      `the embedded store in ${dataDir} was made by a newer Hookline (schema version ${version}, this one knows ${MIGRATIONS.length}): ` +
        "run migrate-data from that version",
    );
  }
}
