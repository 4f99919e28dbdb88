import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { lockDataDir } from "../../data-dir-lock.ts";
import { HooklineError } from "../../errors.ts";
import { MIGRATIONS } from "./migrations.ts";

/** What a backup (or the store it came from) holds, read from the copy itself. */
export interface StoreSummary {
  schemaVersion: number;
  accounts: number;
  endpoints: number;
  events: number;
  deliveries: number;
  /** Deliveries still to be made (pending or in flight when the copy was taken). */
  unfinished: number;
  attempts: number;
  /** Every stored signing secret (current and previous), as stored: sealed under a master key, or plain. */
  secrets: string[];
  /** The file's size in bytes. */
  bytes: number;
}

/** The tables every Hookline store has had since its first schema version. */
const CORE_TABLES = ["settings", "accounts", "api_keys", "endpoints", "events", "deliveries", "attempts"];

/**
 * Copies the embedded store in `dataDir` to `file` (which must not exist) while a server
 * may be running on it and writing. `VACUUM INTO` reads everything in one read
 * transaction, so the copy is one committed state: every write committed before it
 * started, none after. In WAL mode a reader does not block the writer. (node:sqlite's
 * `backup()` copies page batches and starts over whenever another connection writes,
 * so under steady ingest it does not finish until ingest pauses.) The copy is written
 * beside `file`, checked, synced, then renamed, so `file` is either absent or complete.
 */
export function snapshotStore(dataDir: string, file: string): StoreSummary {
  const source = join(dataDir, "hookline.db");
  if (!existsSync(source)) {
    throw new HooklineError(
      "not_a_data_dir",
      `${dataDir} is not a Hookline data directory: it has no hookline.db (give the one \`hookline serve --data-dir\` uses)`,
    );
  }
  if (existsSync(file)) {
    throw new HooklineError("backup_exists", `${file} already exists: choose another name, or remove it first`);
  }
  const partial = `${file}.partial-${process.pid}`;
  // A stopped store is read immutable: a plain read-only open would leave -wal and -shm files
  // owned by whoever runs the backup (root, from a timer), which the service then cannot open.
  // The lock keeps a server from starting meanwhile; a running server's store is read as usual.
  let release: (() => void) | null = null;
  try {
    release = lockDataDir(dataDir);
  } catch (error) {
    if ((error as HooklineError).code !== "data_dir_in_use") throw error;
  }
  const hadShm = existsSync(`${source}-shm`);
  try {
    let db: DatabaseSync;
    try {
      let location: string | URL = source;
      if (release && !existsSync(`${source}-wal`)) {
        location = pathToFileURL(source);
        location.searchParams.set("immutable", "1");
      }
      db = new DatabaseSync(location, { readOnly: true });
    } catch (error) {
      throw new HooklineError("store_unavailable", `cannot open ${source}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      db.exec("PRAGMA busy_timeout = 5000");
      checkSchemaVersion(db, source);
      db.prepare("VACUUM INTO ?").run(partial);
    } catch (error) {
      if (error instanceof HooklineError) throw error;
      throw new HooklineError("backup_failed", `cannot copy ${source} to ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      db.close();
    }
    const summary = verifyStore(partial, `the copy of ${source}`);
    // Event data and key hashes: readable by the operator only, like master.key.
    chmodSync(partial, 0o600);
    syncFile(partial);
    renameSync(partial, file);
    syncDirectory(dirname(file));
    return summary;
  } finally {
    if (existsSync(partial)) unlinkSync(partial);
    if (release) {
      // Left by reading a stopped store's leftover WAL (after a crash): not ours to keep.
      if (!hadShm && existsSync(`${source}-shm`)) unlinkSync(`${source}-shm`);
      release();
    }
  }
}

/**
 * Checks that `path` is a whole, undamaged Hookline store this version can run, makes it
 * one self-contained file (rollback journal, so no -wal belongs to it), and says what it
 * holds. `name` is how messages call it. Writes to `path`: use it on a copy.
 */
export function verifyStore(path: string, name: string): StoreSummary {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (error) {
    throw damaged(name, error);
  }
  try {
    try {
      // A plain copy of a running store's hookline.db is in WAL mode; a backup is not.
      db.exec("PRAGMA journal_mode = DELETE");
      const problems = db
        .prepare("PRAGMA integrity_check(5)")
        .all()
        .map((row) => String(row.integrity_check));
      if (problems.length !== 1 || problems[0] !== "ok") {
        throw new HooklineError("backup_damaged", `${name} is damaged (${problems.join("; ")}): use another backup`);
      }
    } catch (error) {
      if (error instanceof HooklineError) throw error;
      throw damaged(name, error);
    }
    const tables = new Set(
      db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .all()
        .map((row) => String(row.name)),
    );
    const missing = CORE_TABLES.filter((table) => !tables.has(table));
    const schemaVersion = Number(db.prepare("PRAGMA user_version").get()?.user_version);
    if (schemaVersion === 0 || missing.length > 0) {
      throw new HooklineError(
        "not_a_backup",
        `${name} is an SQLite database but not a Hookline store${missing.length > 0 ? ` (it has no ${missing.join(", ")} table)` : " (it has no schema version)"}`,
      );
    }
    checkSchemaVersion(db, name);
    const count = (sql: string) => Number(db.prepare(sql).get()?.n);
    const secrets: string[] = [];
    for (const row of db.prepare("SELECT secret, previous_secret FROM endpoints").all()) {
      secrets.push(String(row.secret));
      if (row.previous_secret !== null) secrets.push(String(row.previous_secret));
    }
    return {
      schemaVersion,
      accounts: count("SELECT count(*) AS n FROM accounts"),
      endpoints: count("SELECT count(*) AS n FROM endpoints"),
      events: count("SELECT count(*) AS n FROM events"),
      deliveries: count("SELECT count(*) AS n FROM deliveries"),
      unfinished: count("SELECT count(*) AS n FROM deliveries WHERE status IN ('pending', 'delivering')"),
      attempts: count("SELECT count(*) AS n FROM attempts"),
      secrets,
      bytes: statSync(path).size,
    };
  } finally {
    db.close();
  }
}

/**
 * Copies the backup `file` into `dataDir` as `hookline.db.restoring` and verifies that copy
 * (not the original, which could change in between). Returns the staged file, synced to
 * disk, and what it holds; the caller puts it in place with `installStaged` or removes it.
 */
export function stageRestore(file: string, dataDir: string): { staged: string; summary: StoreSummary } {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new HooklineError("backup_not_found", `there is no backup file ${file}`);
  }
  const staged = join(dataDir, "hookline.db.restoring");
  // Left by a restore that was cut short: it was never in place.
  removeWithSidecars(staged);
  try {
    copyFileSync(file, staged);
    const summary = verifyStore(staged, file);
    syncFile(staged);
    return { staged, summary };
  } catch (error) {
    removeWithSidecars(staged);
    throw error;
  }
}

/**
 * Replaces `<dataDir>/hookline.db` with the verified `staged` file in one rename. The old
 * store's WAL is first merged into it (its -wal would otherwise be replayed into the new
 * file at the next open, corrupting it); until the rename the old store stays whole.
 * The caller holds the data directory's lock, so no Hookline has the old store open.
 * @returns whether a store was replaced
 */
export function installStaged(staged: string, dataDir: string): boolean {
  const target = join(dataDir, "hookline.db");
  const replaced = existsSync(target);
  if (replaced) {
    try {
      const old = new DatabaseSync(target);
      try {
        old.exec("PRAGMA busy_timeout = 1000; PRAGMA journal_mode = DELETE");
      } finally {
        old.close();
      }
    } catch (error) {
      const message = (error as Error).message;
      if (/locked|busy/i.test(message)) {
        throw new HooklineError(
          "data_dir_in_use",
          `${target} is open in another process: stop it, then restore again (nothing was changed)`,
          { cause: error },
        );
      }
      // A damaged store (the reason for many a restore) cannot merge its WAL: it is being replaced anyway.
    }
    for (const sidecar of ["-wal", "-journal"]) if (existsSync(target + sidecar)) unlinkSync(target + sidecar);
  }
  renameSync(staged, target);
  syncDirectory(dataDir);
  if (existsSync(`${target}-shm`)) unlinkSync(`${target}-shm`);
  return replaced;
}

function checkSchemaVersion(db: DatabaseSync, name: string): void {
  let version: number;
  try {
    version = Number(db.prepare("PRAGMA user_version").get()?.user_version);
  } catch (error) {
    throw damaged(name, error);
  }
  if (version > MIGRATIONS.length) {
    throw new HooklineError(
      "store_too_new",
      `${name} was made by a newer Hookline (schema version ${version}, this one knows ${MIGRATIONS.length}): use that version or a newer one`,
    );
  }
}

function damaged(name: string, error: unknown): HooklineError {
  const message = (error as Error).message;
  return /not a database/i.test(message)
    ? new HooklineError("not_a_backup", `${name} is not a Hookline backup: ${message}`, { cause: error })
    : new HooklineError("backup_damaged", `${name} is damaged (${message}): use another backup`, { cause: error });
}

/** Removes a staged file that was not put in place (it is gone already once it was). */
export function discardStaged(staged: string): void {
  removeWithSidecars(staged);
}

function removeWithSidecars(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) if (existsSync(path + suffix)) unlinkSync(path + suffix);
}

function syncFile(path: string): void {
  const fd = openSync(path, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
