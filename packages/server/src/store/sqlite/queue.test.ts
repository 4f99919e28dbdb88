import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { after, before, describe, it } from "node:test";
import { hashKey, newSigningSecret } from "../../ids.ts";
import type { Claim, ClaimRequest, Outcome, Scope, Store } from "../store.ts";
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
    const [result] = await store.ingest([{ scope, events }], now);
    assert.ok(result?.ok);
  };
  const claim = async (now: number, limit: number, held = new Map<string, number>()) => {
    const request: ClaimRequest = {
      now,
      limit,
      leaseMs: 60_000,
      excludeEndpoints: [],
      held,
      defaultMaxInFlight: 10,
      holdFactor: 1,
    };
    return (await store.settle([], request, now)).claims;
  };
  const outcome = (c: Claim, statusCode: number, nextAttemptAt: number | null): Outcome => ({
    claim: c,
    attempt: {
      startedAt: T0,
      durationMs: 1,
      statusCode,
      error: null,
      responseSnippet: "",
      requestHeaders: {},
      trigger: "scheduled",
    },
    status: statusCode < 300 ? "succeeded" : nextAttemptAt === null ? "failed" : "pending",
    scheduledAttempts: 1,
    nextAttemptAt,
    disableEndpoint: null,
  });

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
    const more = await claim(T0 + 40, 50, new Map([[a.id, 10]]));
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
    assert.ok(((await store.recoverEndpoint(scope, b.id, T0, T0 + 100_000, T0 + 92_000)) ?? 0) > 0);
    assertSummaryTrue("recover");
    await store.deleteEndpoint(scope, a.id, T0 + 93_000);
    assertSummaryTrue("delete");
    assert.equal(await store.nextDueAt(), T0 + 92_000, "the timer sees b's recovered deliveries");
  });
});
