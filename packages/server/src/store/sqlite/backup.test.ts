import assert from "node:assert/strict";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, it } from "node:test";
import { HooklineError } from "../../errors.ts";
import { installStaged, snapshotStore, stageRestore, verifyStore } from "./backup.ts";
import { openDatabase } from "./database.ts";
import { MIGRATIONS } from "./migrations.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hookline-backup-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const addAccount = (db: DatabaseSync, id: string) =>
  db.prepare("INSERT INTO accounts (id, name, created_at) VALUES (?, ?, 0)").run(id, id);
const accountsIn = (file: string) => {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db
      .prepare("SELECT id FROM accounts ORDER BY id")
      .all()
      .map((row) => row.id);
  } finally {
    db.close();
  }
};
const refusal = (code: string) => (error: unknown) => error instanceof HooklineError && error.code === code;

describe("snapshotStore", () => {
  it("copies every committed write, still in the WAL, and none of a transaction in progress", () => {
    const store = join(dir, "data");
    const db = openDatabase(store);
    // A second connection, like the server's writer thread: its commits sit in the WAL.
    const writer = new DatabaseSync(join(store, "hookline.db"));
    try {
      addAccount(db, "acc_committed");
      writer.exec("BEGIN IMMEDIATE");
      addAccount(writer, "acc_uncommitted");
      const summary = snapshotStore(store, join(dir, "backup.db"));
      writer.exec("COMMIT");
      assert.deepEqual(accountsIn(join(dir, "backup.db")), ["acc_committed"]);
      assert.equal(summary.accounts, 1);
      assert.equal(summary.schemaVersion, MIGRATIONS.length);
      assert.equal(statSync(join(dir, "backup.db")).mode & 0o777, 0o600, "owner-only");
      assert.ok(!existsSync(join(dir, "backup.db-wal")), "one self-contained file");
    } finally {
      writer.close();
      db.close();
    }
  });

  it("refuses to overwrite a file, and a directory without a store (making none)", () => {
    const store = join(dir, "data");
    openDatabase(store).close();
    writeFileSync(join(dir, "taken"), "mine");
    assert.throws(() => snapshotStore(store, join(dir, "taken")), refusal("backup_exists"));
    assert.throws(() => snapshotStore(join(dir, "nothing"), join(dir, "b.db")), refusal("not_a_data_dir"));
    assert.ok(!existsSync(join(dir, "nothing", "hookline.db")));
  });
});

describe("verifyStore", () => {
  it("refuses a file that is not SQLite, an SQLite file that is not Hookline's, and a newer schema", () => {
    writeFileSync(join(dir, "text"), "just some text, long enough to look like something ".repeat(100));
    assert.throws(() => verifyStore(join(dir, "text"), "text"), refusal("not_a_backup"));

    const other = new DatabaseSync(join(dir, "other.db"));
    other.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hello')");
    other.close();
    assert.throws(() => verifyStore(join(dir, "other.db"), "other"), /not a Hookline store/);

    const newer = openDatabase(join(dir, "newer"));
    newer.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    newer.close();
    assert.throws(() => verifyStore(join(dir, "newer", "hookline.db"), "newer"), refusal("store_too_new"));
  });

  it("refuses a damaged file", () => {
    const store = join(dir, "data");
    const db = openDatabase(store);
    db.exec("BEGIN");
    for (let i = 0; i < 2000; i++) addAccount(db, `acc_${String(i).padStart(5, "0")}_${"x".repeat(100)}`);
    db.exec("COMMIT");
    db.close();
    snapshotStore(store, join(dir, "backup.db"));
    const size = statSync(join(dir, "backup.db")).size;
    const fd = openSync(join(dir, "backup.db"), "r+");
    writeSync(fd, Buffer.alloc(8192, 0xa5), 0, 8192, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    assert.throws(() => verifyStore(join(dir, "backup.db"), "backup.db"), refusal("backup_damaged"));
  });
});

describe("installStaged", () => {
  it("replaces a store whose last commits are still in its WAL without replaying that WAL into the new one", () => {
    // A store as a killed server leaves it: commits in hookline.db-wal, not yet in hookline.db.
    const live = join(dir, "live");
    const db = openDatabase(live);
    addAccount(db, "acc_old");
    const target = join(dir, "target");
    mkdirSync(target);
    for (const suffix of ["", "-wal", "-shm"]) {
      copyFileSync(join(live, `hookline.db${suffix}`), join(target, `hookline.db${suffix}`));
    }
    db.close();
    assert.ok(statSync(join(target, "hookline.db-wal")).size > 0);

    const fresh = openDatabase(join(dir, "fresh"));
    addAccount(fresh, "acc_new");
    fresh.close();
    snapshotStore(join(dir, "fresh"), join(dir, "backup.db"));
    const { staged } = stageRestore(join(dir, "backup.db"), target);
    assert.equal(installStaged(staged, target), true);
    assert.ok(!existsSync(join(target, "hookline.db-wal")));

    const restored = openDatabase(target);
    try {
      assert.deepEqual(
        restored
          .prepare("SELECT id FROM accounts")
          .all()
          .map((row) => row.id),
        ["acc_new"],
      );
      assert.equal(restored.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    } finally {
      restored.close();
    }
  });

  it("replaces a damaged store and its stale WAL", () => {
    const live = join(dir, "live");
    const db = openDatabase(live);
    addAccount(db, "acc_old");
    const target = join(dir, "target");
    mkdirSync(target);
    copyFileSync(join(live, "hookline.db-wal"), join(target, "hookline.db-wal"));
    db.close();
    writeFileSync(join(target, "hookline.db"), "garbage ".repeat(1000));

    openDatabase(join(dir, "fresh")).close();
    snapshotStore(join(dir, "fresh"), join(dir, "backup.db"));
    const { staged } = stageRestore(join(dir, "backup.db"), target);
    installStaged(staged, target);
    const restored = openDatabase(target);
    try {
      assert.equal(restored.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
      assert.equal(restored.prepare("SELECT count(*) AS n FROM accounts").get()?.n, 0);
    } finally {
      restored.close();
    }
  });

  it("leaves nothing behind when the backup is refused", () => {
    writeFileSync(join(dir, "bad.db"), "not a database at all ".repeat(100));
    const target = join(dir, "target");
    mkdirSync(target);
    assert.throws(() => stageRestore(join(dir, "bad.db"), target), refusal("not_a_backup"));
    assert.deepEqual(
      ["hookline.db", "hookline.db.restoring"].filter((name) => existsSync(join(target, name))),
      [],
    );
  });
});
