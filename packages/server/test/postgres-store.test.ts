import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { hashKey } from "../src/ids.ts";
import { createPostgresStore, type PostgresStore } from "../src/store/postgres/postgres-store.ts";
import type { ClaimRequest, Scope } from "../src/store/store.ts";
import { dropSchema, testSchema } from "./helpers/postgres.ts";
import { endpointInput } from "./helpers/store-kit.ts";

const url = process.env.HOOKLINE_TEST_DATABASE_URL;

/** Races only many writers can run into: PostgreSQL, not the single-writer embedded store. */
describe("PostgreSQL store under concurrent writers", {
  skip: url ? false : "runs in npm test's PostgreSQL pass (HOOKLINE_TEST_DATABASE_URL)",
}, () => {
  const schema = testSchema();
  let store: PostgresStore;
  let scope: Scope;
  let endpointId: string;
  const claim = (now: number): ClaimRequest => ({
    now,
    limit: 10,
    leaseMs: 60_000,
    excludeEndpoints: [],
    room: new Map(),
    held: new Map(),
    node: "test-node",
    listenersOnly: false,
    defaultMaxInFlight: 10,
  });

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
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query(`SET search_path = ${schema}`);
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
});
