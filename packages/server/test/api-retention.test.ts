import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { attemptsOf, deliveriesOf, newAccount } from "./helpers/api.ts";
import { eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

// Events older than `retention` go, with their deliveries and attempts, once nothing of
// theirs is pending; purging runs in small batches while delivery goes on.

describe("retention", () => {
  let h: TestHookline;
  let good: Receiver;
  let failing: Receiver;

  before(async () => {
    good = await startReceiver(answer(204));
    failing = await startReceiver(answer(500, "try later"));
    h = await startTestHookline({
      HOOKLINE_RETENTION: "2s",
      HOOKLINE_RETRY_SCHEDULE: "1h",
      HOOKLINE_KEEP_RESPONSE_SNIPPETS: "2",
    });
  });
  after(async () => {
    await h?.stop();
    await good?.close();
    await failing?.close();
  });

  it("purges delivered events after the retention period, keeps pending ones, and delivery goes on meanwhile", async () => {
    const acme = await newAccount(h, "Retention");
    await acme.test.post("/v1/endpoints", { url: good.url, event_types: ["transfer.completed"] });
    await acme.test.post("/v1/endpoints", { url: failing.url, event_types: ["transfer.failed"] });
    const delivered: string[] = [];
    for (let i = 0; i < 20; i++) {
      delivered.push((await acme.test.post("/v1/events", { type: "transfer.completed", data: { i } })).body.id);
    }
    const pending = (await acme.test.post("/v1/events", { type: "transfer.failed", data: {} })).body.id;
    await good.waitFor(20);
    await eventually(async () =>
      (await deliveriesOf(acme.test, pending))[0]?.status === "pending" ? true : undefined,
    );

    // Events keep flowing while the old ones are purged: every one of them arrives.
    const flowing: string[] = [];
    const started = Date.now();
    while (Date.now() - started < 5_000) {
      flowing.push(
        (await acme.test.post("/v1/events", { type: "transfer.completed", data: { flowing: true } })).body.id,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await eventually(
      async () => ((await acme.test.get(`/v1/events/${delivered[0]}`)).status === 404 ? true : undefined),
      15_000,
      "the first events to be purged",
    );
    for (const id of delivered) assert.equal((await acme.test.get(`/v1/events/${id}`)).status, 404, id);
    assert.equal((await acme.test.get(`/v1/events/${pending}`)).status, 200, "an event with a pending delivery stays");
    await eventually(
      () => (good.requests.length >= 20 + flowing.length ? true : undefined),
      15_000,
      "every event sent during the purge to be delivered",
    );
    const received = new Set(good.requests.map((request) => request.headers["webhook-id"]));
    for (const id of flowing) assert.ok(received.has(id), `${id} was delivered`);
  });

  it("keeps the response snippets of a delivery's latest attempts only", async () => {
    const acme = await newAccount(h, "Snippets");
    await acme.test.post("/v1/endpoints", { url: failing.url, retry_schedule: ["50ms*5"] });
    const sent = (await acme.test.post("/v1/events", { type: "transfer.failed", data: {} })).body.id;
    const [delivery] = await eventually(async () => {
      const deliveries = await deliveriesOf(acme.test, sent);
      return deliveries[0]?.status === "failed" ? deliveries : undefined;
    });
    const attempts = await attemptsOf(acme.test, delivery?.id as string);
    assert.equal(attempts.length, 6);
    const newestFirst = [...attempts].sort((a, b) => (a.id < b.id ? 1 : -1));
    assert.deepEqual(
      newestFirst.map((attempt) => attempt.response_snippet),
      ["try later", "try later", null, null, null, null],
    );
    assert.ok(
      attempts.every((attempt) => attempt.status_code === 500),
      "every attempt keeps its status",
    );
  });
});
