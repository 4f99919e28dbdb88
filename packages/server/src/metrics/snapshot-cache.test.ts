import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSnapshotCache, type SnapshotMiss } from "./snapshot-cache.ts";

/** A load the test settles by hand, counting how often it was asked. */
function manualSource() {
  const source = {
    calls: 0,
    settle: null as null | { resolve: (value: number) => void; reject: (error: Error) => void },
    load: () => {
      source.calls++;
      return new Promise<number>((resolve, reject) => {
        source.settle = { resolve, reject };
      });
    },
  };
  return source;
}

describe("the metrics' store snapshot cache", () => {
  it("runs one load for callers at once, and serves its value again while it is young", async () => {
    let t = 0;
    const source = manualSource();
    const cache = createSnapshotCache(source.load, { maxAgeMs: 1000, timeoutMs: 5000, now: () => t });
    const both = Promise.all([cache.get(), cache.get()]);
    source.settle?.resolve(7);
    assert.deepEqual(await both, [7, 7]);
    assert.equal(source.calls, 1);
    t = 999;
    assert.equal(await cache.get(), 7);
    assert.equal(source.calls, 1, "young enough: not asked again");
    t = 1000;
    const next = cache.get();
    source.settle?.resolve(8);
    assert.equal(await next, 8);
    assert.equal(source.calls, 2);
  });

  it("gives up on a slow load at the timeout, and the next caller waits for that same load", async () => {
    const misses: SnapshotMiss[] = [];
    const source = manualSource();
    const cache = createSnapshotCache(source.load, {
      maxAgeMs: 1000,
      timeoutMs: 10,
      now: () => 0,
      onMiss: (miss) => misses.push(miss),
    });
    assert.equal(await cache.get(), null);
    assert.deepEqual(misses, [{ kind: "timeout" }]);
    const second = cache.get();
    source.settle?.resolve(3);
    assert.equal(await second, 3);
    assert.equal(source.calls, 1, "a stuck store is not asked again while the first query runs");
  });

  it("answers null for a failed load, and asks again next time", async () => {
    const misses: SnapshotMiss[] = [];
    const source = manualSource();
    const cache = createSnapshotCache(source.load, {
      maxAgeMs: 1000,
      timeoutMs: 5000,
      now: () => 0,
      onMiss: (miss) => misses.push(miss),
    });
    const first = cache.get();
    source.settle?.reject(new Error("down"));
    assert.equal(await first, null);
    assert.equal(misses[0]?.kind, "error");
    const second = cache.get();
    source.settle?.resolve(1);
    assert.equal(await second, 1);
    assert.equal(source.calls, 2);
  });
});
