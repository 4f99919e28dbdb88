import { existsSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { pathToFileURL } from "node:url";
import { newestEventSql, plainSecretsSql, type StoreInspection, sealedKeyIdsSql } from "../inspection.ts";
import { MIGRATIONS } from "./migrations.ts";

/**
 * Reads the embedded store in `dataDir` without writing anything: null when it has no
 * database file yet. With no `-wal` file no process has it open, so it is opened
 * immutable (a read-only open would leave `-wal` and `-shm` files behind).
 */
export function inspectStore(dataDir: string): StoreInspection | null {
  const file = join(dataDir, "hookline.db");
  if (!existsSync(file)) return null;
  let location: string | URL = file;
  if (!existsSync(`${file}-wal`)) {
    location = pathToFileURL(file);
    location.searchParams.set("immutable", "1");
  }
  const db = new DatabaseSync(location, { readOnly: true });
  try {
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    const inspection: StoreInspection = {
      version,
      expected: MIGRATIONS.length,
      sealedKeyIds: [],
      plainSecrets: 0,
      newestEventAt: null,
    };
    if (version === 0) return inspection;
    const keyIds = db.prepare(sealedKeyIdsSql("endpoints")).all() as { key_id: string }[];
    inspection.sealedKeyIds = keyIds.map((row) => row.key_id);
    inspection.plainSecrets = (db.prepare(plainSecretsSql("endpoints")).get() as { n: number }).n;
    const newest = db.prepare(newestEventSql("events")).get() as { created_at: number } | undefined;
    inspection.newestEventAt = newest?.created_at ?? null;
    return inspection;
  } finally {
    db.close();
  }
}
