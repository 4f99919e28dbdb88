import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HooklineError } from "./errors.ts";

/** Data directories this process holds (a second Hookline in the same process is refused too). */
const held = new Set<string>();

/**
 * Claims the embedded store's data directory for this process with `<dir>/hookline.pid`, so
 * two servers (or a server and `hookline keys rotate-master`) never share one. A file left by a
 * process that no longer runs (killed) is taken over. Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, "hookline.pid");
  if (held.has(dir)) throw inUse(dir, process.pid, file);
  for (;;) {
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new HooklineError(
          "store_unavailable",
          `cannot open the data directory ${dir}: ${(error as Error).message}`,
        );
      }
    }
    const pid = Number(readFileSync(file, "utf8").trim());
    // Our own pid in the file is a leftover of an earlier life (a container restarts with the same pid).
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && running(pid)) throw inUse(dir, pid, file);
    unlinkSync(file);
  }
  held.add(dir);
  return () => {
    held.delete(dir);
    try {
      if (Number(readFileSync(file, "utf8").trim()) === process.pid) unlinkSync(file);
    } catch {}
  };
}

/**
 * Who holds the data directory, without taking it (`hookline doctor`): null when no pid file
 * is there; `running` false when the file was left by a process that is gone.
 */
export function dataDirHolder(dir: string): { pid: number; running: boolean } | null {
  let text: string;
  try {
    text = readFileSync(join(dir, "hookline.pid"), "utf8");
  } catch {
    return null;
  }
  const pid = Number(text.trim());
  const valid = Number.isInteger(pid) && pid > 0;
  return { pid, running: valid && pid !== process.pid && running(pid) };
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function inUse(dir: string, pid: number, file: string) {
  return new HooklineError(
    "data_dir_in_use",
    `another Hookline (pid ${pid}) is using the data directory ${dir}: stop it first (if that process is not Hookline, remove ${file})`,
  );
}
