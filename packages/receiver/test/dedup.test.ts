import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createDeduplicator, memoryStore, type SeenStore } from "../src/index.ts";

describe("createDeduplicator", () => {
  it("says true the first time an id is seen and false for a repeat", async () => {
    const dedup = createDeduplicator();
    assert.equal(await dedup.firstTime("evt_1"), true);
    assert.equal(await dedup.firstTime("evt_1"), false);
    assert.equal(await dedup.firstTime("evt_2"), true);
  });

  it("forgets ids after their time to live, and the least recently seen beyond its size", () => {
    let t = 0;
    const store = memoryStore(2, () => t);
    assert.equal(store.add("a", 100), true);
    assert.equal(store.add("b", 100), true);
    assert.equal(store.add("a", 100), false, "a is now the most recently seen");
    assert.equal(store.add("c", 100), true, "evicts b, the least recently seen");
    assert.equal(store.add("a", 100), false);
    assert.equal(store.add("b", 100), true, "b was evicted");
    t = 1000;
    assert.equal(store.add("a", 100), true, "a expired");
  });

  it("uses a pluggable store (shared between processes in real use)", async () => {
    const shared = new Set<string>();
    const store: SeenStore = {
      async add(id) {
        if (shared.has(id)) return false;
        shared.add(id);
        return true;
      },
    };
    const first = createDeduplicator({ store });
    const second = createDeduplicator({ store });
    assert.equal(await first.firstTime("evt_9"), true);
    assert.equal(await second.firstTime("evt_9"), false, "the other process sees it as a repeat");
  });
});
