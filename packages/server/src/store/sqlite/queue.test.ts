import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { attemptOutcome, claimRequest } from "../../../test/helpers/store-kit.ts";
import { hashKey, newSigningSecret } from "../../ids.ts";
import type { Claim, ClaimRequest, Scope, Store } from "../store.ts";
import { createSqliteStore } from "./sqlite-store.ts";

const T0 = 1_800_000_000_000;

describe("the delivery queue", () => {
  let dir: string;
  let store: Store;
  let reader: DatabaseSync;
  let scope: Scope;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "hookline-queue-"));
    store = createSqliteStore(dir);
    reader = new DatabaseSync(join(dir, "hookline.db"), { readOnly: true });
    const account = await store.createAccount("Queue", { test: hashKey("hl_test_q"), live: hashKey("hl_live_q") }, T0);
    scope = { accountId: account.id, environment: "test" };
  });
  after(async () => {
    reader.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const endpoint = (maxInFlight: number | null = null, eventTypes: string[] | null = null) =>
    store.createEndpoint(
      scope,
      {
        url: "http://127.0.0.1:9/",
        description: "",
        eventTypes,
        rateLimitPerS: null,
        maxInFlight,
        retrySchedule: null,
        secret: newSigningSecret(),
      },
      T0,
    );
  const send = async (type: string, count: number, now: number) => {
    const events = Array.from({ length: count }, () => ({ type, dataJson: "{}", idempotencyKey: null }));
    const {
      results: [result],
    } = await store.ingest([{ scope, events }], now);
    assert.ok(result?.ok);
  };
  const claim = async (now: number, limit: number, room = new Map<string, number>()) =>
    (await store.settle([], claimRequest(now, limit, { room }), now)).claims;
  const outcome = (c: Claim, statusCode: number, nextAttemptAt: number | null) =>
    attemptOutcome(c, statusCode, nextAttemptAt, T0);

  /** Every endpoint's next_due_at must equal the earliest due_at of its deliveries. */
  function assertSummaryTrue(when: string) {
    const wrong = reader
      .prepare(
        `SELECT id, next_due_at, (SELECT min(due_at) FROM deliveries WHERE endpoint_id = endpoints.id AND due_at IS NOT NULL) AS actual
         FROM endpoints WHERE next_due_at IS NOT actual`,
      )
      .all();
    assert.deepEqual(wrong, [], `queue summary out of date after ${when}`);
  }

  it("claims endpoint by endpoint, oldest first, within each endpoint's cap", async () => {
    const a = await endpoint(10, ["a"]);
    const b = await endpoint(null, ["b"]);
    await send("a", 100, T0);
    await send("b", 5, T0 + 10);
    assertSummaryTrue("ingest");

    const claims = await claim(T0 + 20, 50);
    assertSummaryTrue("a claim");
    assert.equal(claims.filter((c) => c.endpointId === a.id).length, 10, "a's cap");
    assert.equal(claims.filter((c) => c.endpointId === b.id).length, 5, "b is not starved by a's backlog");
    const aIds = claims.filter((c) => c.endpointId === a.id).map((c) => c.eventId);
    assert.deepEqual(aIds, [...aIds].sort(), "oldest first");

    // With a at its cap, only b's new work is claimed.
    await send("b", 3, T0 + 30);
    const more = await claim(T0 + 40, 50, new Map([[a.id, 0]]));
    assert.deepEqual(new Set(more.map((c) => c.endpointId)), new Set([b.id]));

    // Outcomes for all of b's claims: successes, one rescheduled, one failed for good.
    // b then has nothing due until the rescheduled one; a release and a lease expiry follow.
    const bClaims = [...claims, ...more].filter((c) => c.endpointId === b.id);
    const [second, third, ...done] = bClaims;
    const fourth = claims.find((c) => c.endpointId === a.id);
    assert.ok(second && third && fourth);
    await store.settle(
      [outcome(second, 500, T0 + 3_600_000), outcome(third, 500, null), ...done.map((c) => outcome(c, 204, null))],
      null,
      T0 + 50,
    );
    assertSummaryTrue("outcomes");
    await store.releaseClaims([fourth], T0 + 60);
    assertSummaryTrue("a release");
    const afterLease = await claim(T0 + 70_000, 500, new Map());
    assert.ok(afterLease.length > 0, "expired leases are claimed again");
    assertSummaryTrue("a claim after lease expiry");

    // Manual retry, disable, recover, delete.
    assert.notEqual(await store.requestRetry(scope, third.deliveryId, T0 + 80_000), null);
    assertSummaryTrue("a retry request");
    await send("b", 2, T0 + 85_000);
    await store.updateEndpoint(scope, b.id, { enabled: false }, T0 + 90_000);
    assertSummaryTrue("disabling");
    await store.updateEndpoint(scope, b.id, { enabled: true }, T0 + 91_000);
    const recovered = await store.recoverEndpoint(scope, b.id, T0, T0 + 100_000, T0 + 92_000);
    assert.ok(typeof recovered === "number" && recovered > 0);
    assertSummaryTrue("recover");
    await store.deleteEndpoint(scope, a.id, T0 + 93_000);
    assertSummaryTrue("delete");
    assert.equal(await store.nextDueAt(), T0 + 92_000, "the timer sees b's recovered deliveries");
  });

  it("ingest leases new deliveries to the caller within the claim's limits, never ahead of older due work", async () => {
    const fresh = await endpoint(2, ["fresh"]);
    const backlogged = await endpoint(5, ["backlogged"]);
    const excluded = await endpoint(5, ["excluded"]);
    await send("backlogged", 1, T0); // due now, not claimed: this endpoint's new work must queue behind it
    const lease: ClaimRequest = {
      now: T0 + 1,
      limit: 100,
      leaseMs: 60_000,
      excludeEndpoints: [excluded.id],
      room: new Map([[fresh.id, 3]]),
      held: new Map(),
      node: "test-node",
      listenersOnly: false,
      defaultMaxInFlight: 10,
    };
    const events = (type: string, count: number) =>
      Array.from({ length: count }, () => ({ type, dataJson: '{"n":1}', idempotencyKey: null }));
    const { results, claims } = await store.ingest(
      [
        { scope, events: events("fresh", 5) },
        { scope, events: events("backlogged", 2) },
        { scope, events: events("excluded", 2) },
      ],
      T0 + 1,
      lease,
    );
    assert.ok(results.every((r) => r.ok));
    assertSummaryTrue("an ingest that leased");
    // fresh: the caller gives it room for 3; the other 2 stay due.
    assert.equal(claims.length, 3);
    assert.ok(claims.every((c) => c.endpointId === fresh.id && c.leaseUntil === T0 + 1 + 60_000));
    const [first] = claims;
    assert.ok(first);
    assert.match(first.body, /"type":"fresh"/);
    assert.equal(first.url, "http://127.0.0.1:9/");
    assert.equal(first.scheduledAttempts, 0);
    const rows = reader
      .prepare("SELECT status, count(*) AS n FROM deliveries WHERE endpoint_id = ? GROUP BY status ORDER BY status")
      .all(fresh.id);
    assert.deepEqual(
      rows.map((r) => ({ ...r })),
      [
        { status: "delivering", n: 3 },
        { status: "pending", n: 2 },
      ],
    );

    const queued = reader.prepare("SELECT DISTINCT status FROM deliveries WHERE endpoint_id = ?");
    assert.deepEqual(
      queued.all(backlogged.id).map((r) => r.status),
      ["pending"],
      "queued behind its older work",
    );
    assert.deepEqual(
      queued.all(excluded.id).map((r) => r.status),
      ["pending"],
      "excluded by the caller",
    );

    // The leases are real: a claim does not take those deliveries again, only what was left due.
    const claimed = await claim(T0 + 2, 100, new Map([[fresh.id, 0]]));
    assert.ok(claimed.every((c) => !claims.some((l) => l.deliveryId === c.deliveryId)));
    // An outcome written under an ingest lease counts like any other.
    await store.settle([outcome(first, 204, null)], null, T0 + 3);
    assert.equal((await store.getDelivery(scope, first.deliveryId))?.status, "succeeded");

    // The limit is for the whole call; fresh still has due work, so nothing of it is leased ahead.
    const other = await endpoint(5, ["other"]);
    const limited = await store.ingest([{ scope, events: [...events("fresh", 1), ...events("other", 3)] }], T0 + 4, {
      ...lease,
      limit: 1,
      room: new Map(),
    });
    assert.deepEqual(
      limited.claims.map((c) => c.endpointId),
      [other.id],
    );
  });
});
