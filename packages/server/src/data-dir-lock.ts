import { chownSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { HooklineError } from "./errors.ts";

/**
 * Data directories this process holds (a second Hookline in the same process is refused too),
 * with the connection holding each lock: referenced here, so it is never garbage-collected (which
 * would close it and drop the lock) while a caller keeps only the release function, or nothing.
 */
const held = new Map<string, DatabaseSync>();

const LOCK_FILE = "hookline.lock";
const PID_FILE = "hookline.pid";

/**
 * Claims the embedded store's data directory for this process, so two servers (or a server
 * and `hookline keys rotate-master` or `restore`) never share one. The claim is an exclusive
 * SQLite lock on `<dir>/hookline.lock`, an fcntl lock the kernel drops when the process ends,
 * however it ends: nothing is left to take over after a crash, and two processes with the same
 * pid (each container's pid 1) cannot both hold it. `<dir>/hookline.pid` only says who holds
 * it, for messages and `hookline doctor`. Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  if (held.has(dir)) throw inUse(dir, process.pid);
  let lock: DatabaseSync;
  try {
    mkdirSync(dir, { recursive: true });
    lock = new DatabaseSync(join(dir, LOCK_FILE));
  } catch (error) {
    throw new HooklineError("store_unavailable", `cannot open the data directory ${dir}: ${(error as Error).message}`);
  }
  try {
    // In EXCLUSIVE locking mode the lock a write takes is kept until the connection closes. A real
    // write: a file this user may not write opens read-only, and would only get a shared lock.
    lock.exec(
      `PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS held (pid INTEGER);
      DELETE FROM held; INSERT INTO held VALUES (${process.pid}); COMMIT`,
    );
  } catch (error) {
    lock.close();
    if (isBusy(error)) throw inUse(dir, pidIn(dir));
    throw new HooklineError("store_unavailable", `cannot lock the data directory ${dir}: ${(error as Error).message}`);
  }
  // Made by root (a restore under sudo): the service user must be able to take it next.
  ownLikeDataDir(join(dir, LOCK_FILE), dir);
  const pidFile = join(dir, PID_FILE);
  try {
    writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o644 });
  } catch {
    // Informational only: the lock above is what keeps others out.
  }
  held.set(dir, lock);
  return () => {
    if (!held.delete(dir)) return;
    try {
      unlinkSync(pidFile);
    } catch {}
    lock.close();
  };
}

/**
 * Who holds the data directory, without taking it (`hookline doctor`): null when no process
 * holds it and none left a pid file; `running` false when the file was left by a process that
 * is gone (it did not stop cleanly).
 */
export function dataDirHolder(dir: string): { pid: number | null; running: boolean } | null {
  const pid = pidIn(dir);
  const running = isHeld(dir);
  return running || pid !== null ? { pid, running } : null;
}

/** Whether some process holds the lock: a read of the lock file is refused while it does. */
function isHeld(dir: string): boolean {
  if (held.has(dir)) return true;
  let probe: DatabaseSync;
  try {
    probe = new DatabaseSync(join(dir, LOCK_FILE), { readOnly: true });
  } catch {
    return false; // no lock file: nobody has held it
  }
  try {
    probe.prepare("SELECT count(*) FROM sqlite_master").get();
    return false;
  } catch (error) {
    return isBusy(error);
  } finally {
    probe.close();
  }
}

/** A file written as root (a command under sudo) is given to the data directory's owner, who runs the service. */
export function ownLikeDataDir(file: string, dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dataDir);
  chownSync(file, uid, gid);
}

function pidIn(dir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dir, PID_FILE), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isBusy(error: unknown): boolean {
  return /database is locked|SQLITE_BUSY/i.test(String((error as Error)?.message ?? error));
}

function inUse(dir: string, pid: number | null) {
  const who = pid === null ? "another Hookline" : `another Hookline (pid ${pid})`;
  return new HooklineError("data_dir_in_use", `${who} is using the data directory ${dir}: stop it first`);
}
