import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { openDatabase } from "./database.ts";
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
});
