import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { assertError, newAccount } from "./helpers/api.ts";
import { type ApiClient, eventually, type Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { type ReceivedRequest, type Receiver, startReceiver } from "./helpers/receiver.ts";

function headersOf(request: ReceivedRequest) {
  return {
    "webhook-id": String(request.headers["webhook-id"]),
    "webhook-timestamp": String(request.headers["webhook-timestamp"]),
    "webhook-signature": String(request.headers["webhook-signature"]),
  };
}

describe("endpoints API", () => {
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

  it("creates an endpoint with a whsec_ secret and defaults, and reads it back", async () => {
    const { test } = await newAccount(h, "endpoints");
    const before = Date.now();
    const created = await test.post("/v1/endpoints", { url: `${receiver.url}/create` });
    assert.equal(created.status, 201);
    const ep = created.body;
    assert.match(ep.id, /^ep_[0-9A-Z]{26}$/);
    assert.match(ep.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
    assert.ok(Buffer.from(ep.secret.slice(6), "base64").length >= 24, "secret has at least 192 bits");
    assert.deepEqual(
      {
        environment: ep.environment,
        url: ep.url,
        description: ep.description,
        event_types: ep.event_types,
        enabled: ep.enabled,
        disabled_reason: ep.disabled_reason,
        previous_secret_expires_at: ep.previous_secret_expires_at,
        rate_limit_per_s: ep.rate_limit_per_s,
        max_in_flight: ep.max_in_flight,
        retry_schedule: ep.retry_schedule,
      },
      {
        environment: "test",
        url: `${receiver.url}/create`,
        description: "",
        event_types: null,
        enabled: true,
        disabled_reason: null,
        previous_secret_expires_at: null,
        rate_limit_per_s: null,
        max_in_flight: null,
        retry_schedule: null,
      },
    );
    assert.ok(Date.parse(ep.created_at) >= before - 1000);
    assert.equal(ep.updated_at, ep.created_at);

    const read = await test.get(`/v1/endpoints/${ep.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, ep);

    const full = await test.post("/v1/endpoints", {
      url: `${receiver.url}/full`,
      description: "orders",
      event_types: ["order.created", "order.paid"],
      rate_limit_per_s: 10,
      max_in_flight: 3,
      retry_schedule: ["5s", "1m", "1h*2"],
    });
    assert.equal(full.status, 201);
    assert.equal(full.body.description, "orders");
    assert.deepEqual(full.body.event_types, ["order.created", "order.paid"]);
    assert.equal(full.body.rate_limit_per_s, 10);
    assert.equal(full.body.max_in_flight, 3);
    assert.deepEqual(full.body.retry_schedule, ["5s", "1m", "1h", "1h"]);
    assert.notEqual(full.body.secret, ep.secret);
  });

  it("creates an endpoint disabled when asked: nothing is delivered to it until it is enabled", async () => {
    const { test } = await newAccount(h, "created disabled");
    const created = await test.post("/v1/endpoints", { url: `${receiver.url}/off`, enabled: false });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.enabled, false);
    assert.equal(created.body.disabled_reason, "disabled by request");
    const event = await test.post("/v1/events", { type: "off.test", data: {} });
    assert.deepEqual((await test.get(`/v1/events/${event.body.id}/deliveries`)).body.data, []);
    const enabled = await test.patch(`/v1/endpoints/${created.body.id}`, { enabled: true });
    assert.equal(enabled.body.enabled, true);
    assert.equal(enabled.body.disabled_reason, null);
  });

  it("lists endpoints with cursor pagination (limit, after, next_cursor null on the last page)", async () => {
    const { test } = await newAccount(h, "endpoints");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await test.post("/v1/endpoints", { url: `${receiver.url}/page-${i}` })).body.id);
    }
    const all = await test.get("/v1/endpoints");
    assert.equal(all.status, 200);
    assert.equal(all.body.next_cursor, null);
    assert.deepEqual(new Set(all.body.data.map((e: { id: string }) => e.id)), new Set(ids));

    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const page: Response = await test.get(`/v1/endpoints?limit=2${cursor ? `&after=${cursor}` : ""}`);
      assert.equal(page.status, 200);
      pages.push(page.body.data.map((e: { id: string }) => e.id));
      cursor = page.body.next_cursor;
      if (cursor !== null) assert.equal(cursor, pages.at(-1)?.at(-1), "next_cursor is the last id shown");
    } while (cursor !== null && pages.length < 10);
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 1],
    );
    assert.deepEqual(
      pages.flat(),
      all.body.data.map((e: { id: string }) => e.id),
    );

    const exact = await test.get("/v1/endpoints?limit=5");
    assert.equal(exact.body.data.length, 5);
    assert.equal(exact.body.next_cursor, null, "no next page when the last page is exactly full");

    assertError(await test.get("/v1/endpoints?limit=ten"), 400, "invalid_request");
    assertError(await test.get("/v1/endpoints?colour=red"), 400, "invalid_request");
  });

  it("patches every changeable field", async () => {
    const { test } = await newAccount(h, "endpoints");
    const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/patch-before` })).body;

    const changes: [Record<string, unknown>, Record<string, unknown>][] = [
      [{ url: `${receiver.url}/patch-after` }, { url: `${receiver.url}/patch-after` }],
      [{ description: "billing hooks" }, { description: "billing hooks" }],
      [{ event_types: ["invoice.paid"] }, { event_types: ["invoice.paid"] }],
      [{ event_types: null }, { event_types: null }],
      [{ retry_schedule: ["100ms", "2s", "1h*2"] }, { retry_schedule: ["100ms", "2s", "1h", "1h"] }],
      [{ retry_schedule: null }, { retry_schedule: null }],
      [{ max_in_flight: 4 }, { max_in_flight: 4 }],
      [{ rate_limit_per_s: 25 }, { rate_limit_per_s: 25 }],
      [{ enabled: false }, { enabled: false, disabled_reason: "disabled by request" }],
      [{ enabled: true }, { enabled: true, disabled_reason: null }],
      [
        { description: "both", max_in_flight: null, rate_limit_per_s: null },
        { description: "both", max_in_flight: null, rate_limit_per_s: null },
      ],
    ];
    for (const [patch, expected] of changes) {
      const patched = await test.patch(`/v1/endpoints/${ep.id}`, patch);
      assert.equal(patched.status, 200, `${JSON.stringify(patch)}: ${JSON.stringify(patched.body)}`);
      const read = await test.get(`/v1/endpoints/${ep.id}`);
      assert.deepEqual(read.body, patched.body);
      for (const [field, value] of Object.entries(expected)) {
        assert.deepEqual(read.body[field], value, `${field} after ${JSON.stringify(patch)}`);
      }
      assert.equal(read.body.secret, ep.secret, "a patch never changes the secret");
      assert.equal(read.body.id, ep.id);
    }
  });

  it("an account has at most max_endpoints_per_account endpoints in each environment", async () => {
    const capped = await startTestHookline({
      HOOKLINE_MAX_ENDPOINTS_PER_ACCOUNT: "3",
      HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32",
    });
    try {
      const { test, live } = await newAccount(capped, "capped");
      const url = `${receiver.url}/capped`;
      const made = [];
      for (let i = 0; i < 3; i++) made.push((await test.post("/v1/endpoints", { url })).body.id);
      const refused = await test.post("/v1/endpoints", { url });
      assertError(refused, 409, "endpoint_limit");
      assert.match(refused.body.error.message, /3 endpoints in test.*delete one first/);
      assert.equal((await test.get("/v1/endpoints")).body.data.length, 3, "nothing made");
      // LIVE counts apart; a deleted endpoint frees its place.
      assert.equal((await live.post("/v1/endpoints", { url })).status, 201);
      assert.equal((await test.delete(`/v1/endpoints/${made[0]}`)).status, 204);
      assert.equal((await test.post("/v1/endpoints", { url })).status, 201);
    } finally {
      await capped.stop();
    }
  });

  it("a LIVE endpoint's own schedule waits at least 1 s between attempts; TEST may retry sooner", async () => {
    const { test, live } = await newAccount(h, "endpoints");
    const url = `${receiver.url}/schedule-floor`;
    for (const retry_schedule of [["0ms*200"], ["1h", "500ms"]]) {
      const refused = await live.post("/v1/endpoints", { url, retry_schedule });
      assertError(refused, 400, "invalid_retry_schedule");
      assert.match(refused.body.error.message, /at least 1 s/);
    }
    const ep = await live.post("/v1/endpoints", { url, retry_schedule: ["1s", "1h*3"] });
    assert.equal(ep.status, 201, JSON.stringify(ep.body));
    assertError(await live.patch(`/v1/endpoints/${ep.body.id}`, { retry_schedule: ["10ms"] }), 400);
    assert.equal((await test.post("/v1/endpoints", { url, retry_schedule: ["50ms"] })).status, 201);
    assert.equal((await live.delete(`/v1/endpoints/${ep.body.id}`)).status, 204);
  });

  it("rejects unknown fields, bad retry schedules and an empty patch with 400", async () => {
    const { test } = await newAccount(h, "endpoints");
    const url = `${receiver.url}/invalid`;
    const ep = (await test.post("/v1/endpoints", { url })).body;

    const badCreates: unknown[] = [
      { url, colour: "red" },
      { url, secret: "whsec_mine" },
      { url, retry_schedule: ["5 minutes"] },
      { url, retry_schedule: ["5s", "soon"] },
      { url, retry_schedule: "5s" },
      { url, retry_schedule: ["1h*0"] },
      { url, retry_schedule: ["8d"] },
      { url, event_types: [] },
      { url, event_types: ["has space"] },
      { url, max_in_flight: 0 },
      { url, rate_limit_per_s: 1.5 },
      { url, rate_limit_per_s: "10" },
      { url, description: 7 },
      {},
      { url: "" },
    ];
    for (const body of badCreates) {
      const response = await test.post("/v1/endpoints", body);
      assert.equal(
        response.status,
        400,
        `${JSON.stringify(body)} → ${response.status} ${JSON.stringify(response.body)}`,
      );
      assertError(response, 400);
    }

    const badPatches: unknown[] = [
      {},
      { colour: "red" },
      { secret: "whsec_mine" },
      { id: "ep_other" },
      { retry_schedule: ["5 minutes"] },
      { enabled: "false" },
      { url: null },
    ];
    for (const body of badPatches) {
      const response = await test.patch(`/v1/endpoints/${ep.id}`, body);
      assert.equal(
        response.status,
        400,
        `${JSON.stringify(body)} → ${response.status} ${JSON.stringify(response.body)}`,
      );
      assertError(response, 400);
    }
    const empty = await test.patch(`/v1/endpoints/${ep.id}`, {});
    assertError(empty, 400, "invalid_request");

    // None of that changed the endpoint or created another one.
    assert.deepEqual((await test.get(`/v1/endpoints/${ep.id}`)).body, ep);
    assert.equal((await test.get("/v1/endpoints")).body.data.length, 1);

    // The cloud metadata address is refused even in TEST.
    assertError(await test.post("/v1/endpoints", { url: "http://169.254.169.254/latest" }), 422, "url_rejected");
    assertError(await test.patch(`/v1/endpoints/${ep.id}`, { url: "http://169.254.169.254/" }), 422, "url_rejected");
  });

  it("deletes an endpoint: 204, then 404 everywhere", async () => {
    const { test } = await newAccount(h, "endpoints");
    const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/delete` })).body;
    const deleted = await test.delete(`/v1/endpoints/${ep.id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.body, null);
    assertError(await test.get(`/v1/endpoints/${ep.id}`), 404, "not_found");
    assertError(await test.delete(`/v1/endpoints/${ep.id}`), 404, "not_found");
    assertError(await test.patch(`/v1/endpoints/${ep.id}`, { description: "x" }), 404, "not_found");
    assertError(await test.post(`/v1/endpoints/${ep.id}/rotate-secret`), 404, "not_found");
    assertError(await test.post(`/v1/endpoints/${ep.id}/test`), 404, "not_found");
    assert.deepEqual((await test.get("/v1/endpoints")).body.data, []);
  });

  it("answers 404 for an endpoint of another account or of the other environment, and changes nothing", async () => {
    const owner = await newAccount(h, "owner");
    const stranger = await newAccount(h, "stranger");
    const ep = (await owner.test.post("/v1/endpoints", { url: `${receiver.url}/foreign`, description: "mine" })).body;
    const since = new Date(Date.now() - 60_000).toISOString();

    for (const [who, client] of [
      ["another account's TEST key", stranger.test],
      ["another account's LIVE key", stranger.live],
      ["the same account's LIVE key", owner.live],
    ] as [string, ApiClient][]) {
      const tries: [string, Promise<Response>][] = [
        ["get", client.get(`/v1/endpoints/${ep.id}`)],
        ["patch", client.patch(`/v1/endpoints/${ep.id}`, { description: "hacked", enabled: false })],
        ["rotate", client.post(`/v1/endpoints/${ep.id}/rotate-secret`)],
        ["test", client.post(`/v1/endpoints/${ep.id}/test`)],
        ["recover", client.post(`/v1/endpoints/${ep.id}/recover`, { since })],
        ["delete", client.delete(`/v1/endpoints/${ep.id}`)],
      ];
      for (const [action, attempt] of tries) {
        const response = await attempt;
        assert.equal(
          response.status,
          404,
          `${action} with ${who}: ${response.status} ${JSON.stringify(response.body)}`,
        );
        assertError(response, 404, "not_found");
      }
    }
    // A TEST endpoint seen from LIVE is foreign too; so is a LIVE endpoint seen from TEST.
    const liveEp = (await owner.live.post("/v1/endpoints", { url: `${receiver.url}/foreign-live` })).body;
    assertError(await owner.test.get(`/v1/endpoints/${liveEp.id}`), 404, "not_found");
    assertError(await owner.test.post(`/v1/endpoints/${liveEp.id}/test`), 404, "not_found");
    assertError(await owner.test.delete(`/v1/endpoints/${liveEp.id}`), 404, "not_found");

    const after = await owner.test.get(`/v1/endpoints/${ep.id}`);
    assert.deepEqual(after.body, ep, "the endpoint is unchanged: same description, secret, state");
    assert.deepEqual((await owner.test.get("/v1/events")).body.data, [], "no test event was sent");
    assert.deepEqual((await stranger.test.get("/v1/events")).body.data, []);
    assert.deepEqual((await owner.live.get("/v1/events")).body.data, []);
    assert.equal(at("/foreign").length, 0);
    assert.equal((await owner.live.get(`/v1/endpoints/${liveEp.id}`)).status, 200);
  });

  it("rotates the secret: the new one differs, and for 24 h both signatures are sent", async () => {
    const { test } = await newAccount(h, "endpoints");
    const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/rotate` })).body;
    const oldSecret: string = ep.secret;

    const started = Date.now();
    const rotated = await test.post(`/v1/endpoints/${ep.id}/rotate-secret`);
    assert.equal(rotated.status, 200);
    const newSecret: string = rotated.body.secret;
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, oldSecret);
    const expires = Date.parse(rotated.body.previous_secret_expires_at);
    const day = 24 * 3_600_000;
    assert.ok(expires >= started + day - 1000 && expires <= Date.now() + day + 1000, "old secret kept for 24 h");
    assert.equal((await test.get(`/v1/endpoints/${ep.id}`)).body.secret, newSecret);

    const sent = await test.post("/v1/events", { type: "secret.rotated", data: { n: 1 } });
    assert.equal(sent.status, 202);
    const request = await eventually(() => at("/rotate")[0], 10_000, "the delivery after rotation");
    const headers = headersOf(request);
    const signatures = headers["webhook-signature"].split(" ");
    assert.equal(signatures.length, 2, `two signatures: ${headers["webhook-signature"]}`);
    for (const signature of signatures) assert.match(signature, /^v1,[A-Za-z0-9+/]+=*$/);

    // The whole header verifies with either secret (how receivers see it during a rotation).
    for (const secret of [oldSecret, newSecret]) {
      const payload = new Webhook(secret).verify(request.body, headers) as { id: string };
      assert.equal(payload.id, sent.body.id);
    }
    // And each signature on its own verifies with exactly one of the secrets: one old, one new.
    const verifies = (secret: string, signature: string) => {
      try {
        new Webhook(secret).verify(request.body, { ...headers, "webhook-signature": signature });
        return true;
      } catch {
        return false;
      }
    };
    const byOld = signatures.filter((s) => verifies(oldSecret, s));
    const byNew = signatures.filter((s) => verifies(newSecret, s));
    assert.equal(byOld.length, 1);
    assert.equal(byNew.length, 1);
    assert.notEqual(byOld[0], byNew[0]);
    assert.throws(() => new Webhook(`whsec_${Buffer.alloc(24, 7).toString("base64")}`).verify(request.body, headers));

    // A second rotation keeps only the secret it replaces: the first one no longer signs.
    const again = await test.post(`/v1/endpoints/${ep.id}/rotate-secret`);
    assert.equal(again.status, 200);
    const third: string = again.body.secret;
    assert.ok(third !== newSecret && third !== oldSecret);
    await test.post("/v1/events", { type: "secret.rotated", data: { n: 2 } });
    const second = headersOf(await eventually(() => at("/rotate")[1], 10_000, "the delivery after a second rotation"));
    const body = at("/rotate")[1]?.body ?? "";
    assert.equal(second["webhook-signature"].split(" ").length, 2);
    new Webhook(third).verify(body, second);
    new Webhook(newSecret).verify(body, second);
    assert.throws(() => new Webhook(oldSecret).verify(body, second));
  });

  it("a test event to a disabled endpoint is refused or sent, never left pending", async () => {
    const { test } = await newAccount(h, "endpoints");
    const ep = (await test.post("/v1/endpoints", { url: `${receiver.url}/test-disabled` })).body;
    assert.equal((await test.patch(`/v1/endpoints/${ep.id}`, { enabled: false })).status, 200);
    const sent = await test.post(`/v1/endpoints/${ep.id}/test`);
    if (sent.status === 409) {
      assertError(sent, 409);
    } else {
      // Accepted: then the user expects it to arrive now, not to wait silently for the endpoint to be re-enabled.
      assert.equal(sent.status, 202);
      let deliveries: { status: string }[] = [];
      const settled = () =>
        deliveries.length > 0 && deliveries.every((d) => !["pending", "delivering"].includes(d.status));
      await eventually(
        async () => {
          deliveries = (await test.get(`/v1/events/${sent.body.id}/deliveries`)).body.data;
          return settled() ? true : undefined;
        },
        3_000,
        "the accepted test event to be attempted",
      ).catch(() => undefined);
      assert.ok(
        settled(),
        `202 for a test event to a disabled endpoint, but its delivery stays: ${JSON.stringify(deliveries)}`,
      );
    }
  });

  it("sends a webhook.test event to that endpoint only", async () => {
    const { test } = await newAccount(h, "endpoints");
    const target = (await test.post("/v1/endpoints", { url: `${receiver.url}/test-target` })).body;
    const bystander = (await test.post("/v1/endpoints", { url: `${receiver.url}/test-bystander` })).body;
    const filtered = (
      await test.post("/v1/endpoints", { url: `${receiver.url}/test-filtered`, event_types: ["order.created"] })
    ).body;

    const sent = await test.post(`/v1/endpoints/${target.id}/test`);
    assert.equal(sent.status, 202);
    assert.match(sent.body.id, /^evt_/);
    assert.equal(sent.body.type, "webhook.test");
    assert.equal(sent.body.environment, "test");
    assert.equal(typeof sent.body.data, "object");

    const request = await eventually(() => at("/test-target")[0], 10_000, "the test event");
    const payload = new Webhook(target.secret).verify(request.body, headersOf(request)) as { id: string; type: string };
    assert.equal(payload.id, sent.body.id);
    assert.equal(payload.type, "webhook.test");

    const deliveries = await eventually(async () => {
      const list = await test.get(`/v1/events/${sent.body.id}/deliveries`);
      return list.body.data.every((d: { status: string }) => d.status === "succeeded") ? list.body.data : undefined;
    });
    assert.deepEqual(
      deliveries.map((d: { endpoint_id: string }) => d.endpoint_id),
      [target.id],
      "only the chosen endpoint gets a delivery",
    );
    assert.equal(at("/test-bystander").length, 0);
    assert.equal(at("/test-filtered").length, 0);

    // The endpoint's own event-type filter does not stop a test event sent to it on purpose.
    const toFiltered = await test.post(`/v1/endpoints/${filtered.id}/test`);
    assert.equal(toFiltered.status, 202);
    const filteredDeliveries = (await test.get(`/v1/events/${toFiltered.body.id}/deliveries`)).body.data;
    assert.deepEqual(
      filteredDeliveries.map((d: { endpoint_id: string }) => d.endpoint_id),
      [filtered.id],
      "a test event sent to an endpoint filtered to other types is still delivered to it",
    );
    await eventually(() => at("/test-filtered")[0], 10_000, "the test event to a filtered endpoint");
    assert.equal(at("/test-bystander").length, 0);
    assert.equal(at("/test-target").length, 1);
    assert.ok(bystander.id);
  });
});
