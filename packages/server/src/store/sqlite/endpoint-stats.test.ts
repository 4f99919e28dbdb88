import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { openDatabase } from "./database.ts";
import { endpointStatsQueries } from "./endpoint-stats.ts";

const HOUR = 3_600_000;
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % HOUR);

it("endpoint health adds up attempts per hour, keeps the last one, and drops hours older than 8 days", () => {
  const dir = mkdtempSync(join(tmpdir(), "hookline-stats-"));
  const db = openDatabase(dir);
  try {
    const stats = endpointStatsQueries(db);
    const attempt = (statusCode: number | null, durationMs: number) => ({
      startedAt: T0,
      durationMs,
      statusCode,
      error: statusCode === null ? ("timeout" as const) : null,
      responseSnippet: null,
      requestHeaders: {},
      trigger: "scheduled" as const,
    });
    const write = (at: number, attempts: ReturnType<typeof attempt>[]) => {
      const tally = stats.tally(at);
      for (const a of attempts) tally.count("ep_1", a);
      tally.write();
    };
    write(T0 + 10, [attempt(200, 10), attempt(500, 30)]);
    write(T0 + 20, [attempt(null, 50)]);
    write(T0 + HOUR, [attempt(204, 5)]);
    const rows = () => db.prepare("SELECT * FROM endpoint_stats ORDER BY hour").all();
    assert.deepEqual(
      rows().map((r) => [r.hour, r.attempts, r.succeeded, r.duration_ms, r.last_ok, r.last_status_code, r.last_error]),
      [
        [T0, 3, 1, 90, 0, null, "timeout"],
        [T0 + HOUR, 1, 1, 5, 1, 204, null],
      ],
    );
    write(T0 + 8 * 24 * HOUR + HOUR + 5, [attempt(200, 1)]);
    assert.deepEqual(
      rows().map((r) => r.hour),
      [T0 + HOUR, T0 + 8 * 24 * HOUR + HOUR],
      "the hour more than 8 days before the new one is gone",
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
