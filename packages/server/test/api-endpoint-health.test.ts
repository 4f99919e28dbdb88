import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertError, deliveriesOf, finalDelivery, newAccount } from "./helpers/api.ts";
import { eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, startReceiver } from "./helpers/receiver.ts";

describe("endpoint health, delivery schedules and the delivery-status filter", () => {
  let h: TestHookline;

  before(async () => {
    h = await startTestHookline();
  });
  after(async () => {
    await h.stop();
  });

  it("GET /v1/endpoints/{id}/stats counts attempts, success and the last outcome", async () => {
    const { test, live } = await newAccount(h, "health");
    const receiver = await startReceiver(answer(200, "ok"));
    try {
      const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/h`, retry_schedule: ["1h", "1h"] })).body;
      const empty = await test.get(`/v1/endpoints/${ep.id}/stats`);
      assert.equal(empty.status, 200, JSON.stringify(empty.body));
      assert.deepEqual(empty.body.windows["24h"], {
        attempts: 0,
        succeeded: 0,
        success_rate: null,
        avg_duration_ms: null,
      });
      assert.equal(empty.body.last_attempt, null);
      assert.equal(empty.body.series["24h"].length, 24);
      assert.equal(empty.body.series["7d"].length, 28);

      const ok = [];
      for (let i = 0; i < 3; i++) ok.push((await test.post("/v1/events", { type: "t.ok", data: { i } })).body.id);
      for (const id of ok) assert.equal((await finalDelivery(test, id, ep.id)).status, "succeeded");
      receiver.respondWith(answer(500, "down"));
      const failing = (await test.post("/v1/events", { type: "t.fail", data: {} })).body.id;
      const pending = await eventually(async () => {
        const [d] = await deliveriesOf(test, failing);
        return d && d.status === "pending" && d.attempt_count === 1 ? d : undefined;
      });
      assert.equal(pending.scheduled_attempts, 1);
      assert.equal(pending.max_scheduled_attempts, 3, "1 + the 2 retries of this endpoint's schedule");

      const stats = await eventually(async () => {
        const s = (await test.get(`/v1/endpoints/${ep.id}/stats`)).body;
        return s.windows["24h"].attempts === 4 ? s : undefined;
      });
      assert.deepEqual(stats.counts, { pending: 1, failed: 0 });
      assert.equal(stats.windows["24h"].succeeded, 3);
      assert.equal(stats.windows["24h"].success_rate, 0.75);
      assert.equal(stats.windows["7d"].attempts, 4);
      assert.equal(typeof stats.windows["24h"].avg_duration_ms, "number");
      // Summed, not read from the last bucket: the attempts may straddle an hour boundary.
      const total = (buckets: { attempts: number; succeeded: number }[]) =>
        buckets.reduce((sum, b) => ({ attempts: sum.attempts + b.attempts, succeeded: sum.succeeded + b.succeeded }), {
          attempts: 0,
          succeeded: 0,
        });
      assert.deepEqual(total(stats.series["24h"]), { attempts: 4, succeeded: 3 });
      assert.deepEqual(total(stats.series["7d"]), { attempts: 4, succeeded: 3 });
      assert.equal(stats.last_attempt.ok, false);
      assert.equal(stats.last_attempt.status_code, 500);

      assertError(await live.get(`/v1/endpoints/${ep.id}/stats`), 404, "not_found");
      const deflt = (await test.post("/v1/endpoints", { url: `${receiver.url}/d`, event_types: ["t.none"] })).body;
      const [withDefault] = await deliveriesOf(test, (await test.post(`/v1/endpoints/${deflt.id}/test`, {})).body.id);
      assert.equal(withDefault?.max_scheduled_attempts, h.config.retrySchedule.length + 1);
    } finally {
      await receiver.close();
    }
  });

  it("GET /v1/events?delivery_status= keeps events with a delivery in that status", async () => {
    const { test } = await newAccount(h, "filter");
    const good = await startReceiver(answer(204));
    const bad = await startReceiver(answer(500));
    try {
      const okEp = (await test.post("/v1/endpoints", { url: `${good.url}/ok`, event_types: ["a.ok"] })).body;
      const badEp = (
        await test.post("/v1/endpoints", { url: `${bad.url}/bad`, event_types: ["a.bad"], retry_schedule: [] })
      ).body;
      const ok = (await test.post("/v1/events", { type: "a.ok", data: {} })).body.id;
      const failed = (await test.post("/v1/events", { type: "a.bad", data: {} })).body.id;
      await finalDelivery(test, ok, okEp.id);
      await finalDelivery(test, failed, badEp.id);
      const ids = async (query: string) =>
        (await test.get(`/v1/events?${query}`)).body.data.map((e: { id: string }) => e.id);
      assert.deepEqual(await ids("delivery_status=failed"), [failed]);
      assert.deepEqual(await ids("delivery_status=succeeded"), [ok]);
      assert.deepEqual(await ids("delivery_status=pending"), []);
      assert.deepEqual(await ids(""), [failed, ok]);
      assertError(await test.get("/v1/events?delivery_status=lost"), 400, "invalid_request");
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it("the delivery-status filter looks at 5,000 events a call and says where to go on", async () => {
    const { test } = await newAccount(h, "filter window");
    const bad = await startReceiver(answer(500));
    try {
      const ep = (
        await test.post("/v1/endpoints", { url: `${bad.url}/x`, event_types: ["old.fail"], retry_schedule: [] })
      ).body;
      const failed = (await test.post("/v1/events", { type: "old.fail", data: {} })).body.id;
      await finalDelivery(test, failed, ep.id);
      for (let i = 0; i < 6; i++) {
        const events = Array.from({ length: 1000 }, (_, n) => ({ type: "new.quiet", data: { n } }));
        assert.equal((await test.post("/v1/events/batch", { events })).status, 202);
      }
      const first = (await test.get("/v1/events?delivery_status=failed")).body;
      assert.deepEqual(first.data, [], "the newest 5,000 events have no failed delivery");
      assert.equal(typeof first.next_cursor, "string");
      const second = (await test.get(`/v1/events?delivery_status=failed&after=${first.next_cursor}`)).body;
      assert.deepEqual(
        second.data.map((e: { id: string }) => e.id),
        [failed],
      );
      assert.equal(second.next_cursor, null);
    } finally {
      await bad.close();
    }
  });
});
