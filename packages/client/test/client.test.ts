import assert from "node:assert/strict";
import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { TSchema } from "typebox";
import { Value } from "typebox/value";
import { startTestHookline, type TestHookline } from "../../server/test/helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "../../server/test/helpers/receiver.ts";
import { Hookline, HooklineApiError } from "../src/index.ts";
import { AttemptResponse, DeliveryResponse, EndpointResponse, EventResponse, PageOf } from "../src/schemas.ts";

/** Asserts an API answer has exactly the shape the shared schema promises. */
function conforms(schema: TSchema, value: unknown) {
  const errors = [...Value.Errors(schema, value)].map((e) => `${e.instancePath} ${e.message}`);
  assert.deepEqual(errors, [], JSON.stringify(value));
}

/**
 * A proxy in front of Hookline that loses answers: it forwards a request, lets Hookline
 * act on it, and then answers the client 503 (or drops the connection) instead.
 */
async function lossyProxy(target: string, lose: (n: number) => "503" | "drop" | "pass") {
  let n = 0;
  const server: Server = createServer((req, res) => {
    const fate = lose(n++);
    const upstream = httpRequest(
      new URL(req.url ?? "/", target),
      { method: req.method, headers: req.headers },
      (up) => {
        if (fate === "503") {
          up.resume();
          res.writeHead(503, { "content-type": "application/json" });
          res.end('{"error":{"code":"unavailable","message":"lost"}}');
        } else if (fate === "drop") {
          up.resume();
          res.socket?.destroy();
        } else {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        }
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

describe("@hookline/client against a real server", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_RETRY_SCHEDULE: "1h" });
    receiver = await startReceiver(answer(500, "not yet"));
  });
  after(async () => {
    await receiver.close();
    await h.stop();
  });

  it("covers endpoints, events and deliveries, and every answer matches the shared schemas", async () => {
    const client = new Hookline({ apiKey: h.keys.test, baseUrl: h.url });
    const endpoint = await client.endpoints.create({ url: `${receiver.url}/hook`, event_types: ["order.paid"] });
    conforms(EndpointResponse, endpoint);
    conforms(PageOf(EndpointResponse), await client.endpoints.list());
    conforms(EndpointResponse, await client.endpoints.update(endpoint.id, { description: "orders" }));

    const event = await client.events.create({ type: "order.paid", data: { amount: 5 } });
    conforms(EventResponse, event);
    conforms(EventResponse, await client.events.get(event.id));
    conforms(PageOf(EventResponse), await client.events.list({ type: "order.paid", limit: 5 }));
    const batch = await client.events.createBatch([
      { type: "order.paid", data: { n: 1 } },
      { type: "order.paid", data: { n: 2 } },
    ]);
    assert.equal(batch.data.length, 2);
    for (const e of batch.data) conforms(EventResponse, e);

    await receiver.waitFor(1);
    let deliveries = await client.events.deliveries(event.id);
    for (let tries = 0; deliveries.data[0]?.attempt_count !== 1 && tries < 200; tries++) {
      await new Promise((r) => setTimeout(r, 25));
      deliveries = await client.events.deliveries(event.id);
    }
    conforms(PageOf(DeliveryResponse), deliveries);
    const delivery = deliveries.data[0];
    assert.ok(delivery);
    conforms(PageOf(AttemptResponse), await client.deliveries.attempts(delivery.id));
    receiver.respondWith(answer(200));
    conforms(DeliveryResponse, await client.deliveries.retry(delivery.id));
    conforms(EndpointResponse, await client.endpoints.rotateSecret(endpoint.id));
    conforms(EventResponse, await client.endpoints.sendTest(endpoint.id));
    assert.deepEqual(await client.endpoints.recover(endpoint.id, { since: "2026-01-01T00:00:00Z" }), { recovered: 0 });
    assert.equal(await client.endpoints.delete(endpoint.id), null);
  });

  it("a publish whose answer is lost is retried with the same idempotency key: one event, not two", async () => {
    const proxy = await lossyProxy(h.url, (n) => (n === 0 ? "503" : n === 1 ? "drop" : "pass"));
    try {
      const client = new Hookline({ apiKey: h.keys.test, baseUrl: proxy.url });
      const type = `lost.answer.${Date.now()}`;
      const event = await client.events.create({ type, data: { once: true } });
      // Hookline stored it on the first try, before the proxy lost the answer (twice).
      const stored = await new Hookline({ apiKey: h.keys.test, baseUrl: h.url }).events.list({ type });
      assert.deepEqual(
        stored.data.map((e) => e.id),
        [event.id],
      );
    } finally {
      proxy.close();
    }
  });

  it("does not retry a change that is not idempotent, and reports API errors with their code", async () => {
    let calls = 0;
    const proxy = await lossyProxy(h.url, () => {
      calls++;
      return "503";
    });
    try {
      const client = new Hookline({ apiKey: h.keys.test, baseUrl: proxy.url });
      await assert.rejects(client.endpoints.create({ url: `${receiver.url}/x` }), (error: unknown) => {
        assert.ok(error instanceof HooklineApiError);
        assert.equal(error.status, 503);
        return true;
      });
      assert.equal(calls, 1, "an endpoint create is sent once");
    } finally {
      proxy.close();
    }
    const direct = new Hookline({ apiKey: h.keys.test, baseUrl: h.url });
    // A delete whose answer is lost is retried; finding it gone then is success.
    const doomed = await direct.endpoints.create({ url: `${receiver.url}/doomed` });
    const lossy = await lossyProxy(h.url, (n) => (n === 0 ? "503" : "pass"));
    try {
      assert.equal(await new Hookline({ apiKey: h.keys.test, baseUrl: lossy.url }).endpoints.delete(doomed.id), null);
    } finally {
      lossy.close();
    }
    await assert.rejects(direct.deliveries.get("dlv_nothing"), {
      name: "HooklineApiError",
      status: 404,
      code: "not_found",
    });
    await assert.rejects(
      direct.endpoints.create({ url: "ftp://example.com" }),
      (error: unknown) => error instanceof HooklineApiError && error.status === 422,
    );
  });
});
