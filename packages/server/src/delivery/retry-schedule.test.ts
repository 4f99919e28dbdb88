import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RETRY_SCHEDULE, nextAttemptDelay, parseRetryAfter, parseRetrySchedule } from "./retry-schedule.ts";

const HOUR = 3_600_000;

describe("retry schedule", () => {
  it("defaults to the seed's rule: 72 hourly retries after the first attempt, 73 attempts in all", () => {
    assert.equal(DEFAULT_RETRY_SCHEDULE.length, 72);
    assert.ok(DEFAULT_RETRY_SCHEDULE.every((delay) => delay === HOUR));
    const mid = () => 0.5;
    assert.equal(nextAttemptDelay(DEFAULT_RETRY_SCHEDULE, 1, mid), HOUR);
    assert.equal(nextAttemptDelay(DEFAULT_RETRY_SCHEDULE, 72, mid), HOUR);
    assert.equal(nextAttemptDelay(DEFAULT_RETRY_SCHEDULE, 73, mid), null, "the 73rd failure is final");
  });

  it("jitters by at most ±5%", () => {
    assert.equal(
      nextAttemptDelay([HOUR], 1, () => 0),
      HOUR * 0.95,
    );
    assert.equal(
      nextAttemptDelay([HOUR], 1, () => 1),
      HOUR * 1.05,
    );
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
    assert.equal(nextAttemptDelay([60_000, 60_000], 1, none, 120_000), 120_000);
    assert.equal(nextAttemptDelay([60_000], 1, none, 1_000), 60_000, "never sooner than the schedule");
    const hourly = Array(72).fill(HOUR);
    assert.equal(nextAttemptDelay(hourly, 1, none, 100 * HOUR), 6 * HOUR, "capped");
    assert.equal(nextAttemptDelay(hourly, 71, none, 5 * HOUR), 2 * HOUR, "never past the schedule's end");
    assert.equal(nextAttemptDelay([60_000], 1, none, 100 * HOUR), 60_000, "the end of a short schedule");
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-11-27T10:00:00Z");
    assert.equal(parseRetryAfter("120", now), 120_000);
    assert.equal(parseRetryAfter("Fri, 27 Nov 2026 10:05:00 GMT", now), 300_000);
    assert.equal(parseRetryAfter("soon", now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });
});
