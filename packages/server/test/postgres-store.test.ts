import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { hashKey, newSigningSecret } from "../src/ids.ts";
import { createPostgresStore, type PostgresStore } from "../src/store/postgres/postgres-store.ts";
import type { Claim, Scope } from "../src/store/store.ts";
import { dropSchema, testSchema } from "./helpers/postgres.ts";
import { attemptOutcome, claimRequest, endpointInput } from "./helpers/store-kit.ts";

const url = process.env.HOOKLINE_TEST_DATABASE_URL;

/** Races only many writers can run into: PostgreSQL, not the single-writer embedded store. */
describe("PostgreSQL store under concurrent writers", {
  skip: url ? false : "runs in npm test's PostgreSQL pass (HOOKLINE_TEST_DATABASE_URL)",
}, () => {
  const schema = testSchema();
  let store: PostgresStore;
  let scope: Scope;
  let endpointId: string;
  const claim = (now: number) => claimRequest(now, 10);
  /** An account of the test's own (keys derived from `name`) with one endpoint. */
  const ownEndpoint = async (name: string) => {
    const account = await store.createAccount(
      name,
      { test: hashKey(`${name}-t`), live: hashKey(`${name}-l`) },
      Date.now(),
    );
    const scope: Scope = { accountId: account.id, environment: "test" };
    const endpointId = (await store.createEndpoint(scope, endpointInput("http://127.0.0.1:9/"), Date.now())).id;
    return { scope, endpointId };
  };
  /** Another node's connection, in this test's schema. */
  const otherNode = async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`SET search_path = ${schema}`);
    return client;
  };

  before(async () => {
    store = await createPostgresStore({ url: url as string, schema, poolSize: 5 });
    const account = await store.createAccount("race", { test: hashKey("t"), live: hashKey("l") }, Date.now());
    scope = { accountId: account.id, environment: "test" };
    endpointId = (await store.createEndpoint(scope, endpointInput("http://127.0.0.1:9/"), Date.now())).id;
  });
  after(async () => {
    await store?.close();
    if (url) await dropSchema(url, schema);
  });

  it("an outcome recorded while an ingest commits does not hide the ingest's new deliveries from claims", async () => {
    const now = Date.now();
    await store.ingest([{ scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }], now);
    const [first] = (await store.settle([], claim(now), now)).claims;
    assert.ok(first);

    // A transaction of another node holds an idempotency key, so the ingest below waits inside its commit,
    // after its first request made a new delivery due.
    const holder = await otherNode();
    await holder.query("BEGIN");
    await holder.query(
      "INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at) VALUES ('evt_hold', $1, 'test', 't', '{}', 'held', 0)",
      [scope.accountId],
    );
    const ingest = store.ingest(
      [
        { scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] },
        { scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: "held" }] },
      ],
      now,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const settled = store.settle(
      [
        {
          claim: { deliveryId: first.deliveryId, claimToken: first.claimToken, endpointId },
          attempt: {
            startedAt: now,
            durationMs: 1,
            statusCode: 200,
            error: null,
            responseSnippet: null,
            requestHeaders: {},
            trigger: "scheduled",
          },
          status: "succeeded",
          scheduledAttempts: 1,
          nextAttemptAt: null,
          disableEndpoint: null,
          disableIfFailingSince: null,
          keepSnippets: 10,
        },
      ],
      null,
      now,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await holder.query("ROLLBACK");
    await holder.end();
    await ingest;
    assert.equal((await settled).recorded, 1);

    assert.notEqual(await store.nextDueAt(), null, "the new deliveries are due");
    const { claims } = await store.settle([], claim(Date.now()), Date.now());
    assert.equal(claims.length, 2, "both deliveries the ingest made are claimed");
  });

  it("an idempotency key another node stores during the commit makes that event a replay of the stored one", async () => {
    const holder = await otherNode();
    try {
      await holder.query("BEGIN");
      await holder.query(
        "INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at) VALUES ('evt_taken', $1, 'test', 't', '{}', 'taken', 0)",
        [scope.accountId],
      );
      const keyed = { type: "t", dataJson: "{}", idempotencyKey: "taken" };
      const ingest = store.ingest(
        [
          { scope, events: [keyed] },
          { scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] },
          { scope, events: [keyed] },
        ],
        Date.now(),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await holder.query("COMMIT");
      const { results } = await ingest;
      const [first, plain, again] = results.map((r) => {
        assert.ok(r.ok);
        return r;
      });
      assert.equal(first?.events[0]?.event.id, "evt_taken");
      assert.equal(first?.events[0]?.replayed, true);
      assert.equal(first?.deliveries, 0);
      assert.equal(plain?.deliveries, 1, "the other request in the commit is unaffected");
      assert.equal(again?.events[0]?.event.id, "evt_taken", "a second request with the key in the same commit too");
      assert.equal(again?.deliveries, 0);
      const made = await holder.query("SELECT count(*) AS n FROM deliveries WHERE event_id = 'evt_taken'");
      assert.equal(Number(made.rows[0].n), 0, "the stored event got no deliveries from this commit");
    } finally {
      await holder.end();
    }
  });

  it("ingest leases nothing on an endpoint with older work due, even when only a mark says so", async () => {
    const account = await store.createAccount("backlog", { test: hashKey("kt"), live: hashKey("kl") }, Date.now());
    const backlog: Scope = { accountId: account.id, environment: "test" };
    const backlogged = (await store.createEndpoint(backlog, endpointInput("http://127.0.0.1:9/"), Date.now())).id;
    const event = [{ type: "t", dataJson: "{}", idempotencyKey: null }];
    const now = Date.now();
    await store.ingest([{ scope: backlog, events: event }], now);
    const { claims } = await store.ingest([{ scope: backlog, events: event }], now + 1, claim(now + 1));
    assert.deepEqual(
      claims.filter((c) => c.endpointId === backlogged),
      [],
      "the new delivery queues behind the older one",
    );
  });

  it("an ingest does not wait for a worker holding its endpoint, and the worker's next claim finds what it made", async () => {
    const account = await store.createAccount("busy", { test: hashKey("bt"), live: hashKey("bl") }, Date.now());
    const busy: Scope = { accountId: account.id, environment: "test" };
    const busyEndpoint = (await store.createEndpoint(busy, endpointInput("http://127.0.0.1:9/"), Date.now())).id;
    const mine = (claims: Claim[]) => claims.filter((c) => c.endpointId === busyEndpoint);

    // Another node's claim or outcome write holds the endpoint's row until it commits, and then
    // writes the queue summary it computed before the ingest below committed: nothing due.
    const worker = await otherNode();
    try {
      await worker.query("BEGIN");
      await worker.query("SELECT 1 FROM endpoints WHERE id = $1 FOR NO KEY UPDATE", [busyEndpoint]);
      const now = Date.now();
      let waited: NodeJS.Timeout | undefined;
      const ingested = await Promise.race([
        store.ingest([{ scope: busy, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }], now),
        new Promise<"waiting">((resolve) => {
          waited = setTimeout(() => resolve("waiting"), 10_000);
        }),
      ]);
      clearTimeout(waited);
      assert.notEqual(ingested, "waiting", "the ingest committed while the worker held the endpoint's row");
      const due = await store.nextDueAt();
      assert.ok(due !== null && due <= now, "the new delivery is due at once");
      assert.deepEqual(mine((await store.settle([], claim(now), now)).claims), [], "a locked endpoint is skipped");
      await worker.query("UPDATE endpoints SET next_due_at = NULL WHERE id = $1", [busyEndpoint]);
      await worker.query("COMMIT");

      const [claimed, ...more] = mine((await store.settle([], claim(now), now)).claims);
      assert.ok(claimed, "the delivery is claimed once the worker is done");
      assert.deepEqual(more, []);
      await store.settle([attemptOutcome(claimed, 204, null, now)], null, now);
      const marks = await worker.query("SELECT count(*) AS n FROM endpoint_due_marks WHERE endpoint_id = $1", [
        busyEndpoint,
      ]);
      assert.equal(Number(marks.rows[0].n), 0, "the claim and the outcome folded the ingest's mark into the row");
    } finally {
      // Ending the connection rolls back whatever it still holds, so a failed check leaves no lock behind.
      await worker.end();
    }
  });

  it("of two outcomes of one delivery in a batch, the one of its current claim is recorded, not the stale one", async () => {
    const { scope: stale, endpointId: staleEndpoint } = await ownEndpoint("stale");
    const mine = (claims: Claim[]) => claims.filter((c) => c.endpointId === staleEndpoint);
    const now = Date.now();
    await store.ingest([{ scope: stale, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }], now);
    const [first] = mine((await store.settle([], claim(now), now)).claims);
    assert.ok(first);
    // The lease runs out before the attempt ends; the delivery is claimed again.
    const later = now + claim(now).leaseMs + 1;
    const [second] = mine((await store.settle([], claim(later), later)).claims);
    assert.ok(second);
    assert.equal(second.deliveryId, first.deliveryId);
    assert.notEqual(second.claimToken, first.claimToken);

    const settled = await store.settle(
      [attemptOutcome(first, 503, later + 60_000, later), attemptOutcome(second, 204, null, later)],
      null,
      later,
    );
    assert.equal(settled.recorded, 1);
    assert.equal((await store.getDelivery(stale, first.deliveryId))?.status, "succeeded");
  });

  it("an ingest locks its targets in the order a settle disabling several of them does (no deadlock)", async () => {
    // By account (then environment, then id): here two accounts with one endpoint each.
    const [first, second] = [await ownEndpoint("order-a"), await ownEndpoint("order-b")].sort((a, b) =>
      a.scope.accountId < b.scope.accountId ? -1 : 1,
    ) as [Awaited<ReturnType<typeof ownEndpoint>>, Awaited<ReturnType<typeof ownEndpoint>>];
    // Another node's settle disables both endpoints (two 410s): it locks them FOR UPDATE in that order.
    const disabler = await otherNode();
    try {
      await disabler.query("BEGIN");
      // Shorter than deadlock_timeout (1 s): the second lock fails if it waits for the ingest at all.
      await disabler.query("SET LOCAL lock_timeout = '500ms'");
      await disabler.query("SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE", [first.endpointId]);
      // The group commit's first request is for the second account.
      const ingested = store.ingest(
        [second, first].map(({ scope }) => ({ scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] })),
        Date.now(),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await disabler.query("SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE", [second.endpointId]);
      await disabler.query("COMMIT");
      const { results } = await ingested;
      assert.deepEqual(
        results.map((result) => result.ok && result.deliveries),
        [1, 1],
      );
    } finally {
      await disabler.end();
    }
  });

  it("a listener connecting while its listen endpoint is deleted gets a new one", async () => {
    const { scope: listening } = await ownEndpoint("listening");
    const hold = { node: "node_a", until: Date.now() + 60_000 };
    const first = await store.openListener(listening, null, newSigningSecret(), hold, Date.now());
    const deleter = await otherNode();
    try {
      await deleter.query("BEGIN");
      await deleter.query("DELETE FROM endpoints WHERE id = $1", [first.id]);
      const reopened = store.openListener(listening, null, newSigningSecret(), hold, Date.now());
      await new Promise((resolve) => setTimeout(resolve, 200));
      await deleter.query("COMMIT");
      const second = await reopened;
      assert.ok(second, "openListener returned no endpoint");
      assert.notEqual(second.id, first.id);
      assert.equal((await store.getEndpoint(listening, second.id))?.kind, "listen");
    } finally {
      await deleter.end();
    }
  });

  it("watchDue calls its listener once its LISTEN is in place, then whenever a commit makes work due", async () => {
    let calls = 0;
    const until = async (count: number) => {
      for (let waited = 0; calls < count; waited += 20) {
        assert.ok(waited < 10_000, `the listener was called ${calls} times, expected ${count}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const stop = store.watchDue(() => calls++);
    try {
      // Work made due before the LISTEN was in place notified no one: this first call is the worker's look at it.
      await until(1);
      const { scope: watched } = await ownEndpoint("watched");
      await store.ingest(
        [{ scope: watched, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }],
        Date.now(),
      );
      await until(2);
    } finally {
      stop();
    }
  });

  /**
   * Another node deletes `endpointId` as deleteEndpoint does (the row, then its unfinished deliveries),
   * with `racer` started between the two. The cancel fails (lock_timeout, shorter than deadlock_timeout)
   * if it waits for a delivery `racer` holds: then `racer` would deadlock with the delete.
   */
  const deleteRacing = async <T>(endpointId: string, now: number, racer: () => Promise<T>): Promise<T> => {
    const deleter = await otherNode();
    try {
      await deleter.query("BEGIN");
      await deleter.query("SET LOCAL lock_timeout = '500ms'");
      await deleter.query("DELETE FROM endpoints WHERE id = $1", [endpointId]);
      const raced = racer();
      await new Promise((resolve) => setTimeout(resolve, 200));
      await deleter.query(
        `UPDATE deliveries SET status = 'cancelled', due_at = NULL, next_attempt_at = NULL,
          claim_token = CASE WHEN status = 'delivering' THEN claim_token END,
          last_error = 'endpoint_deleted', updated_at = $1
        WHERE endpoint_id = $2 AND due_at IS NOT NULL AND status IN ('pending', 'delivering')`,
        [now, endpointId],
      );
      await deleter.query("COMMIT");
      return await raced;
    } finally {
      await deleter.end();
    }
  };
  /** One event for `scope`, its delivery claimed (by `by`, another node's store, when given). */
  const claimedDelivery = async (scope: Scope, endpointId: string, now: number, by: PostgresStore = store) => {
    await store.ingest([{ scope, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }], now);
    const [claimed] = (await by.settle([], claim(now), now)).claims.filter((c) => c.endpointId === endpointId);
    assert.ok(claimed);
    return claimed;
  };

  it("an outcome racing its endpoint's delete is recorded and leaves the delivery cancelled (no deadlock)", async () => {
    const { scope: gone, endpointId: goneEndpoint } = await ownEndpoint("deleted");
    const now = Date.now();
    const claimed = await claimedDelivery(gone, goneEndpoint, now);
    const settled = await deleteRacing(goneEndpoint, now, () =>
      store.settle([attemptOutcome(claimed, 503, now + 60_000, now)], null, now),
    );
    assert.equal(settled.recorded, 1);
    const delivery = await store.getDelivery(gone, claimed.deliveryId);
    assert.equal(delivery?.status, "cancelled");
    assert.equal(delivery?.nextAttemptAt, null);
    assert.equal(delivery?.lastError, "endpoint_deleted");
    assert.equal(delivery?.lastStatusCode, 503);
    assert.equal(delivery?.attemptCount, 1);
  });

  it("a claim given back while its endpoint is deleted leaves the delivery cancelled (no deadlock)", async () => {
    const { scope: gone, endpointId: goneEndpoint } = await ownEndpoint("released");
    const now = Date.now();
    const claimed = await claimedDelivery(gone, goneEndpoint, now);
    await deleteRacing(goneEndpoint, now, () => store.releaseClaims([claimed], now));
    const delivery = await store.getDelivery(gone, claimed.deliveryId);
    assert.equal(delivery?.status, "cancelled");
    assert.equal(delivery?.attemptCount, 0);
  });

  it("recovering an endpoint while it is deleted leaves no pending delivery behind", async () => {
    const { scope: gone, endpointId: goneEndpoint } = await ownEndpoint("recovered");
    const now = Date.now();
    const claimed = await claimedDelivery(gone, goneEndpoint, now);
    await store.settle([attemptOutcome(claimed, 500, null, now)], null, now);
    assert.equal((await store.getDelivery(gone, claimed.deliveryId))?.status, "failed");
    const recovered = await deleteRacing(goneEndpoint, now, () =>
      store.recoverEndpoint(gone, goneEndpoint, now - 60_000, now + 60_000, now),
    );
    assert.equal(recovered, null);
    assert.equal((await store.getDelivery(gone, claimed.deliveryId))?.status, "failed");
  });

  it("a retry waiting for an endpoint's delete holds no delivery the delete must cancel (no deadlock)", async () => {
    const { scope: gone, endpointId: goneEndpoint } = await ownEndpoint("gone");
    const now = Date.now();
    const [ingested] = (
      await store.ingest([{ scope: gone, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }], now)
    ).results;
    assert.ok(ingested?.ok);
    const [delivery] = await store.listDeliveries(gone, ingested.events[0]?.event.id as string, { limit: 10 });
    assert.ok(delivery);

    const retried = await deleteRacing(goneEndpoint, now, () => store.requestRetry(gone, delivery.id, now));
    assert.equal(retried, "endpoint_deleted");
    assert.equal((await store.getDelivery(gone, delivery.id))?.status, "cancelled");
  });

  it("recording outcomes does not wait for another worker holding their endpoint's row", async () => {
    const { scope: shared, endpointId } = await ownEndpoint("shared");
    const now = Date.now();
    const claimed = await claimedDelivery(shared, endpointId, now);
    // Another worker claiming from the same endpoint holds its row until it commits.
    const claimer = await otherNode();
    try {
      await claimer.query("BEGIN");
      await claimer.query("SELECT id FROM endpoints WHERE id = $1 FOR NO KEY UPDATE", [endpointId]);
      const settled = store.settle([attemptOutcome(claimed, 204, null, now)], null, now);
      const waited = new Promise((resolve) => setTimeout(resolve, 2_000, "still waiting"));
      assert.deepEqual(await Promise.race([settled, waited]), { claims: [], disabled: [], recorded: 1 });
    } finally {
      await claimer.query("ROLLBACK");
      await claimer.end();
    }
    assert.equal((await store.getDelivery(shared, claimed.deliveryId))?.status, "succeeded");
  });

  it("a retry an outcome schedules before its claim's lease ends is claimed when it is due", async () => {
    const { scope: quick, endpointId } = await ownEndpoint("quick-retry");
    const now = Date.now();
    const claimed = await claimedDelivery(quick, endpointId, now);
    // The lease runs 60 s; the receiver asked for another try in 1 s (a 429's retry-after, say).
    await store.settle([attemptOutcome(claimed, 429, now + 1_000, now)], null, now);
    const { claims } = await store.settle([], claim(now + 1_000), now + 1_000);
    assert.ok(
      claims.some((c) => c.deliveryId === claimed.deliveryId),
      "the retry was not claimed when due",
    );
  });

  it("two workers recording outcomes for one endpoint add up to its health figures", async () => {
    const { scope: both, endpointId } = await ownEndpoint("two-workers");
    const second = await createPostgresStore({ url: url as string, schema, poolSize: 2 });
    try {
      const now = Date.now();
      const first = await claimedDelivery(both, endpointId, now);
      const other = await claimedDelivery(both, endpointId, now, second);
      await store.settle([attemptOutcome(first, 204, null, now)], null, now);
      await second.settle([attemptOutcome(other, 503, now + 60_000, now + 1)], null, now + 1);
      const stats = await store.endpointStats(both, endpointId, now - 3_600_000);
      assert.deepEqual(
        stats?.hours.map(({ attempts, succeeded }) => ({ attempts, succeeded })),
        [{ attempts: 2, succeeded: 1 }],
      );
      assert.equal(stats?.last?.statusCode, 503);
    } finally {
      await second.close();
    }
  });

  it("two workers disabling the same endpoint at once (a 410 to both) do not deadlock", async () => {
    const { scope: gone, endpointId } = await ownEndpoint("gone-for-both");
    const second = await createPostgresStore({ url: url as string, schema, poolSize: 2 });
    const deadlocks = async () => {
      const client = await otherNode();
      try {
        const { rows } = await client.query(
          "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
        );
        return Number(rows[0]?.deadlocks);
      } finally {
        await client.end();
      }
    };
    try {
      const now = Date.now();
      const first = await claimedDelivery(gone, endpointId, now);
      const other = await claimedDelivery(gone, endpointId, now, second);
      const before = await deadlocks();
      const settled = await Promise.all([
        store.settle([attemptOutcome(first, 410, null, now)], null, now),
        second.settle([attemptOutcome(other, 410, null, now)], null, now),
      ]);
      assert.equal(await deadlocks(), before);
      assert.deepEqual(
        settled.flatMap((s) => s.disabled.map((d) => d.endpointId)),
        [endpointId],
      );
      assert.equal((await store.getEndpoint(gone, endpointId))?.enabled, false);
    } finally {
      await second.close();
    }
  });

  it("deliveries leased at ingest leave no queue marks behind once their outcomes are in", async () => {
    const { scope: leased, endpointId } = await ownEndpoint("leased-at-ingest");
    const now = Date.now();
    const outcomes = [];
    for (let i = 0; i < 5; i++) {
      const { claims } = await store.ingest(
        [{ scope: leased, events: [{ type: "t", dataJson: "{}", idempotencyKey: null }] }],
        now,
        claim(now),
      );
      outcomes.push(...claims.filter((c) => c.endpointId === endpointId).map((c) => attemptOutcome(c, 204, null, now)));
    }
    assert.equal(outcomes.length, 5);
    await store.settle(outcomes, null, now);
    const client = await otherNode();
    try {
      const { rows } = await client.query("SELECT count(*) AS marks FROM endpoint_due_marks WHERE endpoint_id = $1", [
        endpointId,
      ]);
      assert.equal(Number(rows[0]?.marks), 0);
    } finally {
      await client.end();
    }
  });

  it("a disable waits a bounded time for an ingest holding its endpoint; the settle goes on and the next 410 disables", async () => {
    const { scope: gone, endpointId } = await ownEndpoint("disable-held");
    const now = Date.now();
    const first = await claimedDelivery(gone, endpointId, now);
    const second = await claimedDelivery(gone, endpointId, now);
    // An ingest reading the endpoint as a target holds KEY SHARE; a steady stream of them would never let go.
    const holder = await otherNode();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM endpoints WHERE id = $1 FOR KEY SHARE", [endpointId]);
      const settled = store.settle([attemptOutcome(first, 410, null, now)], null, now);
      const result = await Promise.race([settled, sleep(5_000, null, { ref: false })]);
      assert.ok(result, "the settle still waited for the holder after 5 s");
      assert.deepEqual({ recorded: result.recorded, disabled: result.disabled }, { recorded: 1, disabled: [] });
      assert.equal((await store.getEndpoint(gone, endpointId))?.enabled, true);
      await holder.query("ROLLBACK");
      const next = await store.settle([attemptOutcome(second, 410, null, now + 1)], null, now + 1);
      assert.deepEqual(
        next.disabled.map((d) => d.endpointId),
        [endpointId],
      );
    } finally {
      // Ending the holder lets a settle that is still waiting finish, so a failure cannot hang the run.
      await holder.end();
    }
  });

  it("a disable whose transaction fails after its outcomes' commit does not fail the settle; the next 410 disables", async () => {
    const { scope: gone, endpointId } = await ownEndpoint("disable-again");
    const now = Date.now();
    const first = await claimedDelivery(gone, endpointId, now);
    const second = await claimedDelivery(gone, endpointId, now);
    // An ingest reading the endpoint as a target holds KEY SHARE: the disable (FOR UPDATE) waits for it.
    const holder = await otherNode();
    const killer = await otherNode();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT id FROM endpoints WHERE id = $1 FOR KEY SHARE", [endpointId]);
      const holderPid = Number((await holder.query("SELECT pg_backend_pid() AS pid")).rows[0].pid);
      const settled = store.settle([attemptOutcome(first, 410, null, now)], null, now);
      // The disable's connection, waiting for the holder, is lost.
      let waiting: number[] = [];
      for (let tries = 0; waiting.length === 0; tries++) {
        assert.ok(tries < 100, "the disable never waited for the holder");
        await new Promise((resolve) => setTimeout(resolve, 20));
        const { rows } = await killer.query(
          "SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))",
          [holderPid],
        );
        waiting = rows.map((row) => Number(row.pid));
      }
      for (const pid of waiting) await killer.query("SELECT pg_terminate_backend($1)", [pid]);
      await holder.query("ROLLBACK");
      const result = await settled;
      assert.deepEqual({ recorded: result.recorded, disabled: result.disabled }, { recorded: 1, disabled: [] });
      assert.equal((await store.getEndpoint(gone, endpointId))?.enabled, true);
      const next = await store.settle([attemptOutcome(second, 410, null, now + 1)], null, now + 1);
      assert.deepEqual(
        next.disabled.map((d) => d.endpointId),
        [endpointId],
      );
      assert.equal((await store.getEndpoint(gone, endpointId))?.enabled, false);
    } finally {
      await holder.end();
      await killer.end();
    }
  });
});
