import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Store } from "../src/store/store.ts";
import { storeAndReceiver, testDispatcher } from "./helpers/dispatcher.ts";
import { answer } from "./helpers/receiver.ts";
import { endpointInput } from "./helpers/store-kit.ts";

// After each run of writes the dispatcher sleeps until the next due time. A retry whose time
// passed while its own outcome was being written is due already when the dispatcher looks:
// it must go out then, not at the fallback recheck for endpoints that are full (1 s later).

describe("dispatcher: a retry due before its outcome is written", () => {
  it("goes out as soon as the write ends", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t, answer(503));
    const now = Date.now();
    await store.createEndpoint(scope, endpointInput(receiver.url, { retrySchedule: [100] }), now);

    // Each write of outcomes takes 400 ms (a busy disk): longer than the 100 ms the retry waits.
    const slow: Store = {
      ...store,
      settle: async (outcomes, claim, at) => {
        if (outcomes.length > 0) await sleep(400);
        return store.settle(outcomes, claim, at);
      },
    };
    const dispatcher = testDispatcher(slow);
    t.after(() => dispatcher.stop());
    await store.ingest([{ scope, events: [{ type: "t.e", dataJson: "{}", idempotencyKey: null }] }], Date.now(), null);
    dispatcher.start();
    const [first, second] = await receiver.waitFor(2, 10_000);
    const gap = (second?.receivedAt ?? 0) - (first?.receivedAt ?? 0);
    // 400 ms of write, then at once; without the fix the retry waited for the 1 s recheck after the write.
    assert.ok(gap >= 400, `the retry came ${gap} ms after the first attempt, before its outcome was written`);
    assert.ok(gap < 1_000, `the retry came ${gap} ms after the first attempt: it waited for the 1 s recheck`);
  });
});
