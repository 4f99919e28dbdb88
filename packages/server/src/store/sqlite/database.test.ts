import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, it } from "node:test";
import { commitTogether, openDatabase, transaction } from "./database.ts";
import { MIGRATIONS } from "./migrations.ts";

describe("openDatabase", () => {
  it("opens the store durable: WAL with synchronous=FULL, migrated to the latest version", () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-db-"));
    try {
      const db = openDatabase(join(dir, "data"));
      assert.equal((db.prepare("PRAGMA journal_mode").get() as { journal_mode: string }).journal_mode, "wal");
      assert.equal((db.prepare("PRAGMA synchronous").get() as { synchronous: number }).synchronous, 2, "2 is FULL");
      assert.equal(
        (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
        MIGRATIONS.length,
      );
      db.close();
      // Opening again runs nothing twice.
      openDatabase(join(dir, "data")).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("commits independent calls together: one that throws leaves no trace, the others land", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-db-"));
    try {
      const db = openDatabase(dir);
      db.exec("CREATE TABLE t (v TEXT NOT NULL)");
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
      const results = await commitTogether(db, [
        async () => insert.run("a").changes,
        async () => {
          insert.run("half");
          throw new Error("bad call");
        },
        // A call with its own transaction nests as a savepoint.
        async () => transaction(db, () => insert.run("c").changes),
      ]);
      assert.deepEqual(
        results.map((r) => r.ok),
        [true, false, true],
      );
      assert.equal(db.isTransaction, false);
      assert.deepEqual(
        db
          .prepare("SELECT v FROM t ORDER BY v")
          .all()
          .map((r) => r.v),
        ["a", "c"],
      );
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when the transaction cannot even begin (the file is locked), every call fails and nothing throws", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-db-"));
    try {
      const db = openDatabase(dir);
      db.exec("PRAGMA busy_timeout = 20");
      const other = new DatabaseSync(join(dir, "hookline.db"));
      other.exec("BEGIN IMMEDIATE");
      const results = await commitTogether(db, [async () => 1, async () => 2]);
      assert.deepEqual(
        results.map((r) => r.ok),
        [false, false],
      );
      other.exec("ROLLBACK");
      other.close();
      assert.deepEqual(
        (await commitTogether(db, [async () => 1])).map((r) => r.ok),
        [true],
        "works again once the lock is gone",
      );
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
