import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RATE_AHEAD_MS, rateSlots, sharedRoom } from "./claim-rules.ts";

describe("rate slots", () => {
  it("spaces send times 1/rate apart from the next free slot, at most a second ahead", () => {
    const slots = rateSlots(10, null, 5_000, 50);
    assert.equal(slots.count, 10, "a second of slots at 10/s");
    assert.deepEqual([0, 1, 9].map(slots.sendAt), [5_000, 5_100, 5_900]);
    assert.equal(slots.nextFreeAt(3), 5_300, "only the slots taken are used up");
  });
  it("starts after slots other claims reserved, and gives none when a second is already reserved", () => {
    assert.equal(rateSlots(10, 5_400, 5_000, 50).sendAt(0), 5_400);
    assert.equal(rateSlots(10, 5_400, 5_000, 50).count, 6);
    assert.equal(rateSlots(10, 5_000 + RATE_AHEAD_MS, 5_000, 50).count, 0);
    assert.equal(rateSlots(1, 4_000, 5_000, 50).count, 1, "a free slot in the past starts now");
    assert.equal(rateSlots(1, 4_000, 5_000, 50).sendAt(0), 5_000);
  });
});

describe("shared room", () => {
  it("keeps the process's own room while nobody else holds claims on the endpoint", () => {
    assert.equal(sharedRoom(12, 2, 4, 4), 12);
    assert.equal(sharedRoom(12, 2, 0, 0), 12);
  });
  it("keeps every node's claims together within the cap once another node holds some", () => {
    assert.equal(sharedRoom(12, 2, 1, 0), 1);
    assert.equal(sharedRoom(12, 2, 2, 1), 0);
    assert.equal(sharedRoom(12, 2, 5, 1), -3, "over the cap: no room (callers take none)");
  });
});
