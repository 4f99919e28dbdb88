import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { loadConfig } from "../src/config.ts";
import { type Hookline, startHookline } from "../src/hookline.ts";
import { deliveriesOf, newAccount } from "./helpers/api.ts";
import { apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { TEST_MASTER_KEY } from "./helpers/postgres.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

// /metrics on every role: names and values move as events flow (issue 8).

const DASHBOARD = new URL("../../../docs/grafana-dashboard.json", import.meta.url);

interface Scrape {
  text: string;
  /** Every series name in the scrape (histograms as their _bucket, _sum and _count series). */
  names: Set<string>;
  /** A sample's value by name and labels (the `role` label aside); undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  roles: Set<string>;
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const sorted = Object.entries(labels)
    .filter(([label]) => label !== "role")
    .sort(([a], [b]) => a.localeCompare(b));
  return `${name}${JSON.stringify(sorted)}`;
}

/** GET /metrics, without any key, parsed from the Prometheus text format. */
async function scrape(baseUrl: string): Promise<Scrape> {
  const response = await fetch(new URL("/metrics", baseUrl));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const values = new Map<string, number>();
  const names = new Set<string>();
  const roles = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const [, name, labelText, value] = match as unknown as [string, string, string | undefined, string];
    const labels: Record<string, string> = {};
    for (const [, label, labelValue] of (labelText ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[label as string] = labelValue as string;
    }
    if (labels.role) roles.add(labels.role);
    names.add(name);
    values.set(seriesKey(name, labels), Number(value));
  }
  return { text, names, roles, value: (name, labels = {}) => values.get(seriesKey(name, labels)) };
}

/** How much each of these series grew between two scrapes. */
function moved(before: Scrape, now: Scrape, name: string, labels: Record<string, string> = {}): number {
  return (now.value(name, labels) ?? Number.NaN) - (before.value(name, labels) ?? Number.NaN);
}

describe("GET /metrics", () => {
  let h: TestHookline;
  const receivers: Receiver[] = [];

  before(async () => {
    h = await startTestHookline();
  });
  after(async () => {
    await h?.stop();
    await Promise.all(receivers.map((receiver) => receiver.close()));
  });

  async function receiver(respond = answer(204)) {
    const started = await startReceiver(respond);
    receivers.push(started);
    return started;
  }

  it("is public Prometheus text: every metric from the start, each series with the node's role", async () => {
    const first = await scrape(h.url);
    assert.deepEqual(first.roles, new Set(["all"]));
    assert.equal(first.value("hookline_store_up"), 1);
    const buildInfo = first.text.split("\n").find((line) => line.startsWith("hookline_build_info{"));
    assert.match(buildInfo ?? "", /version="\d+\.\d+\.\d+.*"} 1$/);
    for (const outcome of ["succeeded", "retrying", "failed"]) {
      assert.equal(typeof first.value("hookline_attempts_total", { outcome }), "number", outcome);
    }
    for (const name of [
      "hookline_attempt_duration_seconds_count",
      "hookline_ingest_commit_seconds_count",
      "hookline_ingest_commit_events_count",
      "hookline_attempts_in_flight",
      "hookline_deliveries_queued",
      "hookline_deliveries_due",
      "hookline_oldest_due_delivery_age_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ]) {
      assert.ok(first.names.has(name), `missing ${name}`);
    }
  });

  it("moves as events flow: accepted events, outcomes, failure reasons, durations, pending retries, disabled endpoints", async () => {
    const account = await newAccount(h, "Metrics flow");
    const good = await receiver(answer(204));
    const failing = await receiver(answer(500));
    const gone = await receiver(answer(410));
    for (const target of [good, failing, gone]) {
      assert.equal((await account.test.post("/v1/endpoints", { url: target.url })).status, 201);
    }
    const paused = await account.test.post("/v1/endpoints", { url: `${good.url}/paused`, event_types: ["never.sent"] });
    const before = await scrape(h.url);

    // 5 single events, one batch of 3, and a repeat of an idempotency key (not a new event).
    const eventIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sent = await account.test.post(
        "/v1/events",
        { type: "order.paid", data: { i } },
        { "idempotency-key": `k${i}` },
      );
      assert.equal(sent.status, 202);
      eventIds.push(sent.body.id);
    }
    const repeat = await account.test.post(
      "/v1/events",
      { type: "order.paid", data: { i: 0 } },
      { "idempotency-key": "k0" },
    );
    assert.equal(repeat.status, 202);
    const batch = await account.test.post("/v1/events/batch", {
      events: [1, 2, 3].map((n) => ({ type: "order.paid", data: { n } })),
    });
    assert.equal(batch.status, 202);
    eventIds.push(...batch.body.data.map((event: { id: string }) => event.id));
    const events = 8;
    assert.equal((await account.test.patch(`/v1/endpoints/${paused.body.id}`, { enabled: false })).status, 200);

    await good.waitFor(events);
    await failing.waitFor(events);
    // The first 410 disables its endpoint; attempts already under way may still arrive. The
    // counters move at once; the store's figures may be up to a second old (they are cached).
    const after = await eventually(
      async () => {
        const now = await scrape(h.url);
        const attempts = ["succeeded", "retrying", "failed"].reduce(
          (sum, outcome) => sum + moved(before, now, "hookline_attempts_total", { outcome }),
          0,
        );
        const counted = attempts === 2 * events + gone.requests.length;
        const stored = moved(before, now, "hookline_deliveries_queued") === events;
        return counted && stored ? now : undefined;
      },
      10_000,
      "the attempts to be counted and the retries to be queued",
    );
    const goneAttempts = gone.requests.length;
    assert.ok(goneAttempts >= 1);

    assert.equal(moved(before, after, "hookline_events_accepted_total", { environment: "test" }), events);
    // Seven requests one after another: seven commits, holding the 8 events and the repeat.
    assert.equal(moved(before, after, "hookline_ingest_commit_seconds_count"), 7);
    assert.ok(moved(before, after, "hookline_ingest_commit_seconds_sum") > 0);
    assert.equal(moved(before, after, "hookline_ingest_commit_events_sum"), events + 1);
    assert.equal(moved(before, after, "hookline_ingest_commit_events_bucket", { le: "2" }), 6);
    assert.equal(moved(before, after, "hookline_events_accepted_total", { environment: "live" }), 0);
    // Events accepted after the 410 was recorded no longer fan out to that endpoint.
    let deliveries = 0;
    for (const id of eventIds) deliveries += (await deliveriesOf(account.test, id)).length;
    assert.ok(deliveries > 2 * events);
    assert.equal(moved(before, after, "hookline_deliveries_created_total", { environment: "test" }), deliveries);
    assert.equal(moved(before, after, "hookline_attempts_total", { outcome: "succeeded" }), events);
    assert.equal(moved(before, after, "hookline_attempts_total", { outcome: "retrying" }), events);
    assert.equal(moved(before, after, "hookline_attempts_total", { outcome: "failed" }), goneAttempts);
    assert.equal(moved(before, after, "hookline_attempt_failures_total", { reason: "http_5xx" }), events);
    assert.equal(moved(before, after, "hookline_attempt_failures_total", { reason: "http_4xx" }), goneAttempts);
    assert.equal(moved(before, after, "hookline_attempt_duration_seconds_count"), 2 * events + goneAttempts);
    assert.ok(moved(before, after, "hookline_attempt_duration_seconds_sum") > 0);
    // The failing endpoint's deliveries wait an hour for their next attempt: queued, not due.
    assert.equal(moved(before, after, "hookline_deliveries_queued"), events);
    assert.equal(after.value("hookline_deliveries_due"), 0);
    assert.equal(after.value("hookline_oldest_due_delivery_age_seconds"), 0);
    assert.equal(moved(before, after, "hookline_endpoints_disabled", { cause: "automatic" }), 1);
    assert.equal(moved(before, after, "hookline_endpoints_disabled", { cause: "request" }), 1);
    assert.equal(moved(before, after, "hookline_endpoints_auto_disabled_total"), 1);
    for (const operation of ["ingest", "settle", "release", "metrics"]) {
      assert.equal(moved(before, after, "hookline_store_errors_total", { operation }), 0, operation);
    }
  });

  it("shows due work an endpoint at its cap cannot take yet, how long it has waited, and what is in flight", async () => {
    const account = await newAccount(h, "Metrics backlog");
    const held: ServerResponse[] = [];
    const slow = await receiver((_request, res) => {
      held.push(res);
    });
    const release = () => {
      for (const res of held.splice(0)) {
        res.statusCode = 204;
        res.end();
      }
    };
    try {
      const created = await account.test.post("/v1/endpoints", { url: slow.url, max_in_flight: 1 });
      assert.equal(created.status, 201);
      const batch = await account.test.post("/v1/events/batch", {
        events: [1, 2, 3].map((n) => ({ type: "order.paid", data: { n } })),
      });
      assert.equal(batch.status, 202);
      // One attempt hangs at the receiver; the other two are due, waiting for the endpoint's one slot.
      const waiting = await eventually(
        async () => {
          const now = await scrape(h.url);
          const age = now.value("hookline_oldest_due_delivery_age_seconds") ?? 0;
          return now.value("hookline_deliveries_due") === 2 && age > 0 ? now : undefined;
        },
        10_000,
        "two due deliveries that have waited",
      );
      assert.equal(waiting.value("hookline_attempts_in_flight"), 1);
      assert.ok((waiting.value("hookline_deliveries_queued") ?? 0) >= 3);
    } finally {
      release();
    }
    await eventually(
      async () => {
        release();
        const now = await scrape(h.url);
        return slow.requests.length === 3 &&
          now.value("hookline_deliveries_due") === 0 &&
          now.value("hookline_attempts_in_flight") === 0
          ? true
          : undefined;
      },
      10_000,
      "the backlog to drain",
    );
  });

  it("has every metric the Grafana dashboard uses", async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8"));
    const panels = dashboard.panels.filter((panel: { type: string }) => panel.type !== "row");
    assert.ok(panels.length >= 10);
    const used = new Set<string>();
    for (const panel of panels) {
      assert.ok(panel.title && panel.gridPos && panel.targets.length > 0, `panel ${panel.title}`);
      for (const target of panel.targets) {
        for (const [name] of target.expr.matchAll(/\b(?:hookline|process|nodejs)_[a-z0-9_]+/g)) used.add(name);
      }
    }
    for (const variable of dashboard.templating.list) {
      for (const [name] of JSON.stringify(variable.query ?? "").matchAll(/\bhookline_[a-z0-9_]+/g)) used.add(name);
    }
    const { names } = await scrape(h.url);
    const missing = [...used].filter((name) => !names.has(name));
    assert.deepEqual(missing, [], "metrics the dashboard uses but no scrape has");
    // The panels the operations guide promises.
    for (const name of [
      "hookline_events_accepted_total",
      "hookline_attempts_total",
      "hookline_attempt_duration_seconds_bucket",
      "hookline_deliveries_due",
      "hookline_oldest_due_delivery_age_seconds",
      "hookline_attempts_in_flight",
      "hookline_endpoints_disabled",
      "hookline_store_errors_total",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
    ]) {
      assert.ok(used.has(name), `the dashboard has no panel with ${name}`);
    }
  });
});

const postgresUrl = process.env.HOOKLINE_TEST_DATABASE_URL;

describe("GET /metrics on a worker node", {
  skip: postgresUrl ? false : "a worker node needs the shared store: runs in npm test's PostgreSQL pass",
}, () => {
  let api: TestHookline;
  let worker: Hookline;
  let receiver: Receiver;
  const dir = tempDir();

  before(async () => {
    receiver = await startReceiver(answer(204));
    api = await startTestHookline({ HOOKLINE_ROLE: "api" });
    const config = loadConfig({
      env: {
        HOOKLINE_PORT: "0",
        HOOKLINE_DATA_DIR: dir.path,
        HOOKLINE_ROLE: "worker",
        DATABASE_URL: postgresUrl as string,
        HOOKLINE_DATABASE_SCHEMA: api.config.databaseSchema,
        HOOKLINE_MASTER_KEY: TEST_MASTER_KEY,
      },
    });
    worker = await startHookline(config, pino({ level: "silent" }));
  });
  after(async () => {
    await worker?.stop();
    await api?.stop();
    await receiver?.close();
    dir.remove();
  });

  it("serves its own figures beside its probes (no API), labelled worker; the API node counts ingest", async () => {
    assert.equal(
      (await apiClient(worker.url, api.keys.test).get("/v1/endpoints")).status,
      404,
      "a worker serves no API",
    );
    const [apiBefore, workerBefore] = await Promise.all([scrape(api.url), scrape(worker.url)]);
    assert.deepEqual(workerBefore.roles, new Set(["worker"]));
    assert.deepEqual(apiBefore.roles, new Set(["api"]));

    assert.equal((await api.test.post("/v1/endpoints", { url: receiver.url })).status, 201);
    for (let i = 0; i < 3; i++) {
      assert.equal((await api.test.post("/v1/events", { type: "order.paid", data: { i } })).status, 202);
    }
    await receiver.waitFor(3);
    const workerAfter = await eventually(
      async () => {
        const now = await scrape(worker.url);
        return moved(workerBefore, now, "hookline_attempts_total", { outcome: "succeeded" }) === 3 ? now : undefined;
      },
      10_000,
      "the worker to count its attempts",
    );
    assert.equal(moved(workerBefore, workerAfter, "hookline_attempt_duration_seconds_count"), 3);
    assert.equal(moved(workerBefore, workerAfter, "hookline_events_accepted_total", { environment: "test" }), 0);
    const apiAfter = await scrape(api.url);
    assert.equal(moved(apiBefore, apiAfter, "hookline_events_accepted_total", { environment: "test" }), 3);
    assert.equal(moved(apiBefore, apiAfter, "hookline_attempts_total", { outcome: "succeeded" }), 0);
    // The store's figures describe the shared database, the same from every node.
    assert.equal(workerAfter.value("hookline_store_up"), 1);
    assert.ok(workerAfter.names.has("process_cpu_seconds_total"));
  });
});
