import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

describe("delivery end to end", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_RETRY_SCHEDULE: "100ms,100ms" });
    receiver = await startReceiver();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("POSTs the event in the wire format, signed so that standardwebhooks verifies it", async () => {
    const created = await h.test.post("/v1/endpoints", { url: `${receiver.url}/hooks` });
    assert.equal(created.status, 201);
    assert.match(created.body.secret, /^whsec_/);

    const sent = await h.test.post("/v1/events", { type: "transfer.completed", data: { amount: 100, asset: "BTC" } });
    assert.equal(sent.status, 202);
    const [request] = await receiver.waitFor(1);
    assert.ok(request);
    assert.equal(request.method, "POST");
    assert.equal(request.url, "/hooks");
    assert.equal(request.headers["content-type"], "application/json");
    assert.match(String(request.headers["user-agent"]), /^Hookline\//);
    assert.equal(request.headers["webhook-id"], sent.body.id);

    const verified = new Webhook(created.body.secret).verify(request.body, {
      "webhook-id": String(request.headers["webhook-id"]),
      "webhook-timestamp": String(request.headers["webhook-timestamp"]),
      "webhook-signature": String(request.headers["webhook-signature"]),
    });
    assert.deepEqual(verified, {
      id: sent.body.id,
      type: "transfer.completed",
      created_at: sent.body.created_at,
      environment: "test",
      data: { amount: 100, asset: "BTC" },
    });
    assert.deepEqual(Object.keys(JSON.parse(request.body)), ["id", "type", "created_at", "environment", "data"]);

    const deliveries = await eventually(async () => {
      const list = await h.test.get(`/v1/events/${sent.body.id}/deliveries`);
      return list.body.data[0]?.status === "succeeded" ? list.body.data : undefined;
    });
    assert.equal(deliveries[0].attempt_count, 1);
    await h.test.delete(`/v1/endpoints/${created.body.id}`);
  });

  it("retries a failing receiver on the schedule and logs every attempt", async () => {
    const flaky = await startReceiver(answer(500, "busy"));
    try {
      const endpoint = await h.test.post("/v1/endpoints", {
        url: flaky.url,
        retry_schedule: ["100ms", "200ms", "100ms"],
      });
      const sent = await h.test.post("/v1/events", { type: "transfer.failed", data: {} });
      await flaky.waitFor(2);
      flaky.respondWith(answer(200, "ok"));
      const requests = await flaky.waitFor(3);
      assert.equal(new Set(requests.map((r) => r.headers["webhook-id"])).size, 1, "same webhook-id on every retry");
      assert.equal(new Set(requests.map((r) => r.body)).size, 1, "same body on every retry");

      const delivery = await eventually(async () => {
        const list = await h.test.get(`/v1/events/${sent.body.id}/deliveries`);
        return list.body.data[0]?.status === "succeeded" ? list.body.data[0] : undefined;
      });
      assert.equal(delivery.attempt_count, 3);
      const attempts = await h.test.get(`/v1/deliveries/${delivery.id}/attempts`);
      assert.deepEqual(
        attempts.body.data.map((a: { status_code: number }) => a.status_code),
        [500, 500, 200],
      );
      assert.equal(attempts.body.data[0].response_snippet, "busy");
      await h.test.delete(`/v1/endpoints/${endpoint.body.id}`);
    } finally {
      await flaky.close();
    }
  });

  it("marks a delivery failed when the schedule is used up, and a manual retry then attempts once", async () => {
    const down = await startReceiver(answer(503));
    try {
      const endpoint = await h.test.post("/v1/endpoints", { url: down.url, retry_schedule: ["50ms"] });
      const sent = await h.test.post("/v1/events", { type: "transfer.failed", data: {} });
      const failed = await eventually(async () => {
        const list = await h.test.get(`/v1/events/${sent.body.id}/deliveries`);
        return list.body.data[0]?.status === "failed" ? list.body.data[0] : undefined;
      });
      assert.equal(failed.attempt_count, 2);
      assert.equal(failed.next_attempt_at, null);
      assert.equal(failed.last_status_code, 503);

      down.respondWith(answer(204));
      const retried = await h.test.post(`/v1/deliveries/${failed.id}/retry`);
      assert.equal(retried.status, 202);
      const done = await eventually(async () => {
        const d = await h.test.get(`/v1/deliveries/${failed.id}`);
        return d.body.status === "succeeded" ? d.body : undefined;
      });
      assert.equal(done.attempt_count, 3);
      const attempts = await h.test.get(`/v1/deliveries/${failed.id}/attempts`);
      assert.equal(attempts.body.data.at(-1).trigger, "manual");

      // Deleting the endpoint leaves a finished delivery as it was, and nothing can retry it.
      await h.test.delete(`/v1/endpoints/${endpoint.body.id}`);
      const orphan = await h.test.post(`/v1/deliveries/${failed.id}/retry`);
      assert.equal(orphan.status, 409);
      assert.equal(orphan.body.error.code, "endpoint_deleted");
      assert.equal((await h.test.get(`/v1/deliveries/${failed.id}`)).body.status, "succeeded");
    } finally {
      await down.close();
    }
  });
  it("refuses a manual retry once the delivery's endpoint is deleted, and leaves the delivery cancelled", async () => {
    const down = await startReceiver(answer(503));
    try {
      const endpoint = await h.test.post("/v1/endpoints", { url: down.url, retry_schedule: ["1h"] });
      const sent = await h.test.post("/v1/events", { type: "transfer.failed", data: {} });
      const waiting = await eventually(async () => {
        const list = await h.test.get(`/v1/events/${sent.body.id}/deliveries`);
        return list.body.data[0]?.attempt_count === 1 ? list.body.data[0] : undefined;
      });
      assert.equal((await h.test.delete(`/v1/endpoints/${endpoint.body.id}`)).status, 204);

      const retried = await h.test.post(`/v1/deliveries/${waiting.id}/retry`);
      assert.equal(retried.status, 409);
      assert.equal(retried.body.error.code, "endpoint_deleted");
      const after = await h.test.get(`/v1/deliveries/${waiting.id}`);
      assert.equal(after.body.status, "cancelled");
      assert.equal(after.body.next_attempt_at, null);
    } finally {
      await down.close();
    }
  });
  it("records the attempts that were in flight when their endpoint was deleted", async () => {
    const held: { type: string; res: ServerResponse }[] = [];
    const holding = await startReceiver((request, res) => {
      held.push({ type: JSON.parse(request.body).type, res });
    });
    try {
      const endpoint = await h.test.post("/v1/endpoints", { url: holding.url, event_types: ["held.ok", "held.down"] });
      const ok = await h.test.post("/v1/events", { type: "held.ok", data: {} });
      const down = await h.test.post("/v1/events", { type: "held.down", data: {} });
      await holding.waitFor(2);
      assert.equal((await h.test.delete(`/v1/endpoints/${endpoint.body.id}`)).status, 204);
      const [whileInFlight] = (await h.test.get(`/v1/events/${ok.body.id}/deliveries`)).body.data;
      assert.equal(whileInFlight.status, "cancelled");

      for (const { type, res } of held) {
        res.statusCode = type === "held.ok" ? 204 : 503;
        res.end();
      }
      const settled = async (eventId: string) =>
        eventually(async () => {
          const [delivery] = (await h.test.get(`/v1/events/${eventId}/deliveries`)).body.data;
          return delivery?.attempt_count === 1 ? delivery : undefined;
        });
      // The receiver acknowledged it: delivered, though the endpoint is gone.
      const acknowledged = await settled(ok.body.id);
      assert.equal(acknowledged.status, "succeeded");
      assert.equal(acknowledged.last_status_code, 204);
      // Refused: no attempt follows, and the delivery stays cancelled with why.
      const refused = await settled(down.body.id);
      assert.equal(refused.status, "cancelled");
      assert.equal(refused.last_status_code, 503);
      assert.equal(refused.last_error, "endpoint_deleted");
      assert.equal(refused.next_attempt_at, null);
      const attempts = await h.test.get(`/v1/deliveries/${refused.id}/attempts`);
      assert.deepEqual(
        attempts.body.data.map((attempt: { status_code: number }) => attempt.status_code),
        [503],
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(holding.requests.length, 2, "no attempt after the endpoint was deleted");
    } finally {
      await holding.close();
    }
  });
  it("an attempt that answers after its delivery was disabled, re-enabled and retried leaves the retry as it is", async () => {
    const held: ServerResponse[] = [];
    const holding = await startReceiver((_request, res) => {
      held.push(res);
    });
    // One request at a time: the retry waits for the attempt in flight to finish.
    const endpoint = await h.test.post("/v1/endpoints", {
      url: holding.url,
      event_types: ["held.retried"],
      max_in_flight: 1,
      retry_schedule: ["1h"],
    });
    const path = `/v1/endpoints/${endpoint.body.id}`;
    try {
      const sent = await h.test.post("/v1/events", { type: "held.retried", data: {} });
      await holding.waitFor(1);
      assert.equal((await h.test.patch(path, { enabled: false })).status, 200);
      assert.equal((await h.test.patch(path, { enabled: true })).status, 200);
      const [failed] = (await h.test.get(`/v1/events/${sent.body.id}/deliveries`)).body.data;
      assert.equal(failed.status, "failed");
      assert.ok([200, 202].includes((await h.test.post(`/v1/deliveries/${failed.id}/retry`, {})).status));

      // The first attempt fails only now: its retry, an hour later by the schedule, must not replace the manual one.
      (held[0] as ServerResponse).statusCode = 503;
      (held[0] as ServerResponse).end();
      await holding.waitFor(2);
      (held[1] as ServerResponse).statusCode = 204;
      (held[1] as ServerResponse).end();
      const delivered = await eventually(async () => {
        const delivery = (await h.test.get(`/v1/deliveries/${failed.id}`)).body;
        return delivery.status === "succeeded" ? delivery : undefined;
      });
      assert.equal(delivered.attempt_count, 2);
      const attempts = await h.test.get(`/v1/deliveries/${failed.id}/attempts`);
      assert.deepEqual(
        attempts.body.data.map((attempt: { status_code: number; trigger: string }) => [
          attempt.status_code,
          attempt.trigger,
        ]),
        [
          [503, "scheduled"],
          [204, "manual"],
        ],
      );
    } finally {
      await h.test.delete(path);
      await holding.close();
    }
  });

  it("spaces requests to an endpoint with rate_limit_per_s", async () => {
    const paced = await startReceiver();
    try {
      const endpoint = await h.test.post("/v1/endpoints", {
        url: paced.url,
        rate_limit_per_s: 10,
        event_types: ["paced"],
      });
      const batch = await h.test.post("/v1/events/batch", {
        events: Array.from({ length: 6 }, (_, i) => ({ type: "paced", data: { i } })),
      });
      assert.equal(batch.status, 202);
      const requests = await paced.waitFor(6);
      const span = (requests.at(-1)?.receivedAt ?? 0) - (requests[0]?.receivedAt ?? 0);
      // Six requests at ten a second are five gaps of 100 ms apart.
      assert.ok(span >= 450, `6 requests at 10/s arrived within ${span} ms`);
      await h.test.delete(`/v1/endpoints/${endpoint.body.id}`);
    } finally {
      await paced.close();
    }
  });
});

describe("claims waiting for a slot", () => {
  it("never run an attempt that could outlive its lease, so no delivery is sent twice at once", async () => {
    // Timeout 1 s, lease 1.5 s, two slots. Hung and fast events alternate, so slots free
    // up while claims that waited behind hung attempts have too little lease left: those
    // must be left to expire and be claimed afresh, never run beside their new claim.
    const h = await startTestHookline({ HOOKLINE_ATTEMPT_TIMEOUT: "1s", HOOKLINE_LEASE: "1500ms" });
    const open = new Map<string, number>();
    let overlaps = 0;
    const receiver = await startReceiver((request, res) => {
      const id = String(request.headers["webhook-id"]);
      open.set(id, (open.get(id) ?? 0) + 1);
      if ((open.get(id) ?? 0) > 1) overlaps++;
      res.on("close", () => open.set(id, (open.get(id) ?? 1) - 1));
      if (!JSON.parse(request.body).data.hang) {
        res.statusCode = 204;
        res.end();
      }
    });
    try {
      await h.test.post("/v1/endpoints", { url: receiver.url, max_in_flight: 2, retry_schedule: ["100ms", "100ms"] });
      const events = Array.from({ length: 8 }, (_, i) => ({ type: "slow", data: { hang: i % 2 === 0 } }));
      await h.test.post("/v1/events/batch", { events });
      // 4 hung events × 3 attempts each, plus the 4 fast ones.
      await receiver.waitFor(16, 20_000);
      assert.equal(overlaps, 0, "a delivery was attempted twice at the same time");
    } finally {
      await h.stop();
      await receiver.close();
    }
  });
  it("go to the endpoint as it is now: a new URL or a disable reaches claims that have not started", async () => {
    const h = await startTestHookline();
    const held: (() => void)[] = [];
    const oldUrl = await startReceiver((_request, res) => {
      held.push(() => res.writeHead(204).end());
    });
    const newUrl = await startReceiver();
    try {
      const endpoint = await h.test.post("/v1/endpoints", { url: oldUrl.url, max_in_flight: 1 });
      const first = await h.test.post("/v1/events", { type: "moved", data: { n: 1 } });
      const second = await h.test.post("/v1/events", { type: "moved", data: { n: 2 } });
      // The first attempt holds the only slot; the second claim waits behind it.
      await oldUrl.waitFor(1);
      assert.equal((await h.test.patch(`/v1/endpoints/${endpoint.body.id}`, { url: newUrl.url })).status, 200);
      held.shift()?.();
      const [moved] = await newUrl.waitFor(1);
      assert.equal(moved?.headers["webhook-id"], second.body.id);
      assert.equal(oldUrl.requests.length, 1, "the waiting claim went to the old URL");
      assert.equal(oldUrl.requests[0]?.headers["webhook-id"], first.body.id);

      // Disabled while a claim waits: nothing more goes out, and the waiting one is failed.
      newUrl.respondWith((_request, res) => held.push(() => res.writeHead(204).end()));
      const third = await h.test.post("/v1/events", { type: "moved", data: { n: 3 } });
      const fourth = await h.test.post("/v1/events", { type: "moved", data: { n: 4 } });
      await newUrl.waitFor(2);
      await h.test.patch(`/v1/endpoints/${endpoint.body.id}`, { enabled: false });
      held.shift()?.();
      const waiting = await eventually(async () => {
        const list = await h.test.get(`/v1/events/${fourth.body.id}/deliveries`);
        return list.body.data[0]?.status === "failed" ? list.body.data[0] : undefined;
      });
      assert.equal(waiting.last_error, "endpoint_disabled");
      assert.equal(waiting.attempt_count, 0);
      const running = await eventually(async () => {
        const list = await h.test.get(`/v1/events/${third.body.id}/deliveries`);
        return list.body.data[0]?.status === "succeeded" ? list.body.data[0] : undefined;
      });
      assert.equal(running.attempt_count, 1, "the attempt that was running keeps its real outcome");
      assert.equal(newUrl.requests.length, 2);
    } finally {
      for (const release of held) release();
      await h.stop();
      await oldUrl.close();
      await newUrl.close();
    }
  });
});
