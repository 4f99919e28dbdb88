import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { attemptOutcome, claimRequest } from "../../../test/helpers/store-kit.ts";
import { hashKey, newSigningSecret } from "../../ids.ts";
import { type Claim, METRICS_COUNT_CAP, type Scope, type Store } from "../store.ts";
import { createSqliteStore } from "./sqlite-store.ts";

const T0 = 1_800_000_000_000;
const HOUR = 3_600_000;

describe("the store's figures for /metrics", () => {
  let dir: string;
  let store: Store;
  let scope: Scope;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "hookline-metrics-"));
    store = createSqliteStore(dir);
    const account = await store.createAccount(
      "Metrics",
      { test: hashKey("hl_test_m"), live: hashKey("hl_live_m") },
      T0,
    );
    scope = { accountId: account.id, environment: "test" };
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const endpoint = (eventTypes: string[], enabled = true) =>
    store.createEndpoint(
      scope,
      {
        url: "http://127.0.0.1:9/",
        description: "",
        eventTypes,
        rateLimitPerS: null,
        maxInFlight: null,
        retrySchedule: null,
        secret: newSigningSecret(),
        enabled,
      },
      T0,
    );
  const send = async (type: string, count: number, now: number) => {
    const events = Array.from({ length: count }, () => ({ type, dataJson: "{}", idempotencyKey: null }));
    const { results } = await store.ingest([{ scope, events }], now);
    assert.ok(results[0]?.ok);
  };
  /** Up to `limit` claims, at most `perEndpoint` of each endpoint. */
  const claim = async (now: number, limit: number, perEndpoint: number) =>
    (await store.settle([], claimRequest(now, limit, { defaultMaxInFlight: perEndpoint }), now)).claims;
  const outcome = (c: Claim, statusCode: number, nextAttemptAt: number | null) =>
    attemptOutcome(c, statusCode, nextAttemptAt, T0);

  it("counts queued and due deliveries apart, dates the oldest due one, and sorts disabled endpoints by cause", async () => {
    const empty = await store.metricsSnapshot(T0);
    assert.deepEqual(empty, {
      queued: 0,
      due: 0,
      oldestDueAt: null,
      disabledEndpoints: { byRequest: 0, automatic: 0 },
    });

    await endpoint(["a"]);
    const gone = await endpoint(["g"]);
    await endpoint(["x"], false);
    await send("a", 5, T0);
    await send("g", 1, T0 + 5);
    // Two of a's leased, g's answered 410 (its endpoint is disabled), one of a's retried in an hour.
    const claims = await claim(T0 + 10, 3, 2);
    const [first, second, goneClaim] = [
      ...claims.filter((c) => c.endpointId !== gone.id),
      ...claims.filter((c) => c.endpointId === gone.id),
    ];
    assert.ok(first && second && goneClaim?.endpointId === gone.id);
    await store.settle([outcome(first, 500, T0 + HOUR), outcome(goneClaim, 410, null)], null, T0 + 20);

    const figures = await store.metricsSnapshot(T0 + 30);
    assert.equal(figures.queued, 5, "a's five: three due, one leased, one scheduled for a retry");
    assert.equal(figures.due, 3);
    assert.equal(figures.oldestDueAt, T0);
    assert.deepEqual(figures.disabledEndpoints, { byRequest: 1, automatic: 1 });

    // Once the lease runs out, the leased one is due again; the retry is not due before its time.
    assert.equal((await store.metricsSnapshot(T0 + 10 + 60_000)).due, 4);
    assert.equal((await store.metricsSnapshot(T0 + HOUR)).due, 5);
    // Nothing due before T0 (the clock went back): no oldest due delivery.
    assert.equal((await store.metricsSnapshot(T0 - 1)).oldestDueAt, null);
  });

  it("stops counting one past the cap", async () => {
    const big = await endpoint(["big"]);
    const db = new DatabaseSync(join(dir, "hookline.db"));
    try {
      db.exec("BEGIN");
      const insert = db.prepare(`INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status,
        attempt_count, scheduled_attempts, next_attempt_at, due_at, manual, created_at, updated_at)
        VALUES (?1, 'evt_x', ?2, ?3, 'test', 'pending', 0, 0, ?4, ?4, 0, ?4, ?4)`);
      for (let i = 0; i < METRICS_COUNT_CAP + 5; i++) insert.run(`dlv_big_${i}`, big.id, scope.accountId, T0);
      db.prepare("UPDATE endpoints SET next_due_at = ? WHERE id = ?").run(T0, big.id);
      db.exec("COMMIT");
    } finally {
      db.close();
    }
    const figures = await store.metricsSnapshot(T0 + HOUR);
    assert.equal(figures.queued, METRICS_COUNT_CAP + 1);
    assert.equal(figures.due, METRICS_COUNT_CAP + 1);
  });
});
