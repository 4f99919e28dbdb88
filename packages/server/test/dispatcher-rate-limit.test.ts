import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Scope, Store } from "../src/store/store.ts";
import { storeAndReceiver, testDispatcher } from "./helpers/dispatcher.ts";
import { answer, startReceiver } from "./helpers/receiver.ts";
import { endpointInput } from "./helpers/store-kit.ts";

// A claim carries send times reserved in the store. When its commit reaches the dispatcher late
// (a slow PostgreSQL transaction, a busy machine), several of those times are already past: they
// must still go out 1/rate apart, not all at once.

describe("dispatcher and rate_limit_per_s", () => {
  it("spaces the requests of a claim that arrived after its first send times passed", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t);
    const now = Date.now();
    await store.createEndpoint(scope, endpointInput(receiver.url, { rateLimitPerS: 10 }), now);
    const late: Store = {
      ...store,
      settle: async (...args) => {
        const settled = await store.settle(...args);
        // Send times 0, 100, 200 and 300 ms after the claim are past when it arrives.
        if (settled.claims.length > 0) await sleep(300);
        return settled;
      },
    };
    const dispatcher = testDispatcher(late);
    t.after(() => dispatcher.stop());
    const events = Array.from({ length: 6 }, (_, i) => ({ type: "t.e", dataJson: `{"i":${i}}`, idempotencyKey: null }));
    await store.ingest([{ scope, events }], Date.now(), null);
    dispatcher.start();

    const times = (await receiver.waitFor(6, 10_000)).map((request) => request.receivedAt);
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    // 100 ms apart, less the receiver's jitter. The first request also opens the connection (and
    // runs the sender's code for the first time), so it may arrive late by that much: on a busy
    // CI machine 48 ms, which left the first gap at 52. Sent at once, four of them would arrive
    // a few milliseconds apart.
    const [first = 0, ...rest] = gaps;
    const spanAfterFirst = (times.at(-1) as number) - (times[1] as number);
    assert.ok(
      first >= 30 && rest.every((gap) => gap >= 60) && spanAfterFirst >= 350,
      `6 requests at 10/s arrived ${gaps.join(", ")} ms apart`,
    );
  });

  it("a claim waiting for its send time is not sent once its endpoint changed: it goes out as the endpoint is now", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t);
    const moved = await startReceiver();
    t.after(() => moved.close());
    const { endpoint, dispatcher } = await fourAtTwoPerSecond(t, store, scope, receiver.url);

    // The first goes at once; the other three wait for their send times, 500 ms apart.
    await receiver.waitFor(1, 5_000);
    await store.updateEndpoint(scope, endpoint.id, { url: moved.url }, Date.now());
    dispatcher.forget(endpoint.id); // what the API does after a change
    await moved.waitFor(3, 10_000);
    await sleep(200);
    assert.equal(receiver.requests.length, 1, "nothing more went to the old URL");
    assert.equal(moved.requests.length, 3);
  });

  it("after a 410, the claims waiting for their send times are not sent: the endpoint is disabled", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t, answer(410));
    const { endpoint } = await fourAtTwoPerSecond(t, store, scope, receiver.url);

    await receiver.waitFor(1, 5_000);
    // The others were due 500, 1,000 and 1,500 ms after the first.
    await sleep(1_800);
    assert.equal(receiver.requests.length, 1, "one request, then none: the receiver asked for no more");
    assert.equal((await store.getEndpoint(scope, endpoint.id))?.enabled, false);
  });
});

/** An endpoint limited to 2 requests a second, four events for it, and a dispatcher sending them. */
async function fourAtTwoPerSecond(t: TestContext, store: Store, scope: Scope, url: string) {
  const endpoint = await store.createEndpoint(scope, endpointInput(url, { rateLimitPerS: 2 }), Date.now());
  const dispatcher = testDispatcher(store);
  t.after(() => dispatcher.stop());
  const events = Array.from({ length: 4 }, (_, i) => ({ type: "t.e", dataJson: `{"i":${i}}`, idempotencyKey: null }));
  await store.ingest([{ scope, events }], Date.now(), null);
  dispatcher.start();
  return { endpoint, dispatcher };
}
