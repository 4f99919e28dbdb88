import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { it } from "node:test";
import { MIGRATIONS } from "./migrations.ts";
import { createSqliteStore } from "./sqlite-store.ts";

it("an upgrade to the dashboard's schema (6) fills endpoint health from the last week's attempts", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hookline-upgrade-"));
  try {
    const old = new DatabaseSync(join(dir, "hookline.db"));
    for (const migration of MIGRATIONS.slice(0, 5)) old.exec(migration);
    old.exec("PRAGMA user_version = 5");
    const now = Date.now();
    old.exec(`
      INSERT INTO accounts VALUES ('acct_1', 'A', ${now});
      INSERT INTO endpoints (id, account_id, environment, url, description, enabled, secret, created_at, updated_at)
        VALUES ('ep_1', 'acct_1', 'test', 'http://127.0.0.1:9/', '', 1, 'whsec_x', ${now}, ${now});
      INSERT INTO events VALUES ('evt_1', 'acct_1', 'test', 't', '{}', NULL, ${now});
      INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status, attempt_count,
        scheduled_attempts, manual, created_at, updated_at)
        VALUES ('dlv_1', 'evt_1', 'ep_1', 'acct_1', 'test', 'pending', 3, 3, 0, ${now}, ${now});
      INSERT INTO attempts VALUES ('att_1', 'dlv_1', ${now - 2000}, 10, 200, NULL, NULL, '{}', 'scheduled');
      INSERT INTO attempts VALUES ('att_2', 'dlv_1', ${now - 1000}, 30, NULL, 'timeout', NULL, '{}', 'scheduled');
      INSERT INTO attempts VALUES ('att_3', 'dlv_1', ${now - 9 * 86_400_000}, 5, 200, NULL, NULL, '{}', 'scheduled');
    `);
    old.close();

    const store = createSqliteStore(dir);
    const stats = await store.endpointStats({ accountId: "acct_1", environment: "test" }, "ep_1", now - 7 * 86_400_000);
    await store.close();
    assert.ok(stats);
    const total = stats.hours.reduce(
      (sum, h) => ({
        attempts: sum.attempts + h.attempts,
        succeeded: sum.succeeded + h.succeeded,
        ms: sum.ms + h.durationMs,
      }),
      { attempts: 0, succeeded: 0, ms: 0 },
    );
    assert.deepEqual(total, { attempts: 2, succeeded: 1, ms: 40 }, "the attempt 9 days old is not brought over");
    assert.deepEqual(stats.last, { at: now - 1000, ok: false, statusCode: null, error: "timeout" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
