import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openDatabase } from "../packages/server/src/store/sqlite/database.ts";
import { EVENT_BYTES, eventJson } from "./payloads.ts";

/**
 * The durable-write ceiling of this disk and SQLite: 1 KiB rows inserted into a
 * table with nothing but an integer key, `perCommit` rows a commit, with the
 * server's own pragmas (WAL, synchronous=FULL). No HTTP, no ids, no indexes: no
 * ingest that stores each event durably in SQLite can be faster on this machine.
 *
 *   npx node bench/write-ceiling.ts [rows=200000] [per commit=1000]
 */
export interface WriteCeiling {
  rows: number;
  perCommit: number;
  rowsPerS: number;
  cpuPercentOfCore: number;
}

export function measureWriteCeiling(rows: number, perCommit: number): WriteCeiling {
  const dir = mkdtempSync(join(tmpdir(), "hookline-write-ceiling-"));
  const db = openDatabase(dir);
  try {
    db.exec("CREATE TABLE ceiling (id INTEGER PRIMARY KEY, body TEXT NOT NULL) STRICT");
    const insert = db.prepare("INSERT INTO ceiling (body) VALUES (?)");
    const body = eventJson(0);
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let written = 0; written < rows; written += perCommit) {
      db.exec("BEGIN");
      for (let i = 0; i < perCommit; i++) insert.run(body);
      db.exec("COMMIT");
    }
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    return {
      rows,
      perCommit,
      rowsPerS: Math.round(rows / seconds),
      cpuPercentOfCore: Math.round(((used.user + used.system) / 1e6 / seconds) * 100),
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rows = Number(process.argv[2] ?? 200_000);
  const perCommit = Number(process.argv[3] ?? 1000);
  console.log(JSON.stringify({ rowBytes: EVENT_BYTES, ...measureWriteCeiling(rows, perCommit) }));
}
