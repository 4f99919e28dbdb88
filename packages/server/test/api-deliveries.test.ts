import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { assertError, type DeliveryJson, deliveriesOf, deliveryWhen, newAccount } from "./helpers/api.ts";
import type { ApiClient } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, startReceiver } from "./helpers/receiver.ts";

async function onlyDelivery(client: ApiClient, eventId: string): Promise<DeliveryJson> {
  const list = await deliveriesOf(client, eventId);
  assert.equal(list.length, 1);
  return list[0] as DeliveryJson;
}

describe("deliveries API", () => {
  let h: TestHookline;

  before(async () => {
    h = await startTestHookline();
  });
  after(async () => {
    await h.stop();
  });

  it("GET /v1/deliveries/{id} and its attempt log; foreign ids are 404", async () => {
    const { test, live } = await newAccount(h, "deliveries");
    const receiver = await startReceiver(answer(500, "try later"));
    try {
      const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/log`, retry_schedule: ["50ms", "50ms"] }))
        .body;
      const sent = await test.post("/v1/events", { type: "log.me", data: {} });
      await receiver.waitFor(2);
      receiver.respondWith(answer(200, "fine"));
      const pending = await onlyDelivery(test, sent.body.id);
      const done = await deliveryWhen(test, pending.id, (d) => d.status === "succeeded", "the delivery to succeed");
      assert.equal(done.event_id, sent.body.id);
      assert.equal(done.endpoint_id, ep.id);
      assert.equal(done.attempt_count, 3);
      assert.equal(done.last_status_code, 200);
      assert.equal(done.last_error, null);
      assert.equal(done.next_attempt_at, null);

      const attempts = await test.get(`/v1/deliveries/${done.id}/attempts`);
      assert.equal(attempts.status, 200);
      assert.equal(attempts.body.next_cursor, null);
      const log = attempts.body.data;
      assert.deepEqual(
        log.map((a: { status_code: number }) => a.status_code),
        [500, 500, 200],
      );
      assert.deepEqual(
        log.map((a: { response_snippet: string }) => a.response_snippet),
        ["try later", "try later", "fine"],
      );
      for (const attempt of log) {
        assert.match(attempt.id, /^att_/);
        assert.equal(attempt.delivery_id, done.id);
        assert.equal(new Date(attempt.started_at).toISOString(), attempt.started_at);
        assert.ok(Number.isInteger(attempt.duration_ms) && attempt.duration_ms >= 0);
        assert.equal(attempt.error, null);
        assert.equal(attempt.trigger, "scheduled");
        assert.equal(attempt.request_headers["webhook-id"], sent.body.id);
        assert.ok(!JSON.stringify(attempt.request_headers).includes(ep.secret.slice(6)), "the secret is not logged");
      }
      for (let i = 1; i < log.length; i++) assert.ok(log[i].started_at >= log[i - 1].started_at, "oldest first");

      const firstPage = await test.get(`/v1/deliveries/${done.id}/attempts?limit=2`);
      assert.equal(firstPage.body.data.length, 2);
      assert.equal(firstPage.body.next_cursor, firstPage.body.data[1].id);
      const lastPage = await test.get(`/v1/deliveries/${done.id}/attempts?limit=2&after=${firstPage.body.next_cursor}`);
      assert.deepEqual(lastPage.body.data, [log[2]]);
      assert.equal(lastPage.body.next_cursor, null);

      const stranger = await newAccount(h, "stranger");
      for (const client of [live, stranger.test, stranger.live]) {
        assertError(await client.get(`/v1/deliveries/${done.id}`), 404, "not_found");
        assertError(await client.get(`/v1/deliveries/${done.id}/attempts`), 404, "not_found");
        assertError(await client.post(`/v1/deliveries/${done.id}/retry`), 404, "not_found");
      }
      assertError(await test.get("/v1/deliveries/dlv_00000000000000000000000000"), 404, "not_found");
      assertError(await test.get("/v1/deliveries/dlv_00000000000000000000000000/attempts"), 404, "not_found");
      assertError(await test.post("/v1/deliveries/dlv_00000000000000000000000000/retry"), 404, "not_found");
      assert.equal(receiver.requests.length, 3, "foreign retries sent nothing");
    } finally {
      await receiver.close();
    }
  });

  it("POST /v1/deliveries/{id}/retry attempts a failed delivery at once, once", async () => {
    const { test } = await newAccount(h, "deliveries");
    const receiver = await startReceiver(answer(503));
    try {
      await test.post("/v1/endpoints", { url: receiver.url, retry_schedule: ["50ms"] });
      const sent = await test.post("/v1/events", { type: "retry.me", data: {} });
      const { id } = await onlyDelivery(test, sent.body.id);
      const failed = await deliveryWhen(test, id, (d) => d.status === "failed", "the delivery to fail");
      assert.equal(failed.attempt_count, 2);
      assert.equal(failed.last_status_code, 503);
      assert.equal(failed.last_error, "http_503");
      assert.equal(failed.next_attempt_at, null);

      // Still failing: one manual attempt, then failed again (the schedule is not restarted).
      const retried = await test.post(`/v1/deliveries/${id}/retry`);
      assert.equal(retried.status, 202);
      assert.equal(retried.body.id, id);
      assert.equal(retried.body.status, "pending");
      const again = await deliveryWhen(test, id, (d) => d.attempt_count === 3 && d.status === "failed", "a retry");
      assert.equal(again.last_status_code, 503);
      assert.equal(receiver.requests.length, 3);

      receiver.respondWith(answer(204));
      assert.equal((await test.post(`/v1/deliveries/${id}/retry`)).status, 202);
      const done = await deliveryWhen(test, id, (d) => d.status === "succeeded", "the retry to succeed");
      assert.equal(done.attempt_count, 4);
      assert.equal(done.last_status_code, 204);
      assert.equal(done.last_error, null);
      const attempts = (await test.get(`/v1/deliveries/${id}/attempts`)).body.data;
      assert.deepEqual(
        attempts.map((a: { trigger: string }) => a.trigger),
        ["scheduled", "scheduled", "manual", "manual"],
      );
      assert.equal(new Set(receiver.requests.map((r) => r.headers["webhook-id"])).size, 1, "same webhook-id");

      // A succeeded delivery may be sent again on request (a replay): same webhook-id again.
      assert.equal((await test.post(`/v1/deliveries/${id}/retry`)).status, 202);
      await deliveryWhen(test, id, (d) => d.attempt_count === 5 && d.status === "succeeded", "a replay");
      assert.equal(receiver.requests.length, 5);
      assert.equal(receiver.requests[4]?.headers["webhook-id"], sent.body.id);
    } finally {
      await receiver.close();
    }
  });

  it("a retry while an attempt is running is refused with 409", async () => {
    const { test } = await newAccount(h, "deliveries");
    const held: ServerResponse[] = [];
    const receiver = await startReceiver((_request, res) => {
      held.push(res);
    });
    try {
      await test.post("/v1/endpoints", { url: receiver.url });
      const sent = await test.post("/v1/events", { type: "slow.one", data: {} });
      await receiver.waitFor(1);
      const { id } = await onlyDelivery(test, sent.body.id);
      assert.equal((await test.get(`/v1/deliveries/${id}`)).body.status, "delivering");
      assertError(await test.post(`/v1/deliveries/${id}/retry`), 409, "attempt_in_progress");
      for (const res of held) {
        res.statusCode = 200;
        res.end();
      }
      const done = await deliveryWhen(test, id, (d) => d.status === "succeeded", "the held attempt to finish");
      assert.equal(done.attempt_count, 1);
    } finally {
      await receiver.close();
    }
  });

  it("recover re-queues an endpoint's failed deliveries in the window", async () => {
    const { test, live } = await newAccount(h, "deliveries");
    const receiver = await startReceiver(answer(500));
    try {
      const ep = (await test.post("/v1/endpoints", { url: receiver.url, retry_schedule: ["50ms"] })).body;
      const beforeEvents = new Date(Date.now() - 1000).toISOString();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const sent = await test.post("/v1/events", { type: "recover.me", data: { i } });
        ids.push((await onlyDelivery(test, sent.body.id)).id);
      }
      for (const id of ids) await deliveryWhen(test, id, (d) => d.status === "failed", "each delivery to fail");
      assert.equal(receiver.requests.length, 6);

      const recover = (body: unknown) => test.post(`/v1/endpoints/${ep.id}/recover`, body);
      const longAgo = new Date(Date.now() - 3_600_000).toISOString();
      assertError(await recover({ since: beforeEvents, until: longAgo }), 400, "invalid_request");
      assertError(await recover({ since: beforeEvents, until: beforeEvents }), 400, "invalid_request");
      assertError(await recover({ since: new Date(Date.now() + 3_600_000).toISOString() }), 400);
      assertError(await recover({}), 400, "invalid_request");
      assertError(await recover({ since: "last tuesday" }), 400, "invalid_request");
      assertError(await recover({ since: beforeEvents, status: "failed" }), 400, "invalid_request");
      assertError(await live.post(`/v1/endpoints/${ep.id}/recover`, { since: beforeEvents }), 404, "not_found");
      assertError(await test.post("/v1/endpoints/ep_00000000000000000000000000/recover", { since: beforeEvents }), 404);

      // A window that holds none of them recovers nothing.
      const none = await recover({ since: longAgo, until: beforeEvents });
      assert.equal(none.status, 202);
      assert.deepEqual(none.body, { recovered: 0 });
      for (const id of ids) assert.equal((await test.get(`/v1/deliveries/${id}`)).body.status, "failed");

      // A disabled endpoint is never sent to: recover and retry say so instead of leaving pending
      // deliveries that nothing attempts.
      assert.equal((await test.patch(`/v1/endpoints/${ep.id}`, { enabled: false })).status, 200);
      assertError(await recover({ since: beforeEvents }), 409, "endpoint_disabled");
      assertError(await test.post(`/v1/deliveries/${ids[0]}/retry`), 409, "endpoint_disabled");
      for (const id of ids) assert.equal((await test.get(`/v1/deliveries/${id}`)).body.status, "failed");
      assert.equal((await test.patch(`/v1/endpoints/${ep.id}`, { enabled: true })).status, 200);

      receiver.respondWith(answer(204));
      const recovered = await recover({ since: beforeEvents });
      assert.equal(recovered.status, 202);
      assert.deepEqual(recovered.body, { recovered: 3 });
      for (const id of ids) {
        const done = await deliveryWhen(test, id, (d) => d.status === "succeeded", "recovered deliveries");
        assert.equal(done.attempt_count, 3);
        assert.equal(done.last_status_code, 204);
      }
      assert.equal(receiver.requests.length, 9);
      assert.deepEqual((await recover({ since: beforeEvents })).body, { recovered: 0 }, "nothing failed is left");
    } finally {
      await receiver.close();
    }
  });

  it("disabling an endpoint fails its pending deliveries; recover after re-enabling delivers them", async () => {
    const { test } = await newAccount(h, "deliveries");
    const receiver = await startReceiver(answer(500));
    try {
      const since = new Date(Date.now() - 1000).toISOString();
      const ep = (await test.post("/v1/endpoints", { url: receiver.url, retry_schedule: ["1h"] })).body;
      const sent = await test.post("/v1/events", { type: "disable.me", data: {} });
      const { id } = await onlyDelivery(test, sent.body.id);
      const waiting = await deliveryWhen(
        test,
        id,
        (d) => d.attempt_count === 1 && d.status === "pending",
        "the first attempt to fail",
      );
      assert.ok(waiting.next_attempt_at !== null && Date.parse(waiting.next_attempt_at) > Date.now() + 30 * 60_000);

      const disabled = await test.patch(`/v1/endpoints/${ep.id}`, { enabled: false });
      assert.equal(disabled.status, 200);
      assert.equal(disabled.body.enabled, false);
      assert.equal(typeof disabled.body.disabled_reason, "string");
      const failed = (await test.get(`/v1/deliveries/${id}`)).body;
      assert.equal(failed.status, "failed");
      assert.equal(failed.last_error, "endpoint_disabled");
      assert.equal(failed.next_attempt_at, null);

      // While disabled, new events do not fan out to it.
      const whileDisabled = await test.post("/v1/events", { type: "disable.me", data: { late: true } });
      assert.deepEqual((await test.get(`/v1/events/${whileDisabled.body.id}/deliveries`)).body.data, []);

      receiver.respondWith(answer(204));
      const enabled = await test.patch(`/v1/endpoints/${ep.id}`, { enabled: true });
      assert.equal(enabled.body.enabled, true);
      assert.equal(enabled.body.disabled_reason, null);
      assert.equal((await test.get(`/v1/deliveries/${id}`)).body.status, "failed", "re-enabling alone revives nothing");

      const recovered = await test.post(`/v1/endpoints/${ep.id}/recover`, { since });
      assert.equal(recovered.status, 202);
      assert.deepEqual(recovered.body, { recovered: 1 });
      const done = await deliveryWhen(test, id, (d) => d.status === "succeeded", "the recovered delivery");
      assert.equal(done.attempt_count, 2);
      assert.equal(receiver.requests.length, 2);
      assert.ok(receiver.requests.every((r) => r.headers["webhook-id"] === sent.body.id));
    } finally {
      await receiver.close();
    }
  });

  it("deleting an endpoint cancels its pending deliveries, which stay readable", async () => {
    const { test } = await newAccount(h, "deliveries");
    const receiver = await startReceiver(answer(500));
    try {
      const ep = (await test.post("/v1/endpoints", { url: receiver.url, retry_schedule: ["1h"] })).body;
      const sent = await test.post("/v1/events", { type: "delete.me", data: {} });
      const { id } = await onlyDelivery(test, sent.body.id);
      await deliveryWhen(test, id, (d) => d.attempt_count === 1 && d.status === "pending", "the first attempt");
      assert.equal((await test.delete(`/v1/endpoints/${ep.id}`)).status, 204);
      const cancelled = (await test.get(`/v1/deliveries/${id}`)).body;
      assert.equal(cancelled.status, "cancelled");
      assert.equal(cancelled.next_attempt_at, null);
      assert.equal((await test.get(`/v1/deliveries/${id}/attempts`)).body.data.length, 1);
    } finally {
      await receiver.close();
    }
  });

  it("POST /v1/deliveries/retry walks a TEST delivery's whole schedule in seconds; LIVE keys are refused", async () => {
    const { test, live } = await newAccount(h, "walk");
    const receiver = await startReceiver(answer(500));
    try {
      await test.post("/v1/endpoints", { url: `${receiver.url}/walk`, retry_schedule: ["1h", "1h"] });
      const sent = await test.post("/v1/events", { type: "walk.me", data: {} });
      const delivery = await onlyDelivery(test, sent.body.id);
      await deliveryWhen(test, delivery.id, (d) => d.attempt_count === 1, "the first attempt");
      for (const attempt of [2, 3]) {
        const retried = await test.post("/v1/deliveries/retry", { status: "pending" });
        assert.equal(retried.status, 202);
        assert.deepEqual(retried.body, { retried: 1 });
        await deliveryWhen(test, delivery.id, (d) => d.attempt_count === attempt, `attempt ${attempt}`);
      }
      // Those were the schedule's own attempts: it is used up, so the delivery has failed for good.
      const done = await deliveryWhen(test, delivery.id, (d) => d.status === "failed", "failed after the schedule");
      assert.equal(done.next_attempt_at, null);
      assert.deepEqual((await test.post("/v1/deliveries/retry", { status: "pending" })).body, { retried: 0 });
      assertError(await live.post("/v1/deliveries/retry", { status: "pending" }), 403, "test_key_required");
      assertError(await test.post("/v1/deliveries/retry", {}), 400);
    } finally {
      await receiver.close();
    }
  });
});
