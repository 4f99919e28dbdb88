import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RETRY_SCHEDULE, nextAttempt, parseRetryAfter, parseRetrySchedule } from "./retry-schedule.ts";

const HOUR = 3_600_000;

describe("retry schedule", () => {
  it("defaults to the seed's rule: 72 hourly retries after the first attempt, 73 attempts in all", () => {
    assert.equal(DEFAULT_RETRY_SCHEDULE.length, 72);
    assert.ok(DEFAULT_RETRY_SCHEDULE.every((delay) => delay === HOUR));
    const mid = () => 0.5;
    assert.equal(nextAttempt(DEFAULT_RETRY_SCHEDULE, 1, mid)?.delayMs, HOUR);
    assert.equal(nextAttempt(DEFAULT_RETRY_SCHEDULE, 72, mid)?.delayMs, HOUR);
    assert.equal(nextAttempt(DEFAULT_RETRY_SCHEDULE, 73, mid), null, "the 73rd failure is final");
  });

  it("jitters by at most ±5%", () => {
    assert.equal(nextAttempt([HOUR], 1, () => 0)?.delayMs, HOUR * 0.95);
    assert.equal(nextAttempt([HOUR], 1, () => 1)?.delayMs, HOUR * 1.05);
  });

  it("parses durations and repeats", () => {
    assert.deepEqual(parseRetrySchedule(["5s", "1m", "1h"]), [5000, 60_000, HOUR]);
    assert.deepEqual(parseRetrySchedule(["500ms", "2s*3"]), [500, 2000, 2000, 2000]);
    assert.deepEqual(parseRetrySchedule(["1h*72"]), [...DEFAULT_RETRY_SCHEDULE]);
  });

  it("rejects what is not a schedule, with the reason", () => {
    assert.throws(() => parseRetrySchedule(["5 minutes"]), /not a duration/);
    assert.throws(() => parseRetrySchedule(["1h*0"]), /repeat count/);
    assert.throws(() => parseRetrySchedule(["8d"]), /7 days/);
    assert.throws(() => parseRetrySchedule(["1s*201"]), /at most 200/);
    // Refused before repeating anything (this used to fill memory for a minute, then fail).
    assert.throws(() => parseRetrySchedule(["1s*99999999999999999999"]), /at most 200/);
    assert.throws(() => parseRetrySchedule(["1s*150", "1s*51"]), /at most 200/);
  });

  it("honours Retry-After when it asks for more time, within a bound", () => {
    const none = () => 0.5;
    assert.deepEqual(
      nextAttempt([60_000, 60_000, 60_000], 1, none, 90_000),
      { delayMs: 120_000, skipped: 1 },
      "at the first scheduled time after the wait",
    );
    assert.deepEqual(nextAttempt([60_000, 60_000, 60_000], 1, none, 120_000), { delayMs: 120_000, skipped: 1 });
    assert.deepEqual(nextAttempt([60_000], 1, none, 1_000), { delayMs: 60_000, skipped: 0 }, "never sooner");
    const hourly = Array(72).fill(HOUR);
    assert.equal(nextAttempt(hourly, 1, none, 100 * HOUR)?.delayMs, 6 * HOUR, "capped");
    assert.deepEqual(
      nextAttempt(hourly, 71, none, 5 * HOUR),
      { delayMs: 2 * HOUR, skipped: 1 },
      "the last one, at the end",
    );
  });

  it("ends when the schedule ends (72 h), whatever the receiver asks", () => {
    for (const retryAfter of [null, 61 * 60_000, 90 * 60_000, 5 * HOUR, 100 * HOUR]) {
      let elapsed = 0;
      let attempts = 1;
      let done = 1;
      for (;;) {
        const next = nextAttempt(DEFAULT_RETRY_SCHEDULE, done, () => 0.5, retryAfter);
        if (next === null) break;
        elapsed += next.delayMs;
        done += 1 + next.skipped;
        attempts++;
      }
      // Neither later, nor earlier: a Retry-After of 90 min used to use up two hourly entries per
      // attempt and end the retries after 54 h.
      assert.equal(elapsed, 72 * HOUR, `Retry-After ${retryAfter}: ended after ${elapsed / HOUR} h`);
      if (retryAfter === null) assert.equal(attempts, 73);
      else assert.ok(attempts >= 13, `${attempts} attempts`);
    }
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-27T10:00:00Z");
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter("Fri, 27 Nov 2026 10:05:00 GMT", now), 300_000);
    assert.equal(parseRetryAfter("soon", now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });
});
