import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { hashKey } from "../src/ids.ts";
import { createSqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import type { Store } from "../src/store/store.ts";
import { testDispatcher } from "./helpers/dispatcher.ts";
import { tempDir } from "./helpers/hookline.ts";
import { startReceiver } from "./helpers/receiver.ts";
import { endpointInput } from "./helpers/store-kit.ts";

// A claim carries send times reserved in the store. When its commit reaches the dispatcher late
// (a slow PostgreSQL transaction, a busy machine), several of those times are already past: they
// must still go out 1/rate apart, not all at once.

describe("dispatcher and rate_limit_per_s", () => {
  it("spaces the requests of a claim that arrived after its first send times passed", async (t) => {
    const dir = tempDir();
    const receiver = await startReceiver();
    const store = createSqliteStore(dir.path);
    t.after(async () => {
      await store.close();
      await receiver.close();
      dir.remove();
    });
    const now = Date.now();
    const account = await store.createAccount("a", { test: hashKey("t"), live: hashKey("l") }, now);
    const scope = { accountId: account.id, environment: "test" as const };
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
    // 100 ms apart, less the receiver's jitter (the first request also opens the connection).
    // Sent at once, four of them would arrive a few milliseconds apart.
    const span = (times.at(-1) as number) - (times[0] as number);
    assert.ok(gaps.every((gap) => gap >= 60) && span >= 450, `6 requests at 10/s arrived ${gaps.join(", ")} ms apart`);
  });
});
