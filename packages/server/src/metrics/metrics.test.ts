import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { IngestRequest, IngestResult, MetricsSnapshot, Outcome } from "../store/store.ts";
import { createMetrics, failureReason } from "./metrics.ts";

const logger = pino({ level: "silent" });
const FIGURES: MetricsSnapshot = {
  queued: 12,
  due: 3,
  oldestDueAt: 1_000,
  disabledEndpoints: { byRequest: 2, automatic: 1 },
};

/** Sample lines without the HELP and TYPE comments. */
function samples(text: string): string[] {
  return text.split("\n").filter((line) => line && !line.startsWith("#"));
}

function outcome(status: Outcome["status"], statusCode: number | null, error: Outcome["attempt"]["error"] = null) {
  return {
    status,
    attempt: { statusCode, error, durationMs: 30 },
  } as Outcome;
}

describe("metrics", () => {
  it("names why an attempt failed: its error, else its status class", () => {
    assert.equal(failureReason({ statusCode: null, error: "timeout" }), "timeout");
    assert.equal(failureReason({ statusCode: 302, error: null }), "http_3xx");
    assert.equal(failureReason({ statusCode: 410, error: null }), "http_4xx");
    assert.equal(failureReason({ statusCode: 503, error: null }), "http_5xx");
    assert.equal(failureReason({ statusCode: 199, error: null }), "http_other");
  });

  it("counts attempts by outcome and reason, new events but not repeats, with the role on every series", async () => {
    const metrics = createMetrics({
      role: "worker",
      version: "1.2.3",
      now: () => 3_000,
      logger,
      snapshot: async () => FIGURES,
    });
    metrics.attempted(outcome("succeeded", 204));
    metrics.attempted(outcome("pending", 500));
    metrics.attempted(outcome("failed", null, "connect"));
    const request = { scope: { accountId: "acct_1", environment: "live" }, events: [] } as unknown as IngestRequest;
    const result = {
      ok: true,
      events: [{ replayed: false }, { replayed: true }, { replayed: false }],
      deliveries: 6,
    } as unknown as IngestResult;
    metrics.ingested(request, result);
    metrics.storeFailed("settle");
    const lines = samples(await metrics.render());
    for (const expected of [
      'hookline_attempts_total{outcome="succeeded",role="worker"} 1',
      'hookline_attempts_total{outcome="retrying",role="worker"} 1',
      'hookline_attempts_total{outcome="failed",role="worker"} 1',
      'hookline_attempt_failures_total{reason="http_5xx",role="worker"} 1',
      'hookline_attempt_failures_total{reason="connect",role="worker"} 1',
      'hookline_attempt_failures_total{reason="timeout",role="worker"} 0',
      'hookline_attempt_duration_seconds_count{role="worker"} 3',
      'hookline_events_accepted_total{environment="live",role="worker"} 2',
      'hookline_events_accepted_total{environment="test",role="worker"} 0',
      'hookline_deliveries_created_total{environment="live",role="worker"} 6',
      'hookline_store_errors_total{operation="settle",role="worker"} 1',
      'hookline_store_up{role="worker"} 1',
      'hookline_deliveries_queued{role="worker"} 12',
      'hookline_deliveries_due{role="worker"} 3',
      'hookline_oldest_due_delivery_age_seconds{role="worker"} 2',
      'hookline_endpoints_disabled{cause="request",role="worker"} 2',
      'hookline_endpoints_disabled{cause="automatic",role="worker"} 1',
      'hookline_build_info{version="1.2.3",role="worker"} 1',
    ]) {
      assert.ok(lines.includes(expected), `missing: ${expected}`);
    }
    assert.ok(lines.some((line) => line.startsWith('process_cpu_seconds_total{role="worker"}')));
    assert.ok(
      lines.every((line) => line.includes('role="worker"')),
      "every series has the role",
    );
  });

  it("two instances in one process keep their own figures", async () => {
    const a = createMetrics({ role: "all", version: "1", now: () => 0, logger, snapshot: async () => FIGURES });
    const b = createMetrics({ role: "all", version: "1", now: () => 0, logger, snapshot: async () => FIGURES });
    a.attempted(outcome("succeeded", 200));
    assert.ok(samples(await a.render()).includes('hookline_attempts_total{outcome="succeeded",role="all"} 1'));
    assert.ok(samples(await b.render()).includes('hookline_attempts_total{outcome="succeeded",role="all"} 0'));
  });

  it("without the store's answer, a scrape says so and leaves the store's figures out instead of showing zeros", async () => {
    const metrics = createMetrics({
      role: "all",
      version: "1",
      now: () => 0,
      logger,
      snapshot: () => Promise.reject(new Error("the store is unavailable")),
    });
    const text = await metrics.render();
    const lines = samples(text);
    assert.ok(lines.includes('hookline_store_up{role="all"} 0'));
    assert.ok(lines.includes('hookline_store_errors_total{operation="metrics",role="all"} 1'));
    assert.ok(!text.includes("hookline_deliveries_queued"));
    assert.ok(!text.includes("hookline_endpoints_disabled{"));
    assert.ok(
      lines.some((line) => line.startsWith("hookline_attempts_total")),
      "the rest is still served",
    );
  });
});
