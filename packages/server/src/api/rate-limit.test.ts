import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ingestBurst, TokenBuckets } from "./rate-limit.ts";

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance(ms: number) {
      t += ms;
    },
    set(ms: number) {
      t = ms;
    },
  };
}

describe("TokenBuckets", () => {
  it("starts full, refuses once empty and says how many whole seconds to wait", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 50, burst: 50, now: c.now });
    for (let i = 0; i < 50; i++) assert.deepEqual(buckets.take("a", 1), { ok: true }, `take ${i}`);
    assert.deepEqual(buckets.take("a", 1), { ok: false, never: false, retryAfterS: 1 });
    c.advance(20); // one token's worth at 50/s
    assert.deepEqual(buckets.take("a", 1), { ok: true });
    assert.equal(buckets.take("a", 1).ok, false);
  });

  it("refills at the rate, never above the burst", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 10, burst: 20, now: c.now });
    assert.equal(buckets.take("a", 20).ok, true);
    c.advance(500);
    assert.equal(buckets.take("a", 6).ok, false, "5 tokens after half a second");
    assert.equal(buckets.take("a", 5).ok, true);
    c.advance(3_600_000);
    assert.equal(buckets.take("a", 20).ok, true, "a long idle time fills the bucket");
    assert.equal(buckets.take("a", 1).ok, false, "but no further than the burst");
  });

  it("takes all or nothing: a refused take costs nothing", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 1, burst: 10, now: c.now });
    assert.equal(buckets.take("a", 7).ok, true);
    assert.deepEqual(buckets.take("a", 5), { ok: false, never: false, retryAfterS: 2 });
    assert.deepEqual(buckets.take("a", 5), { ok: false, never: false, retryAfterS: 2 });
    assert.equal(buckets.take("a", 3).ok, true, "the 3 left are still there");
  });

  it("rounds the wait up to whole seconds, at least 1, and waiting that long is enough", () => {
    const c = clock();
    const fast = new TokenBuckets({ ratePerS: 1_000, burst: 1_000, now: c.now });
    assert.equal(fast.take("a", 1_000).ok, true);
    assert.deepEqual(fast.take("a", 1), { ok: false, never: false, retryAfterS: 1 });
    const slow = new TokenBuckets({ ratePerS: 3, burst: 30, now: c.now });
    assert.equal(slow.take("a", 30).ok, true);
    c.advance(100); // 0.3 tokens
    const refused = slow.take("a", 10);
    assert.deepEqual(refused, { ok: false, never: false, retryAfterS: 4 }); // 9.7 / 3 = 3.23 s
    c.advance(3_234);
    assert.equal(slow.take("a", 10).ok, true);
  });

  it("refuses a take larger than the bucket for good", () => {
    const buckets = new TokenBuckets({ ratePerS: 50, burst: 50, now: clock().now });
    assert.deepEqual(buckets.take("a", 51), { ok: false, never: true });
    assert.equal(buckets.take("a", 50).ok, true, "the refused take cost nothing");
  });

  it("keeps one bucket per key: an empty one does not touch another", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 5, burst: 5, now: c.now });
    assert.equal(buckets.take("acct_a:test", 5).ok, true);
    assert.equal(buckets.take("acct_a:test", 1).ok, false);
    assert.equal(buckets.take("acct_a:live", 5).ok, true);
    assert.equal(buckets.take("acct_b:test", 5).ok, true);
  });

  it("a clock that steps back neither adds tokens nor fails", () => {
    const c = clock(10_000);
    const buckets = new TokenBuckets({ ratePerS: 10, burst: 10, now: c.now });
    assert.equal(buckets.take("a", 10).ok, true);
    c.set(5_000);
    assert.equal(buckets.take("a", 1).ok, false);
    c.advance(100);
    assert.equal(buckets.take("a", 1).ok, true);
  });

  it("drops the buckets of idle keys, so memory follows the busy keys only", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 100, burst: 100, now: c.now });
    for (let i = 0; i < 5_000; i++) {
      assert.equal(buckets.take(`acct_${i}:test`, 1).ok, true);
      c.advance(1);
    }
    // Growth sweeps as it goes: at any time only the keys of the last second are held, give or take a doubling.
    assert.ok(buckets.size <= 2 * 1_024 + 1, `held ${buckets.size}`);
    c.advance(60_000);
    buckets.take("acct_new:test", 1);
    assert.equal(buckets.size, 1, "a minute later only the key just used is left");
  });

  it("keeps a key that is still refilling, however many idle ones are dropped", () => {
    const c = clock();
    const buckets = new TokenBuckets({ ratePerS: 1, burst: 100, now: c.now });
    assert.equal(buckets.take("busy", 100).ok, true);
    c.advance(61_000);
    for (let i = 0; i < 3_000; i++) buckets.take(`idle_${i}`, 1);
    assert.deepEqual(buckets.take("busy", 62), { ok: false, never: false, retryAfterS: 1 });
  });
});

describe("ingestBurst", () => {
  it("is the configured size, else one second's worth but at least a full batch", () => {
    assert.equal(ingestBurst({ ingestRatePerAccount: 50, ingestBurstPerAccount: 50 }), 50);
    assert.equal(ingestBurst({ ingestRatePerAccount: 50, ingestBurstPerAccount: null }), 1_000);
    assert.equal(ingestBurst({ ingestRatePerAccount: 5_000, ingestBurstPerAccount: null }), 5_000);
  });
});
