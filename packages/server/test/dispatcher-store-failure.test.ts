import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { Store } from "../src/store/store.ts";
import { storeAndReceiver, testDispatcher, testSender } from "./helpers/dispatcher.ts";
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

  it("an attempt that throws is logged and its claim given back: the delivery goes out on the next claim, the process carries on", async (t) => {
    const { store, receiver, scope } = await storeAndReceiver(t);
    await store.createEndpoint(scope, endpointInput(receiver.url), Date.now());
    const sender = testSender();
    let throwsLeft = 1;
    const faulty = {
      ...sender,
      send: (...args: Parameters<typeof sender.send>) => {
        if (throwsLeft > 0) {
          throwsLeft--;
          return Promise.reject(new Error("a bug in the sender"));
        }
        return sender.send(...args);
      },
    };
    const logged: string[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => logged.push(line) });
    // Its release lands after the dispatcher's next read of the due time, as on the store thread,
    // which answers reads at once and commits writes together a moment later.
    const slowRelease: Store = {
      ...store,
      releaseClaims: async (claims, now) => {
        await new Promise((resolve) => setTimeout(resolve, 100));
        return store.releaseClaims(claims, now);
      },
    };
    const dispatcher = testDispatcher(slowRelease, logger, faulty);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));

    await store.ingest([{ scope, events: [{ type: "t.e", dataJson: "{}", idempotencyKey: null }] }], Date.now(), null);
    dispatcher.start();
    // One delivery, nothing else to wake the dispatcher: it goes out again only because the
    // release, once written, wakes a claim (else it would wait for the 60 s idle recheck).
    await receiver.waitFor(1, 5_000);
    await dispatcher.stop();

    assert.equal(throwsLeft, 0);
    assert.deepEqual(unhandled, [], "the failed attempt left no promise to reject unhandled");
    assert.equal(logged.filter((line) => line.includes("an attempt failed unexpectedly")).length, 1);
    assert.equal(receiver.requests.length, 1, "sent once, after the failed attempt's claim came back");
    assert.equal(await store.nextDueAt(), null, "its outcome was written");
  });
});
