import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Claim } from "../store/store.ts";
import { type AttemptResult, decideOutcome } from "./outcome-policy.ts";

const NOW = 1_000_000;
const claim = (overrides: Partial<Claim> = {}): Claim => ({
  deliveryId: "dlv_1",
  claimToken: "t",
  eventId: "evt_1",
  body: "{}",
  endpointId: "ep_1",
  environment: "test",
  kind: "http",
  url: "http://127.0.0.1/",
  secrets: ["whsec_x"],
  retrySchedule: null,
  maxInFlight: null,
  rateLimitPerS: null,
  sendAt: NOW,
  scheduledAttempts: 0,
  leaseUntil: NOW + 60_000,
  nextAttemptAt: NOW,
  manual: false,
  ...overrides,
});
const result = (overrides: Partial<AttemptResult>): AttemptResult => ({
  startedAt: NOW,
  durationMs: 5,
  statusCode: null,
  error: null,
  responseSnippet: null,
  requestHeaders: {},
  retryAfterMs: null,
  ...overrides,
});
const rules = { retrySchedule: [1000, 2000], disableAfterMs: 5 * 86_400_000, keepSnippets: 10 };
const noJitter = () => 0.5;

describe("decideOutcome", () => {
  it("a 2xx acknowledges, whatever the body", () => {
    for (const statusCode of [200, 201, 204, 299]) {
      const outcome = decideOutcome(claim(), result({ statusCode }), NOW, rules, noJitter);
      assert.equal(outcome.status, "succeeded");
      assert.equal(outcome.nextAttemptAt, null);
    }
  });

  it("3xx, 4xx, 5xx and transport errors are failures that follow the schedule", () => {
    for (const fields of [
      { statusCode: 302 },
      { statusCode: 400 },
      { statusCode: 500 },
      { error: "timeout" as const },
    ]) {
      const outcome = decideOutcome(claim(), result(fields), NOW, rules, noJitter);
      assert.equal(outcome.status, "pending");
      assert.equal(outcome.nextAttemptAt, NOW + 1000);
      assert.equal(outcome.scheduledAttempts, 1);
    }
    const second = decideOutcome(claim({ scheduledAttempts: 1 }), result({ statusCode: 500 }), NOW, rules, noJitter);
    assert.equal(second.nextAttemptAt, NOW + 2000);
  });

  it("fails the delivery when the schedule is used up; an endpoint's own schedule wins", () => {
    const last = decideOutcome(claim({ scheduledAttempts: 2 }), result({ statusCode: 500 }), NOW, rules, noJitter);
    assert.equal(last.status, "failed");
    const own = decideOutcome(claim({ retrySchedule: [50] }), result({ statusCode: 500 }), NOW, rules, noJitter);
    assert.equal(own.nextAttemptAt, NOW + 50);
  });

  it("410 Gone fails the delivery and disables the endpoint", () => {
    const outcome = decideOutcome(claim(), result({ statusCode: 410 }), NOW, rules, noJitter);
    assert.equal(outcome.status, "failed");
    assert.match(outcome.disableEndpoint ?? "", /410/);
  });

  it("a failure asks the store to disable the endpoint if it has failed since disableAfterMs before the attempt", () => {
    const failed = decideOutcome(claim(), result({ statusCode: 500 }), NOW, rules, noJitter);
    assert.equal(failed.disableIfFailingSince, NOW - rules.disableAfterMs);
    const timedOut = decideOutcome(claim(), result({ error: "timeout" }), NOW, rules, noJitter);
    assert.equal(timedOut.disableIfFailingSince, NOW - rules.disableAfterMs);
    assert.equal(decideOutcome(claim(), result({ statusCode: 204 }), NOW, rules, noJitter).disableIfFailingSince, null);
    assert.equal(decideOutcome(claim(), result({ statusCode: 410 }), NOW, rules, noJitter).disableIfFailingSince, null);
  });

  it("keeps a response snippet storable everywhere: NUL becomes U+FFFD", () => {
    const outcome = decideOutcome(
      claim(),
      result({ statusCode: 500, responseSnippet: "a\u0000b" }),
      NOW,
      rules,
      noJitter,
    );
    assert.equal(outcome.attempt.responseSnippet, "a\uFFFDb");
  });

  it("a manual retry does not use up the schedule", () => {
    const pending = claim({ manual: true, scheduledAttempts: 1, nextAttemptAt: NOW + 5000 });
    const failed = decideOutcome(pending, result({ statusCode: 500 }), NOW, rules, noJitter);
    assert.equal(failed.status, "pending");
    assert.equal(failed.nextAttemptAt, NOW + 5000, "keeps the scheduled attempt it had");
    assert.equal(failed.scheduledAttempts, 1);
    assert.equal(failed.attempt.trigger, "manual");
    const wasFinal = decideOutcome(
      claim({ manual: true, nextAttemptAt: null }),
      result({ statusCode: 500 }),
      NOW,
      rules,
      noJitter,
    );
    assert.equal(wasFinal.status, "failed");
  });
});
