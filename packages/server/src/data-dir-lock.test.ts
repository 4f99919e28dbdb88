import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dataDirHolder, lockDataDir } from "./data-dir-lock.ts";

/** Another process that takes the lock and holds it until killed. */
async function holderProcess(dir: string): Promise<ChildProcess> {
  const module = new URL("./data-dir-lock.ts", import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { lockDataDir } from ${JSON.stringify(module)}; lockDataDir(${JSON.stringify(dir)}); console.log("held"); setInterval(() => {}, 60_000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await once(child.stdout as NodeJS.ReadableStream, "data");
  return child;
}

describe("lockDataDir", () => {
  const root = mkdtempSync(join(tmpdir(), "hookline-lock-"));
  after(() => rmSync(root, { recursive: true, force: true }));

  it("holds the directory for this process until released", () => {
    const dir = join(root, "own");
    const release = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, "hookline.pid"), "utf8").trim(), String(process.pid));
    assert.throws(() => lockDataDir(dir), /another Hookline \(pid \d+\) is using the data directory/);
    assert.deepEqual(dataDirHolder(dir), { pid: process.pid, running: true });
    release();
    assert.equal(existsSync(join(dir, "hookline.pid")), false);
    assert.equal(dataDirHolder(dir), null);
    lockDataDir(dir)();
  });

  it("refuses while another process holds it, whatever pid it has; free again once that process is killed", async () => {
    const dir = join(root, "other");
    // Held once before, as on every restart: the lock file and its table are there already.
    lockDataDir(dir)();
    const child = await holderProcess(dir);
    try {
      assert.throws(() => lockDataDir(dir), new RegExp(`pid ${child.pid}\\) is using`));
      // Its pid file naming this process (two containers are both pid 1) does not let this one in.
      writeFileSync(join(dir, "hookline.pid"), `${process.pid}\n`);
      assert.throws(() => lockDataDir(dir), /is using the data directory/);
      assert.equal(dataDirHolder(dir)?.running, true);
    } finally {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    // Killed: the kernel dropped its lock; the pid file it left is only a note.
    assert.equal(dataDirHolder(dir)?.running, false);
    const release = lockDataDir(dir);
    release();
  });

  it("a pid file left behind never blocks a start, even if another process now has that pid", () => {
    const dir = join(root, "stale");
    lockDataDir(dir)();
    writeFileSync(join(dir, "hookline.pid"), `${process.ppid}\n`);
    assert.deepEqual(dataDirHolder(dir), { pid: process.ppid, running: false });
    const release = lockDataDir(dir);
    assert.equal(readFileSync(join(dir, "hookline.pid"), "utf8").trim(), String(process.pid));
    release();
  });

  it("a lock file this user may not write is refused, not shared (it would open read-only)", async (t) => {
    const dir = join(root, "readonly");
    lockDataDir(dir)();
    const lockFile = join(dir, "hookline.lock");
    if (process.getuid?.() !== 0) {
      chmodSync(lockFile, 0o444);
      assert.throws(() => lockDataDir(dir), /cannot lock the data directory/);
      return;
    }
    // As root every file is writable: try as another user (nobody) on root's files, which needs
    // Node and this module where nobody can reach them (not in a private temporary clone).
    const module = fileURLToPath(new URL("./data-dir-lock.ts", import.meta.url));
    if (![process.execPath, module].every(reachableByAnyone)) {
      t.skip("running as root, and nobody cannot reach Node or this module here");
      return;
    }
    chmodSync(root, 0o755);
    chmodSync(dir, 0o755);
    chmodSync(lockFile, 0o644);
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { lockDataDir } from ${JSON.stringify(pathToFileURL(module).href)}; try { lockDataDir(${JSON.stringify(dir)}); console.log("taken"); } catch (e) { console.log(e.message); }`,
      ],
      { uid: 65534, gid: 65534, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout?.on("data", (chunk) => {
      out += chunk;
    });
    await once(child, "exit");
    assert.match(out, /cannot lock the data directory/);
  });
});

/** Whether any user can read `file` and walk every directory above it. */
function reachableByAnyone(file: string): boolean {
  if ((statSync(file).mode & 0o004) === 0) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === dirname(dir)) return true;
  }
}
