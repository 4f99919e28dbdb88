import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { assertError, type DeliveryJson, deliveriesOf, type EventJson, newAccount } from "./helpers/api.ts";
import { type ApiClient, eventually, type Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { type Receiver, startReceiver } from "./helpers/receiver.ts";

/** Every event of the client's account+environment, newest first, by walking all pages. */
async function allEvents(client: ApiClient, query = ""): Promise<EventJson[]> {
  const events: EventJson[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page: Response = await client.get(`/v1/events?limit=250${query}${cursor ? `&after=${cursor}` : ""}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    events.push(...page.body.data);
    cursor = page.body.next_cursor;
    if (cursor === null) return events;
  }
  throw new Error("too many pages");
}

async function settledDeliveries(client: ApiClient, eventId: string): Promise<DeliveryJson[]> {
  return eventually(
    async () => {
      const data = await deliveriesOf(client, eventId);
      return data.every((d) => d.status === "succeeded") ? data : undefined;
    },
    10_000,
    `deliveries of ${eventId} to succeed`,
  );
}

describe("events API", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32" });
    receiver = await startReceiver();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  const at = (path: string) => receiver.requests.filter((r) => r.url === path);
  const endpoint = async (client: ApiClient, path: string, extra: Record<string, unknown> = {}) => {
    const created = await client.post("/v1/endpoints", { url: `${receiver.url}${path}`, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string; secret: string };
  };

  it("POST /v1/events answers 202 with the stored event, readable by id", async () => {
    const { test, live } = await newAccount(h, "events");
    const before = Date.now();
    const data = { amount: 100, asset: "BTC", nested: { list: [1, "two", null, true], empty: {} }, unicode: "é✓" };
    const sent = await test.post("/v1/events", { type: "transfer.completed", data });
    assert.equal(sent.status, 202);
    assert.match(String(sent.headers.get("content-type")), /^application\/json/);
    assert.deepEqual(Object.keys(sent.body), ["id", "type", "created_at", "environment", "data"]);
    assert.match(sent.body.id, /^evt_[0-9A-Z]{26}$/);
    assert.equal(sent.body.type, "transfer.completed");
    assert.equal(sent.body.environment, "test");
    assert.deepEqual(sent.body.data, data);
    assert.equal(new Date(sent.body.created_at).toISOString(), sent.body.created_at, "created_at is ISO 8601");
    const created = Date.parse(sent.body.created_at);
    assert.ok(created >= before - 1000 && created <= Date.now() + 1000);
    assert.equal(sent.headers.get("idempotent-replayed"), null);

    const read = await test.get(`/v1/events/${sent.body.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, sent.body);

    const liveSent = await live.post("/v1/events", { type: "transfer.completed", data: {} });
    assert.equal(liveSent.status, 202);
    assert.equal(liveSent.body.environment, "live");

    assertError(await test.get("/v1/events/evt_00000000000000000000000000"), 404, "not_found");
    assertError(await test.get("/v1/events/evt_00000000000000000000000000/deliveries"), 404, "not_found");
    assertError(await live.get(`/v1/events/${sent.body.id}`), 404, "not_found");
    assertError(await live.get(`/v1/events/${sent.body.id}/deliveries`), 404, "not_found");
    const stranger = await newAccount(h, "stranger");
    assertError(await stranger.test.get(`/v1/events/${sent.body.id}`), 404, "not_found");
    assertError(await stranger.test.get(`/v1/events/${sent.body.id}/deliveries`), 404, "not_found");
  });

  it("fans out only to matching, enabled endpoints of the same account and environment", async () => {
    const { test, live } = await newAccount(h, "fan-out");
    const other = await newAccount(h, "fan-out other");
    const all = await endpoint(test, "/fan-all");
    const orders = await endpoint(test, "/fan-orders", { event_types: ["order.created", "order.paid"] });
    const disabled = await endpoint(test, "/fan-disabled");
    assert.equal((await test.patch(`/v1/endpoints/${disabled.id}`, { enabled: false })).status, 200);
    const liveEp = await endpoint(live, "/fan-live");
    const otherEp = await endpoint(other.test, "/fan-other");

    const created = await test.post("/v1/events", { type: "order.created", data: { order: 1 } });
    assert.equal(created.status, 202);
    const createdDeliveries = await settledDeliveries(test, created.body.id);
    assert.deepEqual(createdDeliveries.map((d) => d.endpoint_id).sort(), [all.id, orders.id].sort());
    for (const d of createdDeliveries) {
      assert.equal(d.event_id, created.body.id);
      assert.match(d.id, /^dlv_/);
      assert.equal(d.attempt_count, 1);
      assert.equal(d.last_status_code, 204);
      assert.equal(d.last_error, null);
      assert.equal(d.next_attempt_at, null);
    }

    const refunded = await test.post("/v1/events", { type: "order.refunded", data: { order: 1 } });
    const refundedDeliveries = await settledDeliveries(test, refunded.body.id);
    assert.deepEqual(
      refundedDeliveries.map((d) => d.endpoint_id),
      [all.id],
    );

    const liveEvent = await live.post("/v1/events", { type: "order.created", data: { order: 2 } });
    assert.equal(liveEvent.status, 202);
    const liveDeliveries = await settledDeliveries(live, liveEvent.body.id);
    assert.deepEqual(
      liveDeliveries.map((d) => d.endpoint_id),
      [liveEp.id],
    );

    // Every delivery is recorded before the 202, so once these succeeded nothing else can arrive.
    const ids = (path: string) => at(path).map((r) => r.headers["webhook-id"]);
    assert.deepEqual(ids("/fan-all"), [created.body.id, refunded.body.id]);
    assert.deepEqual(ids("/fan-orders"), [created.body.id]);
    assert.deepEqual(ids("/fan-live"), [liveEvent.body.id]);
    assert.deepEqual(ids("/fan-disabled"), []);
    assert.deepEqual(ids("/fan-other"), []);
    const liveRequest = at("/fan-live")[0];
    assert.ok(liveRequest);
    const livePayload = JSON.parse(liveRequest.body);
    assert.equal(livePayload.environment, "live");
    assert.deepEqual(livePayload.data, { order: 2 });
    assert.ok(otherEp.id);
  });

  it("the idempotency-key header: one only, its bytes read as UTF-8", async () => {
    const { test, keys } = await newAccount(h, "idempotency header");
    // Two idempotency-key headers are refused (joined, they would make a key nobody sent), and a
    // header's UTF-8 bytes are read as UTF-8: "café" means the same by header as by field.
    /** A POST written byte by byte: header lines exactly as given (HTTP clients join or re-encode them). */
    const rawPost = (headerLines: Buffer[], body: object) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const { hostname, port } = new URL(h.url);
        const text = Buffer.from(JSON.stringify(body));
        const socket = connect(Number(port), hostname, () => {
          const head = `POST /v1/events HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${keys.test}\r\ncontent-type: application/json\r\ncontent-length: ${text.length}\r\nconnection: close\r\n`;
          // Written, not ended: a client that half-closes first gets no answer (the server hangs up).
          socket.write(
            Buffer.concat([
              Buffer.from(head),
              ...headerLines.flatMap((line) => [line, Buffer.from("\r\n")]),
              Buffer.from("\r\n"),
              text,
            ]),
          );
        });
        let answer = "";
        socket.on("data", (chunk) => {
          answer += chunk;
        });
        socket.on("end", () => {
          const status = Number(/^HTTP\/1\.1 (\d+)/.exec(answer)?.[1]);
          resolve({ status, body: JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) });
        });
        socket.on("error", reject);
      });
    const header = (value: string | Buffer) =>
      Buffer.concat([Buffer.from("idempotency-key: "), typeof value === "string" ? Buffer.from(value) : value]);
    const twice = await rawPost([header("k-3"), header("k-4")], { type: "payout.sent", data: {} });
    assert.equal(twice.status, 400);
    assert.match(twice.body.error.message, /one idempotency-key header/);
    const byHeader = await rawPost([header("café-1")], { type: "payout.sent", data: {} });
    assert.equal(byHeader.status, 202, JSON.stringify(byHeader.body));
    const byField = await test.post("/v1/events", { type: "payout.sent", data: {}, idempotency_key: "café-1" });
    assert.equal(byField.headers.get("idempotent-replayed"), "true");
    assert.equal(byField.body.id, byHeader.body.id);
    const latin1 = await rawPost([header(Buffer.from("café", "latin1"))], { type: "payout.sent", data: {} });
    assert.equal(latin1.status, 400);
    assert.match(latin1.body.error.message, /not UTF-8/);
  });

  it("a batch that would make more than 100,000 deliveries is refused whole, with the count, and stores nothing", async () => {
    const { test } = await newAccount(h, "fan-out limit");
    const batch = (prefix: string) =>
      Array.from({ length: 1000 }, (_, i) => ({
        type: "fan.out",
        data: { i, batch: prefix },
        idempotency_key: `${prefix}-${i}`,
      }));
    // Sent while the account had no endpoints: stored, no deliveries.
    assert.equal((await test.post("/v1/events/batch", { events: batch("early") })).status, 202);
    for (let i = 0; i < 101; i++) {
      assert.equal((await test.post("/v1/endpoints", { url: `${receiver.url}/fan-${i}` })).status, 201);
    }
    const refused = await test.post("/v1/events/batch", { events: batch("late") });
    assertError(refused, 422, "too_many_deliveries");
    assert.match(refused.body.error.message, /would make 101000 deliveries .* at most 100000/);
    const stored = await test.get("/v1/events?type=fan.out&limit=1");
    assert.deepEqual(stored.body.data[0]?.data, { i: 999, batch: "early" }, "the refused batch stored nothing");
    // The earlier batch sent again is answered as it was (replays make no deliveries), not refused.
    const replayed = await test.post("/v1/events/batch", { events: batch("early") });
    assert.equal(replayed.status, 202, JSON.stringify(replayed.body).slice(0, 300));
    // Fewer new events in one request are taken.
    const taken = await test.post("/v1/events/batch", { events: batch("small").slice(0, 2) });
    assert.equal(taken.status, 202, JSON.stringify(taken.body));
  });

  it("an empty `after` is the first page, as no `after`, on every list", async () => {
    const { test } = await newAccount(h, "empty cursor");
    const sent = await test.post("/v1/events", { type: "cursor.empty", data: {} });
    await endpoint(test, "/cursor");
    for (const path of ["/v1/events", "/v1/endpoints", `/v1/events/${sent.body.id}/deliveries`]) {
      const all = await test.get(path);
      const empty = await test.get(`${path}?after=`);
      assert.equal(empty.status, 200, path);
      assert.deepEqual(
        empty.body.data.map((item: { id: string }) => item.id),
        all.body.data.map((item: { id: string }) => item.id),
        path,
      );
    }
    assert.equal((await test.get("/v1/events?after=")).body.data[0]?.id, sent.body.id);
  });

  it("idempotency: a repeated key returns the first event, marked replayed, with no second delivery", async () => {
    const { test, live } = await newAccount(h, "idempotency");
    const ep = await endpoint(test, "/idem");

    const first = await test.post("/v1/events", { type: "payout.sent", data: { n: 1 } }, { "idempotency-key": "k-1" });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get("idempotent-replayed"), null);

    // Same key by header, by field, and by both (agreeing); even a different body returns the first event.
    const repeats = [
      await test.post("/v1/events", { type: "payout.sent", data: { n: 1 } }, { "idempotency-key": "k-1" }),
      await test.post("/v1/events", { type: "payout.sent", data: { n: 1 }, idempotency_key: "k-1" }),
      await test.post(
        "/v1/events",
        { type: "payout.sent", data: { n: 1 }, idempotency_key: "k-1" },
        { "idempotency-key": "k-1" },
      ),
      await test.post("/v1/events", { type: "payout.other", data: { n: 2 } }, { "idempotency-key": "k-1" }),
    ];
    for (const repeat of repeats) {
      assert.equal(repeat.status, 202);
      assert.equal(repeat.headers.get("idempotent-replayed"), "true");
      assert.deepEqual(repeat.body, first.body);
    }

    // Many at once with one new key: still a single event.
    const concurrent = await Promise.all(
      Array.from({ length: 8 }, () =>
        test.post("/v1/events", { type: "payout.sent", data: { n: 3 } }, { "idempotency-key": "k-2" }),
      ),
    );
    assert.equal(new Set(concurrent.map((r) => r.body.id)).size, 1);
    assert.equal(concurrent.filter((r) => r.headers.get("idempotent-replayed") === "true").length, 7);

    assertError(
      await test.post(
        "/v1/events",
        { type: "payout.sent", data: {}, idempotency_key: "k-1" },
        { "idempotency-key": "k-other" },
      ),
      400,
      "invalid_request",
    );
    assertError(
      await test.post("/v1/events", { type: "payout.sent", data: {} }, { "idempotency-key": "x".repeat(257) }),
      400,
    );
    assertError(await test.post("/v1/events", { type: "payout.sent", data: {}, idempotency_key: "" }), 400);

    // The same key in LIVE is a different event.
    const inLive = await live.post("/v1/events", { type: "payout.sent", data: { n: 1 } }, { "idempotency-key": "k-1" });
    assert.equal(inLive.status, 202);
    assert.equal(inLive.headers.get("idempotent-replayed"), null);
    assert.notEqual(inLive.body.id, first.body.id);
    assert.equal(inLive.body.environment, "live");
    // ... and in another account too.
    const stranger = await newAccount(h, "idempotency stranger");
    const inOther = await stranger.test.post(
      "/v1/events",
      { type: "payout.sent", data: {} },
      { "idempotency-key": "k-1" },
    );
    assert.equal(inOther.headers.get("idempotent-replayed"), null);
    assert.notEqual(inOther.body.id, first.body.id);

    const stored = await allEvents(test);
    assert.deepEqual(stored.map((e) => e.id).sort(), [first.body.id, concurrent[0]?.body.id].sort());
    for (const event of [first.body, concurrent[0]?.body]) {
      const deliveries = await settledDeliveries(test, event.id);
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0]?.endpoint_id, ep.id);
    }
    assert.deepEqual(
      at("/idem")
        .map((r) => r.headers["webhook-id"])
        .sort(),
      [first.body.id, concurrent[0]?.body.id].sort(),
      "one request per event, none for the replays",
    );
  });

  it("batch: up to 1000 events in order, all or nothing", async () => {
    const { test } = await newAccount(h, "batch");
    const ep = await endpoint(test, "/batch");

    const small = await test.post("/v1/events/batch", {
      events: [
        { type: "batch.one", data: { i: 1 } },
        { type: "batch.two", data: { i: 2 }, idempotency_key: "b-2" },
        { type: "batch.three", data: { i: 3 } },
      ],
    });
    assert.equal(small.status, 202);
    assert.deepEqual(Object.keys(small.body), ["data"]);
    assert.deepEqual(
      small.body.data.map((e: EventJson) => [e.type, e.data]),
      [
        ["batch.one", { i: 1 }],
        ["batch.two", { i: 2 }],
        ["batch.three", { i: 3 }],
      ],
    );
    for (const event of small.body.data) {
      assert.match(event.id, /^evt_/);
      assert.deepEqual((await test.get(`/v1/events/${event.id}`)).body, event);
    }
    // An idempotency key used in a batch is honoured by a later single POST.
    const replay = await test.post("/v1/events", { type: "batch.two", data: {} }, { "idempotency-key": "b-2" });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.body.id, small.body.data[1].id);
    for (const event of small.body.data) assert.equal((await settledDeliveries(test, event.id))[0]?.endpoint_id, ep.id);
    assert.equal((await test.delete(`/v1/endpoints/${ep.id}`)).status, 204);

    const before = (await allEvents(test)).length;
    assert.equal(before, 3);

    const thousand = Array.from({ length: 1000 }, (_, i) => ({ type: "batch.bulk", data: { i } }));
    const big = await test.post("/v1/events/batch", { events: thousand });
    assert.equal(big.status, 202, JSON.stringify(big.body).slice(0, 300));
    assert.equal(big.body.data.length, 1000);
    assert.deepEqual(
      big.body.data.map((e: EventJson) => e.data.i),
      thousand.map((e) => e.data.i),
      "the answer keeps the order of the request",
    );
    assert.equal(new Set(big.body.data.map((e: EventJson) => e.id)).size, 1000);
    assert.equal((await allEvents(test)).length, 1003);

    const tooMany = await test.post("/v1/events/batch", {
      events: [...thousand, { type: "batch.bulk", data: { i: 1000 } }],
    });
    assertError(tooMany, 400, "invalid_request");

    const invalidOnes: [string, unknown][] = [
      ["a type with spaces", { type: "has spaces", data: {} }],
      ["data not an object", { type: "batch.bulk", data: [1, 2] }],
      ["missing data", { type: "batch.bulk" }],
      ["an unknown field", { type: "batch.bulk", data: {}, extra: 1 }],
    ];
    for (const [what, bad] of invalidOnes) {
      const events = Array.from({ length: 10 }, (_, i) => (i === 5 ? bad : { type: "batch.partial", data: { i } }));
      const response = await test.post("/v1/events/batch", { events });
      assert.equal(response.status, 400, `${what}: ${JSON.stringify(response.body)}`);
      assertError(response, 400);
    }
    assertError(await test.post("/v1/events/batch", { events: [] }), 400);
    assertError(await test.post("/v1/events/batch", { events: {} }), 400);
    assertError(await test.post("/v1/events/batch", {}), 400);
    assertError(await test.post("/v1/events/batch", [{ type: "a.b", data: {} }]), 400);

    const afterAll = await allEvents(test);
    assert.equal(afterAll.length, 1003, "a rejected batch stores nothing");
    assert.ok(!afterAll.some((e) => e.type === "batch.partial"));
  });

  it("GET /v1/events lists newest first, with limit/after pagination and type/since/until filters", async () => {
    const { test } = await newAccount(h, "listing");
    const sent: EventJson[] = [];
    for (let i = 0; i < 6; i++) {
      const type = i % 2 === 0 ? "list.even" : "list.odd";
      const response = await test.post("/v1/events", { type, data: { i } });
      assert.equal(response.status, 202);
      sent.push(response.body);
    }
    const listed = await test.get("/v1/events");
    assert.equal(listed.status, 200);
    assert.equal(listed.body.next_cursor, null);
    const events = listed.body.data as EventJson[];
    assert.deepEqual(new Set(events.map((e) => e.id)), new Set(sent.map((e) => e.id)));
    for (const event of events) {
      assert.deepEqual(
        event,
        sent.find((s) => s.id === event.id),
        "the list shows each event as it was accepted",
      );
    }
    for (let i = 1; i < events.length; i++) {
      const newer = events[i - 1] as EventJson;
      const older = events[i] as EventJson;
      assert.ok(newer.created_at >= older.created_at, "newest first");
      assert.ok(newer.id > older.id, "ids decrease down the list");
    }

    // Pages of two, in the same order, with next_cursor null on the last page.
    const pages: EventJson[][] = [];
    let cursor: string | null = null;
    do {
      const page: Response = await test.get(`/v1/events?limit=2${cursor ? `&after=${cursor}` : ""}`);
      assert.equal(page.status, 200);
      pages.push(page.body.data);
      cursor = page.body.next_cursor;
    } while (cursor !== null && pages.length < 10);
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 2],
    );
    assert.deepEqual(pages.flat(), events);

    const odd = await test.get("/v1/events?type=list.odd");
    assert.deepEqual(
      odd.body.data.map((e: EventJson) => e.id),
      events.filter((e) => e.type === "list.odd").map((e) => e.id),
    );
    const oddPage = await test.get("/v1/events?type=list.odd&limit=2");
    assert.equal(oddPage.body.data.length, 2);
    assert.notEqual(oddPage.body.next_cursor, null);
    const oddRest = await test.get(`/v1/events?type=list.odd&limit=2&after=${oddPage.body.next_cursor}`);
    assert.equal(oddRest.body.data.length, 1);
    assert.equal(oddRest.body.next_cursor, null);
    assert.deepEqual((await test.get("/v1/events?type=list.none")).body.data, []);

    // since is inclusive, until exclusive; events at the boundary are judged by created_at.
    const pivot = sent[3] as EventJson;
    const since = await allEvents(test, `&since=${encodeURIComponent(pivot.created_at)}`);
    assert.ok(since.some((e) => e.id === pivot.id));
    assert.ok(since.every((e) => e.created_at >= pivot.created_at));
    assert.deepEqual(
      since.map((e) => e.id),
      events.filter((e) => e.created_at >= pivot.created_at).map((e) => e.id),
    );
    const until = await allEvents(test, `&until=${encodeURIComponent(pivot.created_at)}`);
    assert.ok(!until.some((e) => e.id === pivot.id));
    assert.deepEqual(
      until.map((e) => e.id),
      events.filter((e) => e.created_at < pivot.created_at).map((e) => e.id),
    );
    const first = sent[0] as EventJson;
    const last = sent[5] as EventJson;
    const window = await allEvents(
      test,
      `&type=list.even&since=${encodeURIComponent(first.created_at)}&until=${encodeURIComponent(
        new Date(Date.parse(last.created_at) + 1).toISOString(),
      )}`,
    );
    assert.deepEqual(
      window.map((e) => e.id),
      events.filter((e) => e.type === "list.even").map((e) => e.id),
    );
    const future = new Date(Date.now() + 3_600_000).toISOString();
    assert.deepEqual((await test.get(`/v1/events?since=${encodeURIComponent(future)}`)).body.data, []);

    assertError(await test.get("/v1/events?since=yesterday"), 400, "invalid_request");
    assertError(await test.get("/v1/events?until=2026-13-45"), 400, "invalid_request");
    assertError(await test.get("/v1/events?type=has%20space"), 400, "invalid_request");
    assertError(await test.get("/v1/events?limit=-1"), 400, "invalid_request");
    assertError(await test.get("/v1/events?colour=red"), 400, "invalid_request");
  });

  it("lists a batch's events newest first too: the reverse of the order they were sent in", async () => {
    const { test } = await newAccount(h, "batch order");
    const events = Array.from({ length: 20 }, (_, i) => ({ type: "order.step", data: { i } }));
    const sent = await test.post("/v1/events/batch", { events });
    assert.equal(sent.status, 202);
    const listed = (await test.get("/v1/events?type=order.step")).body.data as EventJson[];
    assert.deepEqual(
      listed.map((e) => e.data.i),
      events.map((e) => e.data.i).reverse(),
      "events accepted in the same millisecond keep their acceptance order (ids are time-sortable)",
    );
    assert.deepEqual(
      listed.map((e) => e.id),
      sent.body.data.map((e: EventJson) => e.id).reverse(),
    );
  });

  it("GET /v1/events/{id}/deliveries shows each delivery with its status; deliveries verify", async () => {
    const { test } = await newAccount(h, "event deliveries");
    const a = await endpoint(test, "/ed-a");
    const b = await endpoint(test, "/ed-b");
    const sent = await test.post("/v1/events", { type: "thing.happened", data: { ok: true } });
    const deliveries = await settledDeliveries(test, sent.body.id);
    assert.equal(deliveries.length, 2);
    assert.deepEqual(deliveries.map((d) => d.endpoint_id).sort(), [a.id, b.id].sort());
    const list = await test.get(`/v1/events/${sent.body.id}/deliveries`);
    assert.equal(list.body.next_cursor, null);
    // A page at a time, like every list.
    const first = await test.get(`/v1/events/${sent.body.id}/deliveries?limit=1`);
    assert.equal(first.body.data.length, 1);
    assert.equal(first.body.next_cursor, first.body.data[0].id);
    const second = await test.get(`/v1/events/${sent.body.id}/deliveries?limit=1&after=${first.body.next_cursor}`);
    assert.equal(second.body.data.length, 1);
    assert.equal(second.body.next_cursor, null);
    assert.deepEqual(
      [first.body.data[0].id, second.body.data[0].id],
      list.body.data.map((d: { id: string }) => d.id),
    );
    for (const d of list.body.data) {
      assert.deepEqual(Object.keys(d).sort(), [
        "attempt_count",
        "created_at",
        "endpoint_id",
        "event_id",
        "id",
        "last_error",
        "last_status_code",
        "max_scheduled_attempts",
        "next_attempt_at",
        "scheduled_attempts",
        "status",
        "updated_at",
      ]);
      const single = await test.get(`/v1/deliveries/${d.id}`);
      assert.equal(single.status, 200);
      assert.deepEqual(single.body, d);
    }
    for (const [path, ep] of [
      ["/ed-a", a],
      ["/ed-b", b],
    ] as const) {
      const [request] = at(path);
      assert.ok(request);
      const payload = new Webhook(ep.secret).verify(request.body, {
        "webhook-id": String(request.headers["webhook-id"]),
        "webhook-timestamp": String(request.headers["webhook-timestamp"]),
        "webhook-signature": String(request.headers["webhook-signature"]),
      });
      assert.deepEqual(payload, sent.body);
      assert.equal(request.body, JSON.stringify(sent.body), "receivers get the exact accepted bytes");
    }
  });
});
