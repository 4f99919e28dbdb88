import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { Store } from "../src/store/store.ts";
import { storeAndReceiver, testDispatcher } from "./helpers/dispatcher.ts";
import { endpointInput } from "./helpers/store-kit.ts";

// The dispatcher reads the store's next due time after each run of writes. A store that fails
// that read for a moment (a PostgreSQL failover, a busy disk) must cost a retry, not the process.

describe("dispatcher with a store that fails for a moment", () => {
  it("a failed read of the next due time is logged and retried; deliveries still go out", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t);
    const now = Date.now();
    await store.createEndpoint(scope, endpointInput(receiver.url), now);

    let failuresLeft = 2;
    const flaky: Store = {
      ...store,
      nextDueAt: async () => {
        if (failuresLeft > 0) {
          failuresLeft--;
          throw new Error("connection reset");
        }
        return store.nextDueAt();
      },
    };
    const logged: string[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => logged.push(line) });
    const dispatcher = testDispatcher(flaky, logger);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));

    const ingest = (count: number) =>
      store.ingest(
        [
          {
            scope,
            events: Array.from({ length: count }, (_, i) => ({
              type: "t.e",
              dataJson: `{"i":${i}}`,
              idempotencyKey: null,
            })),
          },
        ],
        Date.now(),
        null,
      );
    await ingest(3);
    dispatcher.start();
    await receiver.waitFor(3, 10_000);
    // More work after the failed reads: the dispatcher is still running, and a wake claims it.
    await ingest(2);
    dispatcher.wake();
    await receiver.waitFor(5, 10_000);
    await dispatcher.stop();

    assert.equal(failuresLeft, 0, "the dispatcher read the next due time, and the store failed it twice");
    assert.deepEqual(unhandled, [], "no promise was left to reject unhandled");
    assert.equal(logged.filter((line) => line.includes("could not read the next due time")).length, 2);
    assert.equal(await store.nextDueAt(), null, "every delivery's outcome was written");
  });
});
