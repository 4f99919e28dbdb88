import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { firstIdAt, newId, newRequestId, randomToken } from "./ids.ts";

describe("ids", () => {
  it("sort in creation order, also within one millisecond", () => {
    const ids = Array.from({ length: 1000 }, () => newId("evt", 1_800_000_000_000));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(newId("evt", 1_800_000_000_001) > (ids.at(-1) as string));
    assert.match(ids[0] as string, /^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
  });

  it("makes unbiased base62 tokens of the asked length", () => {
    assert.match(randomToken(32), /^[0-9A-Za-z]{32}$/);
  });

  it("request ids are distinct and keep the documented shape", () => {
    const ids = Array.from({ length: 5000 }, newRequestId);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^req_[0-9A-Za-z]{16}$/);
  });

  it("firstIdAt sorts after every id made earlier and before every id made at or after that time", () => {
    const at = Date.now() + 10 * 365 * 86_400_000;
    const boundary = firstIdAt("evt", at);
    assert.ok(newId("evt", at - 1) < boundary);
    assert.ok(newId("evt", at) >= boundary);
    assert.ok(newId("evt", at + 5000) > boundary);
  });
});
