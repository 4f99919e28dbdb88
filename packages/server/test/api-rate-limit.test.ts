import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { assertError, newAccount } from "./helpers/api.ts";
import type { ApiClient, Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { type Receiver, startReceiver } from "./helpers/receiver.ts";

const RATE = 50;
const BURST = 50;

/** How many events of the client's account+environment are stored. */
async function storedCount(client: ApiClient): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page: Response = await client.get(`/v1/events?limit=250${cursor ? `&after=${cursor}` : ""}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    count += page.body.data.length;
    cursor = page.body.next_cursor;
    if (cursor === null) return count;
  }
  throw new Error("too many pages");
}

/** A 429 in the house error format, with a whole number of seconds to wait. */
function assertRateLimited(response: Response): number {
  assertError(response, 429, "rate_limited");
  const retryAfter = response.headers.get("retry-after");
  assert.match(String(retryAfter), /^[1-9][0-9]*$/, `retry-after: ${retryAfter}`);
  assert.match(response.body.error.message, /retry after \d+ s/);
  return Number(retryAfter);
}

const events = (n: number, type = "load.test") => ({
  events: Array.from({ length: n }, (_, i) => ({ type, data: { i } })),
});

describe("per-account ingest rate limit", () => {
  let h: TestHookline;

  before(async () => {
    h = await startTestHookline({
      HOOKLINE_INGEST_RATE_PER_ACCOUNT: String(RATE),
      HOOKLINE_INGEST_BURST_PER_ACCOUNT: String(BURST),
    });
  });
  after(() => h.stop());

  it("refuses a flooding account with 429 and retry-after, stores none of the refused, and never holds up another account", async () => {
    const a = await newAccount(h, "noisy");
    const b = await newAccount(h, "quiet");

    let firstRefusal: () => void = () => {};
    const refused = new Promise<void>((resolve) => {
      firstRefusal = resolve;
    });
    let quietDone = false;
    const aResponses: Response[] = [];
    const start = Date.now();
    // A floods from 16 connections: at least 200 events, and on until B has sent all of its own.
    const flood = async () => {
      while (aResponses.length < 200 || !quietDone) {
        const response = await a.test.post("/v1/events", { type: "load.test", data: { n: aResponses.length } });
        aResponses.push(response);
        if (response.status === 429) firstRefusal();
      }
    };
    // B starts once A is being refused, one event after another.
    const quiet = async () => {
      await refused;
      const responses: Response[] = [];
      for (let i = 0; i < 20; i++) responses.push(await b.test.post("/v1/events", { type: "quiet", data: { i } }));
      const aLive = await a.live.post("/v1/events", { type: "live.traffic", data: {} });
      quietDone = true;
      return { responses, aLive };
    };
    const [{ responses: bResponses, aLive }] = await Promise.all([quiet(), ...Array.from({ length: 16 }, flood)]);
    const elapsedS = (Date.now() - start) / 1000;

    for (const response of bResponses) assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(aLive.status, 202, "A's LIVE key has a bucket of its own");

    const accepted = aResponses.filter((r) => r.status === 202);
    const refusals = aResponses.filter((r) => r.status !== 202);
    // The bucket starts full, then refills at RATE a second while the flood lasts.
    assert.ok(accepted.length >= BURST, `accepted ${accepted.length}`);
    assert.ok(
      accepted.length <= BURST + Math.ceil(RATE * elapsedS) + 1,
      `accepted ${accepted.length} of ${aResponses.length} in ${elapsedS} s`,
    );
    assert.ok(refusals.length > 0);
    let retryAfter = 0;
    for (const response of refusals) retryAfter = assertRateLimited(response);
    assert.equal(await storedCount(a.test), accepted.length, "only the accepted events are stored");
    assert.equal(await storedCount(b.test), 20);
    assert.equal(await storedCount(a.live), 1);

    // Waiting as long as retry-after said is enough.
    await sleep(retryAfter * 1000 + 50);
    const again = await a.test.post("/v1/events", { type: "load.test", data: { after: "wait" } });
    assert.equal(again.status, 202, JSON.stringify(again.body));
  });

  it("refuses a whole batch when the tokens left are too few, and a batch larger than the bucket for good", async () => {
    const a = await newAccount(h, "batches");

    const tooLarge = await a.test.post("/v1/events/batch", events(BURST + 1));
    assertError(tooLarge, 413, "batch_too_large");
    assert.match(tooLarge.body.error.message, new RegExp(`at most ${BURST}`));
    assert.equal(tooLarge.headers.get("retry-after"), null, "waiting would not help");

    const start = Date.now();
    const full = await a.test.post("/v1/events/batch", events(BURST));
    assert.equal(full.status, 202, "a batch the size of the bucket passes (the refusal above cost nothing)");
    const second = await a.test.post("/v1/events/batch", events(BURST));
    // Only a full second of refill (a stalled machine) could let the second batch through.
    if (Date.now() - start < 900) {
      const retryAfter = assertRateLimited(second);
      assert.match(second.body.error.message, new RegExp(`these ${BURST} events`));
      assert.equal(await storedCount(a.test), BURST, "no part of the refused batch is stored");
      await sleep(retryAfter * 1000 + 50);
      const third = await a.test.post("/v1/events/batch", events(BURST));
      assert.equal(third.status, 202, JSON.stringify(third.body));
      assert.equal(await storedCount(a.test), 2 * BURST);
    }
  });

  it("a malformed request costs no tokens", async () => {
    const a = await newAccount(h, "malformed");
    const bad = await a.test.post("/v1/events/batch", { events: [{ type: "x" }] });
    assertError(bad, 400, "invalid_request");
    const full = await a.test.post("/v1/events/batch", events(BURST));
    assert.equal(full.status, 202, JSON.stringify(full.body));
  });
});

describe("ingest rate limit on POST /v1/endpoints/{id}/test", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_INGEST_RATE_PER_ACCOUNT: "1", HOOKLINE_INGEST_BURST_PER_ACCOUNT: "1" });
    receiver = await startReceiver();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("a test event takes a token like any other event", async () => {
    const a = await newAccount(h, "tester");
    const endpoint = await a.test.post("/v1/endpoints", { url: `${receiver.url}/hook` });
    assert.equal(endpoint.status, 201, JSON.stringify(endpoint.body));
    const start = Date.now();
    const first = await a.test.post(`/v1/endpoints/${endpoint.body.id}/test`);
    const next = [
      await a.test.post("/v1/events", { type: "x", data: {} }),
      await a.test.post(`/v1/endpoints/${endpoint.body.id}/test`),
    ];
    const elapsedS = (Date.now() - start) / 1000;
    assert.equal(first.status, 202, JSON.stringify(first.body));
    // One token a second: within the first second both are refused.
    const passed = next.filter((r) => r.status === 202).length;
    assert.ok(passed <= Math.floor(elapsedS), `${passed} passed in ${elapsedS} s`);
    for (const response of next.filter((r) => r.status !== 202)) assertRateLimited(response);
    assert.equal(await storedCount(a.test), 1 + passed);
  });
});
