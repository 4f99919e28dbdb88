import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { startHookline } from "../src/hookline.ts";
import type { Endpoint, Scope } from "../src/store/store.ts";
import { SYSTEM_ACCOUNT_NAME } from "../src/system-events.ts";
import { newAccount } from "./helpers/api.ts";
import { eventually } from "./helpers/client.ts";
import { setEndpointColumns, startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type ReceivedRequest, type Receiver, startReceiver } from "./helpers/receiver.ts";

// An endpoint that fails for `disable_endpoint_after` (5 days by default; 1.5 s here) is
// disabled, and the operator hears of it (and of 410 Gone) through an `endpoint.disabled`
// system event at `system_events_url`, shown in the dashboard under its own account.

const DISABLE_AFTER_MS = 1500;

describe("endpoints that keep failing are disabled, and the operator is told", () => {
  let h: TestHookline;
  let operator: Receiver;

  before(async () => {
    operator = await startReceiver(answer(204));
    h = await startTestHookline({
      HOOKLINE_DISABLE_ENDPOINT_AFTER: `${DISABLE_AFTER_MS}ms`,
      HOOKLINE_RETRY_SCHEDULE: "100ms*100",
      HOOKLINE_SYSTEM_EVENTS_URL: `${operator.url}/hookline-events`,
      // The operator's receiver is on loopback: LIVE endpoints reach it only through the allow-list.
      HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32",
    });
  });
  after(async () => {
    await h?.stop();
    await operator?.close();
  });

  async function systemEndpoint(): Promise<{ scope: Scope; endpoint: Endpoint }> {
    const accountId = (await h.hookline.store.getSetting("system_account_id")) as string;
    const scope = { accountId, environment: "live" } as const;
    const [endpoint] = await h.hookline.store.listEndpoints(scope, { limit: 10 });
    return { scope, endpoint: endpoint as Endpoint };
  }

  function systemEventFor(endpointId: string): ReceivedRequest | undefined {
    return operator.requests.find((request) => JSON.parse(request.body).data?.endpoint_id === endpointId);
  }

  it("the system account exists from the start, with an endpoint at system_events_url", async () => {
    const accounts = (await h.admin.get("/v1/accounts?limit=250")).body.data;
    assert.ok(accounts.some((account: { name: string }) => account.name === SYSTEM_ACCOUNT_NAME));
    const { endpoint } = await systemEndpoint();
    assert.equal(endpoint.url, `${operator.url}/hookline-events`);
    assert.equal(endpoint.enabled, true);
  });

  it("a success resets the clock; failing without one for the whole period disables, with the reason", async () => {
    const acme = await newAccount(h, "Acme");
    let calls = 0;
    // Fails, but every fourth request succeeds: never failing for 1.5 s at a stretch.
    const flaky = await startReceiver((_request, res) => {
      calls++;
      res.statusCode = calls % 4 === 0 ? 200 : 500;
      res.end();
    });
    try {
      const created = await acme.test.post("/v1/endpoints", { url: flaky.url });
      // New events all along, so there is always something to attempt.
      const started = Date.now();
      let sent = 0;
      while (Date.now() - started < 3 * DISABLE_AFTER_MS) {
        await acme.test.post("/v1/events", { type: "transfer.completed", data: { sent: sent++ } });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const meanwhile = (await acme.test.get(`/v1/endpoints/${created.body.id}`)).body;
      assert.equal(
        meanwhile.enabled,
        true,
        `disabled although it succeeded now and then: ${meanwhile.disabled_reason}`,
      );
      assert.ok(calls >= 20, `attempts kept going (${calls})`);

      flaky.respondWith(answer(503));
      const disabled = await eventually(
        async () => {
          const endpoint = (await acme.test.get(`/v1/endpoints/${created.body.id}`)).body;
          return endpoint.enabled ? undefined : endpoint;
        },
        15_000,
        "the endpoint to be disabled",
      );
      assert.match(disabled.disabled_reason, /^every attempt failed for \d+ s, since \d{4}-\d\d-\d\dT/);
      // Nothing waits for a disabled endpoint: its deliveries succeeded or failed.
      const events = (await acme.test.get("/v1/events?limit=250")).body.data;
      for (const event of events) {
        const deliveries = (await acme.test.get(`/v1/events/${event.id}/deliveries`)).body.data;
        assert.ok(["succeeded", "failed"].includes(deliveries[0].status), deliveries[0].status);
      }
      const before = flaky.requests.length;
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(flaky.requests.length, before, "no attempts after the disable");

      // The operator's system event: signed with the system endpoint's secret, about this endpoint.
      const request = await eventually(() => systemEventFor(created.body.id), 10_000, "the system event");
      const { endpoint } = await systemEndpoint();
      const verified = new Webhook(endpoint.secret).verify(request.body, request.headers as Record<string, string>) as {
        type: string;
        data: Record<string, unknown>;
      };
      assert.equal(verified.type, "endpoint.disabled");
      assert.equal(verified.data.account_id, acme.id);
      assert.equal(verified.data.environment, "test");
      assert.equal(verified.data.url, flaky.url);
      assert.equal(verified.data.reason, disabled.disabled_reason);
      assert.match(String(verified.data.failing_since), /^\d{4}-/);
      assert.equal(request.url, "/hookline-events");

      // Re-enabled, it starts counting afresh: the first failures do not disable it at once.
      const reenabled = await acme.test.patch(`/v1/endpoints/${created.body.id}`, { enabled: true });
      assert.equal(reenabled.body.enabled, true);
      const afterReenable = flaky.requests.length;
      await acme.test.post("/v1/events", { type: "transfer.completed", data: { again: true } });
      await eventually(
        () => (flaky.requests.length >= afterReenable + 3 ? true : undefined),
        10_000,
        "attempts after re-enabling",
      );
      assert.equal((await acme.test.get(`/v1/endpoints/${created.body.id}`)).body.enabled, true);
    } finally {
      await flaky.close();
    }
  });

  it("an endpoint that answered 410 and is enabled again elsewhere (another node, no forget here) gets new events", async () => {
    const acme = await newAccount(h, "Back Again");
    const receiver = await startReceiver(answer(410));
    try {
      const created = await acme.test.post("/v1/endpoints", { url: receiver.url });
      await acme.test.post("/v1/events", { type: "transfer.completed", data: { n: 1 } });
      await eventually(() => systemEventFor(created.body.id), 10_000, "the 410 system event");
      receiver.respondWith(answer(204));
      // The store directly, as an API node other than this dispatcher's would write it.
      const scope = { accountId: acme.id, environment: "test" } as const;
      await h.hookline.store.updateEndpoint(scope, created.body.id, { enabled: true }, Date.now());
      await acme.test.post("/v1/events", { type: "transfer.completed", data: { n: 2 } });
      await eventually(
        () => (receiver.requests.some((r) => r.body.includes('"n":2')) ? true : undefined),
        10_000,
        "the event sent after re-enabling",
      );
    } finally {
      await receiver.close();
    }
  });

  it("410 Gone disables at once and is reported too; the dashboard's system account lists the events", async () => {
    const acme = await newAccount(h, "Gone Inc");
    const gone = await startReceiver(answer(410));
    try {
      const created = await acme.live.post("/v1/endpoints", { url: gone.url });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await acme.live.post("/v1/events", { type: "transfer.completed", data: {} });
      const request = await eventually(() => systemEventFor(created.body.id), 10_000, "the 410 system event");
      const event = JSON.parse(request.body);
      assert.match(event.data.reason, /410 Gone/);
      assert.equal(event.data.failing_since, null);
      assert.equal(event.data.environment, "live");

      const { scope } = await systemEndpoint();
      const listed = await h.hookline.store.listEvents(scope, {}, { limit: 50 });
      const types = listed.events.map((e) => e.type);
      assert.ok(types.length >= 2 && types.every((type) => type === "endpoint.disabled"), types.join());
    } finally {
      await gone.close();
    }
  });

  it("a 410 that arrives after its endpoint was deleted changes nothing, and delivery goes on", async () => {
    const acme = await newAccount(h, "Deleted Inc");
    let release: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowGone = await startReceiver((_request, res) => {
      void answered.then(() => {
        res.statusCode = 410;
        res.end();
      });
    });
    const healthy = await startReceiver(answer(204));
    try {
      const doomed = await acme.test.post("/v1/endpoints", { url: slowGone.url });
      await acme.test.post("/v1/events", { type: "transfer.completed", data: {} });
      await slowGone.waitFor(1);
      assert.equal((await acme.test.delete(`/v1/endpoints/${doomed.body.id}`)).status, 204);
      release();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await acme.test.post("/v1/endpoints", { url: healthy.url });
      await acme.test.post("/v1/events", { type: "transfer.completed", data: { after: true } });
      await healthy.waitFor(1, 10_000);
      assert.equal(systemEventFor(doomed.body.id), undefined, "no notice for an endpoint that is gone");
    } finally {
      await slowGone.close();
      await healthy.close();
    }
  });

  it("a notice left pending (the process stopped before recording it) is recorded at the next start", async () => {
    const acme = await newAccount(h, "Crashed Inc");
    const created = await acme.test.post("/v1/endpoints", { url: "http://127.0.0.1:9/", enabled: false });
    const at = Date.parse("2026-11-20T10:00:00.000Z");
    await h.hookline.stop();
    // What a settle leaves when the process dies right after its commit: the disable and its notice.
    await setEndpointColumns(h.config, created.body.id, {
      disabled_reason: "every attempt failed for 5 days",
      disabled_notice_at: at,
    });
    // Started without system_events_url: the notice is still recorded (and shown), not sent.
    const again = await startHookline({ ...h.config, systemEventsUrl: null }, pino({ level: "silent" }));
    try {
      const accountId = (await again.store.getSetting("system_account_id")) as string;
      const listed = await again.store.listEvents({ accountId, environment: "live" }, {}, { limit: 50 });
      const notice = listed.events.find((e) => JSON.parse(e.body).data.endpoint_id === created.body.id);
      assert.ok(notice, "the pending notice became an endpoint.disabled event");
      assert.equal(JSON.parse(notice.body).data.disabled_at, "2026-11-20T10:00:00.000Z");
      assert.deepEqual(await again.store.pendingDisabledNotices(10), []);
      const kept = await again.store.listEndpoints({ accountId, environment: "live" }, { limit: 10 });
      assert.deepEqual(
        kept.map((endpoint) => endpoint.enabled),
        [false],
        "the endpoint at the old system_events_url is disabled",
      );
    } finally {
      await again.stop();
    }
  });
});
