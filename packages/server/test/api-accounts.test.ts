import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { assertError, newAccount } from "./helpers/api.ts";
import { type ApiClient, apiClient, type Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { type Receiver, startReceiver } from "./helpers/receiver.ts";

describe("accounts API (admin)", () => {
  let h: TestHookline;
  let receiver: Receiver;

  before(async () => {
    // LIVE endpoints may point at the loopback receiver only through the operator allow-list.
    h = await startTestHookline({ HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32" });
    receiver = await startReceiver();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("POST /v1/accounts creates an account and returns its id and both keys", async () => {
    const before = Date.now();
    const created = await h.admin.post("/v1/accounts", { name: "Acme Payments" });
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^acct_[0-9A-Z]{26}$/);
    assert.equal(created.body.name, "Acme Payments");
    assert.ok(Date.parse(created.body.created_at) >= before - 1000);
    assert.equal(new Date(created.body.created_at).toISOString(), created.body.created_at);
    assert.match(created.body.keys.test, /^hl_test_[0-9A-Za-z]{20,}$/);
    assert.match(created.body.keys.live, /^hl_live_[0-9A-Za-z]{20,}$/);
    assert.notEqual(created.body.keys.test.slice(8), created.body.keys.live.slice(8));

    const other = await h.admin.post("/v1/accounts", { name: "Other" });
    assert.equal(other.status, 201);
    assert.notEqual(other.body.id, created.body.id);
    assert.notEqual(other.body.keys.test, created.body.keys.test);
    assert.notEqual(other.body.keys.live, created.body.keys.live);

    const read = await h.admin.get(`/v1/accounts/${created.body.id}`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { id: created.body.id, name: "Acme Payments", created_at: created.body.created_at });
    assertError(await h.admin.get("/v1/accounts/acct_00000000000000000000000000"), 404, "not_found");
  });

  it("GET /v1/accounts lists accounts (keys are never shown again) with cursor pagination", async () => {
    const names = ["list-a", "list-b", "list-c"];
    const ids: string[] = [];
    for (const name of names) ids.push((await newAccount(h, name)).id);

    const all = await h.admin.get("/v1/accounts?limit=250");
    assert.equal(all.status, 200);
    assert.equal(all.body.next_cursor, null);
    const listed = all.body.data as { id: string; name: string; keys?: unknown }[];
    for (const id of ids)
      assert.ok(
        listed.some((a) => a.id === id),
        `account ${id} is listed`,
      );
    for (const account of listed) {
      assert.equal(account.keys, undefined, "keys are shown once, at creation only");
      assert.deepEqual(Object.keys(account).sort(), ["created_at", "id", "name"]);
    }

    // Walk the list two at a time: every account exactly once, next_cursor null on the last page.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: Response = await h.admin.get(`/v1/accounts?limit=2${cursor ? `&after=${cursor}` : ""}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.data.length <= 2);
      seen.push(...page.body.data.map((a: { id: string }) => a.id));
      cursor = page.body.next_cursor;
      if (cursor === null) break;
      assert.ok(page.body.data.length === 2, "a page with a next cursor is full");
    }
    assert.equal(cursor, null);
    assert.deepEqual(
      seen,
      listed.map((a) => a.id),
    );
    assert.equal(new Set(seen).size, seen.length);
  });

  it("rejects a bad account body with 400", async () => {
    assertError(await h.admin.post("/v1/accounts", {}), 400, "invalid_request");
    assertError(await h.admin.post("/v1/accounts", { name: "" }), 400, "invalid_request");
    assertError(await h.admin.post("/v1/accounts", { name: 42 }), 400, "invalid_request");
    assertError(await h.admin.post("/v1/accounts", { name: "x", plan: "gold" }), 400, "invalid_request");
  });

  it("admin routes: an account key → 403, no key → 401, a wrong key → 401", async () => {
    const anonymous = apiClient(h.url);
    for (const client of [h.test, h.live]) {
      assertError(await client.post("/v1/accounts", { name: "nope" }), 403);
      assertError(await client.get("/v1/accounts"), 403);
    }
    assertError(await anonymous.post("/v1/accounts", { name: "nope" }), 401, "unauthorized");
    assertError(await anonymous.get("/v1/accounts"), 401, "unauthorized");
    const noKey = await anonymous.get("/v1/accounts");
    assert.match(String(noKey.headers.get("www-authenticate")), /^Bearer/);
    assertError(await apiClient(h.url).call("GET", "/v1/accounts", undefined, { authorization: "Basic YTpi" }), 401);

    // A key that is not any valid key is an authentication failure (401), not a permission one (403).
    for (const wrong of ["garbage", "hl_admin_not-the-right-one", `${h.keys.admin}x`]) {
      assertError(await apiClient(h.url, wrong).get("/v1/accounts"), 401, "unauthorized");
      assertError(await apiClient(h.url, wrong).post("/v1/accounts", { name: "nope" }), 401, "unauthorized");
    }
    // Nothing was created by any of those.
    const all = await h.admin.get("/v1/accounts?limit=250");
    assert.ok(!all.body.data.some((a: { name: string }) => a.name === "nope"));
  });

  it("account routes: the admin key → 403, no key or a wrong key → 401", async () => {
    assertError(await h.admin.get("/v1/endpoints"), 403);
    assertError(await h.admin.post("/v1/events", { type: "a.b", data: {} }), 403);
    assertError(await apiClient(h.url).get("/v1/endpoints"), 401, "unauthorized");
    for (const wrong of ["garbage", "hl_test_doesnotexist", "hl_live_doesnotexist", `${h.keys.test}x`]) {
      assertError(await apiClient(h.url, wrong).get("/v1/endpoints"), 401, "unauthorized");
      assertError(await apiClient(h.url, wrong).post("/v1/events", { type: "a.b", data: {} }), 401, "unauthorized");
    }
  });

  it("checks the key before the body: no key with a bad body is still 401", async () => {
    const anonymous = apiClient(h.url);
    assertError(await anonymous.post("/v1/events", { nope: true }), 401, "unauthorized");
    assertError(await anonymous.post("/v1/accounts", {}), 401, "unauthorized");
    assertError(await apiClient(h.url, h.keys.test).post("/v1/accounts", {}), 403);
  });

  it("a new account's keys work and see only their own account and environment", async () => {
    const acme = await newAccount(h, "Acme isolated");
    const ownTest = await acme.test.post("/v1/endpoints", { url: `${receiver.url}/acme-test` });
    assert.equal(ownTest.status, 201);
    assert.equal(ownTest.body.environment, "test");
    const ownLive = await acme.live.post("/v1/endpoints", { url: `${receiver.url}/acme-live` });
    assert.equal(ownLive.status, 201);
    assert.equal(ownLive.body.environment, "live");
    const defaultTest = await h.test.post("/v1/endpoints", { url: `${receiver.url}/default-test` });
    assert.equal(defaultTest.status, 201);

    const ids = async (client: ApiClient) =>
      ((await client.get("/v1/endpoints")).body.data as { id: string }[]).map((e) => e.id);
    assert.deepEqual(await ids(acme.test), [ownTest.body.id]);
    assert.deepEqual(await ids(acme.live), [ownLive.body.id]);
    assert.ok(!(await ids(h.test)).includes(ownTest.body.id));
    assert.ok(!(await ids(h.live)).includes(ownLive.body.id));
    assert.ok(!(await ids(acme.test)).includes(defaultTest.body.id));

    assertError(await h.test.get(`/v1/endpoints/${ownTest.body.id}`), 404, "not_found");
    assertError(await acme.live.get(`/v1/endpoints/${ownTest.body.id}`), 404, "not_found");
    assertError(await acme.test.get(`/v1/endpoints/${ownLive.body.id}`), 404, "not_found");

    const event = await acme.test.post("/v1/events", { type: "acme.thing", data: { n: 1 } });
    assert.equal(event.status, 202);
    assert.equal(event.body.environment, "test");
    assert.equal((await acme.test.get(`/v1/events/${event.body.id}`)).status, 200);
    assertError(await h.test.get(`/v1/events/${event.body.id}`), 404, "not_found");
    assertError(await acme.live.get(`/v1/events/${event.body.id}`), 404, "not_found");
    const defaultEvents = (await h.test.get("/v1/events?type=acme.thing")).body.data;
    assert.deepEqual(defaultEvents, []);
    const liveEvents = (await acme.live.get("/v1/events")).body.data;
    assert.deepEqual(liveEvents, []);

    await acme.test.delete(`/v1/endpoints/${ownTest.body.id}`);
    await acme.live.delete(`/v1/endpoints/${ownLive.body.id}`);
    await h.test.delete(`/v1/endpoints/${defaultTest.body.id}`);
  });
});
