import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { type ApiClient, apiClient, eventually, type Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { type Receiver, startReceiver } from "./helpers/receiver.ts";

/** Every error response: the status, and exactly `{error:{code,message}}` with non-empty strings. */
function assertError(response: Response, status: number, code?: string, what = "") {
  const shown = `${what} → ${response.status} ${JSON.stringify(response.body)?.slice(0, 300)}`;
  assert.equal(response.status, status, shown);
  assert.match(String(response.headers.get("content-type")), /^application\/json/, shown);
  assert.equal(typeof response.body, "object", shown);
  assert.deepEqual(Object.keys(response.body), ["error"], shown);
  assert.deepEqual(Object.keys(response.body.error).sort(), ["code", "message"], shown);
  assert.ok(typeof response.body.error.code === "string" && response.body.error.code.length > 0, shown);
  assert.ok(typeof response.body.error.message === "string" && response.body.error.message.trim().length > 0, shown);
  if (code) assert.equal(response.body.error.code, code, shown);
}

const KiB = 1024;

/** Sends a request by hand on a raw socket and hangs up after `bytes` of the body. */
function abortedUpload(url: string, key: string, bytes: number) {
  const { hostname, port } = new URL(url);
  return new Promise<void>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        `POST /v1/events HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${key}\r\n` +
          `content-type: application/json\r\ncontent-length: 100000\r\n\r\n${'{"type":"x.y","data":{"a":"'.padEnd(bytes, "a")}`,
        () => {
          socket.destroy();
          resolve();
        },
      );
    });
    socket.on("error", reject);
  });
}

describe("bad input never harms the process", () => {
  let h: TestHookline;
  let receiver: Receiver;
  let raw: (method: string, path: string, body: string, contentType?: string) => Promise<Response>;

  before(async () => {
    h = await startTestHookline();
    receiver = await startReceiver();
    raw = (method, path, body, contentType = "application/json") =>
      h.test.call(method, path, body, { "content-type": contentType });
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("invalid JSON → 400 invalid_json", async () => {
    const bodies = ["{", '{"type":"a.b","data":{}', "{'type':'a.b'}", "not json", '{"type":"a.b",}', "\u0000", "nul"];
    for (const body of bodies) {
      assertError(await raw("POST", "/v1/events", body), 400, "invalid_json", JSON.stringify(body));
    }
    assertError(await raw("POST", "/v1/events", ""), 400, "invalid_json", "empty body");
    assertError(await raw("POST", "/v1/endpoints", "{"), 400, "invalid_json", "endpoints");
    assertError(await raw("POST", "/v1/events/batch", "[{"), 400, "invalid_json", "batch");
    const admin = await h.admin.call("POST", "/v1/accounts", "{", { "content-type": "application/json" });
    assertError(admin, 400, "invalid_json", "accounts");
    // Valid JSON: a `__proto__` key is the sender's data, kept as such (api-properties.test.ts), never a prototype.
    const proto = await raw("POST", "/v1/events", '{"type":"proto.kept","data":{"__proto__":{"polluted":true}}}');
    assert.equal(proto.status, 202);
    assert.ok(Object.hasOwn(proto.body.data, "__proto__"));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("a number a double cannot hold is refused with the reason, not stored changed", async () => {
    const refused: [string, RegExp][] = [
      ["9007199254740993", /9007199254740993 is beyond ±9007199254740991/],
      ["-18446744073709551616", /send it as a string/],
      ["1e400", /beyond the range of a double/],
      ["-1E+309", /beyond the range of a double/],
      [`1${"0".repeat(400)}`, /\(401 characters\)/],
      ["1e-400", /too small for a double/],
      ["0.000001e-330", /too small/],
    ];
    for (const [literal, reason] of refused) {
      const answer = await raw("POST", "/v1/events", `{"type":"n.refused","data":{"n":${literal}}}`);
      assertError(answer, 400, "invalid_json", literal);
      assert.match(answer.body.error.message, reason, literal);
    }
    // Kept exactly: safe integers, doubles, exact large values, zero however written, long digit runs in strings.
    const kept: [string, string][] = [
      ["9007199254740991", "9007199254740991"],
      ["-9007199254740991", "-9007199254740991"],
      ["1e20", "100000000000000000000"],
      ["6.02214076e23", "6.02214076e+23"],
      ["0e-500", "0"],
      ["-0.0", "0"],
      ['"12345678901234567890123"', '"12345678901234567890123"'],
    ];
    for (const [literal, stored] of kept) {
      const answer = await raw("POST", "/v1/events", `{"type":"n.kept","data":{"n":${literal}}}`);
      assert.equal(answer.status, 202, `${literal}: ${JSON.stringify(answer.body)}`);
      assert.equal(JSON.stringify(answer.body.data.n), stored, literal);
    }
  });

  it("a body that is not JSON → 415", async () => {
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"]) {
      assertError(await raw("POST", "/v1/events", "type=a.b", type), 415, "unsupported_media_type", type);
    }
    assertError(await raw("POST", "/v1/endpoints", '{"url":"http://127.0.0.1/"}', "text/plain"), 415);
  });

  it("a body over 256 KiB → 413, on every route that takes one", async () => {
    const big = { type: "big.one", data: { blob: "x".repeat(257 * KiB) } };
    assertError(await h.test.post("/v1/events", big), 413, "payload_too_large", "event");
    assertError(await h.test.post("/v1/endpoints", { url: `http://127.0.0.1/${"x".repeat(257 * KiB)}` }), 413);
    const ep = await h.test.post("/v1/endpoints", { url: `${receiver.url}/big` });
    assertError(await h.test.patch(`/v1/endpoints/${ep.body.id}`, { description: "x".repeat(257 * KiB) }), 413);
    assertError(await h.admin.post("/v1/accounts", { name: "x".repeat(257 * KiB) }), 413);
    // Just under the limit is fine.
    const fits = await h.test.post("/v1/events", { type: "big.one", data: { blob: "x".repeat(250 * KiB) } });
    assert.equal(fits.status, 202);
    // A batch has its own, larger limit: 1000 events of 300 bytes each is accepted.
    const events = Array.from({ length: 1000 }, (_, i) => ({ type: "big.batch", data: { i, pad: "p".repeat(300) } }));
    assert.ok(JSON.stringify({ events }).length > 256 * KiB);
    const batch = await h.test.post("/v1/events/batch", { events });
    assert.equal(batch.status, 202);
    assert.equal(batch.body.data.length, 1000);
    assert.equal((await h.test.delete(`/v1/endpoints/${ep.body.id}`)).status, 204);
  });

  it("an event must be {type, data}: data an object, type a plain name", async () => {
    const bad: [string, unknown][] = [
      ["data an array", { type: "a.b", data: [1, 2] }],
      ["data a string", { type: "a.b", data: "hello" }],
      ["data a number", { type: "a.b", data: 42 }],
      ["data null", { type: "a.b", data: null }],
      ["data true", { type: "a.b", data: true }],
      ["data missing", { type: "a.b" }],
      ["type missing", { data: {} }],
      ["type with spaces", { type: "order created", data: {} }],
      ["type with a newline", { type: "order.created\n", data: {} }],
      ["type empty", { type: "", data: {} }],
      ["type too long", { type: `a${"b".repeat(128)}`, data: {} }],
      ["type a number", { type: 7, data: {} }],
      ["type with a slash", { type: "../etc", data: {} }],
      ["an unknown field", { type: "a.b", data: {}, created_at: "2020-01-01T00:00:00Z" }],
      ["an id field", { type: "a.b", data: {}, id: "evt_mine" }],
      ["idempotency_key a number", { type: "a.b", data: {}, idempotency_key: 5 }],
      ["a top-level array", [{ type: "a.b", data: {} }]],
      ["a top-level string", "a.b"],
      ["a top-level null", null],
    ];
    for (const [what, body] of bad) {
      assertError(await raw("POST", "/v1/events", JSON.stringify(body)), 400, "invalid_request", what);
    }
    assert.deepEqual((await h.test.get("/v1/events?type=a.b")).body.data, [], "nothing was stored");
  });

  it("deeply nested data is refused with a 4xx, not an internal error", async () => {
    // Both well under the 256 KiB body limit, so only the nesting is at stake.
    const depth = 40_000;
    const arrays = `{"type":"deep.one","data":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}`;
    const objects = `{"type":"deep.one","data":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
    const cases: [string, string, string][] = [
      ["nested arrays", "/v1/events", arrays],
      ["nested objects", "/v1/events", objects],
      ["nested arrays in a batch", "/v1/events/batch", `{"events":[${arrays}]}`],
      ["nested objects in a batch", "/v1/events/batch", `{"events":[${objects}]}`],
    ];
    const outcomes: string[] = [];
    for (const [what, path, body] of cases) {
      const response = await raw("POST", path, body);
      outcomes.push(`${what} → ${response.status} ${JSON.stringify(response.body)}`);
      if (response.status >= 400 && response.status < 500) assertError(response, response.status, undefined, what);
    }
    assert.equal((await h.test.get("/healthz")).status, 200);
    assert.deepEqual(
      outcomes.filter((o) => !/ → 4\d\d /.test(o)),
      [],
      "every deeply nested payload gets a 4xx",
    );
    // Ordinary nesting is of course fine.
    const normal = `{"type":"deep.ok","data":${'{"a":'.repeat(64)}1${"}".repeat(64)}}`;
    assert.equal((await raw("POST", "/v1/events", normal)).status, 202);
  });

  it("unknown routes and methods → 404 JSON error; bad ids are refused cleanly", async () => {
    for (const [method, path] of [
      ["GET", "/v1/nope"],
      ["GET", "/v2/events"],
      ["POST", "/v1/events/nope/deeper"],
      ["DELETE", "/v1/events"],
      ["GET", "/v1/accounts/a/b/c"],
      ["GET", "/.env"],
    ] as const) {
      const response = await h.test.call(method, path);
      assertError(response, 404, "not_found", `${method} ${path}`);
    }
    assertError(await h.test.post("/v1/nope", { type: "a.b", data: {} }), 404, "not_found", "POST with a body");
    assertError(await apiClient(h.url).get("/v1/nope"), 404, "not_found", "without a key");

    for (const id of ["x".repeat(65), "ep_%00", "ep_'; DROP TABLE endpoints;--", "%E2%9C%93"]) {
      const response = await h.test.get(`/v1/endpoints/${id}`);
      assert.ok([400, 404].includes(response.status), `${id} → ${response.status}`);
      assertError(response, response.status, undefined, id);
    }
    assert.equal((await h.test.get("/v1/endpoints")).status, 200, "the endpoints table is still there");
  });

  it("survives a client that hangs up mid-upload", async () => {
    await abortedUpload(h.url, h.keys.test, 5000);
    await abortedUpload(h.url, h.keys.test, 10);
    assert.equal((await h.test.get("/healthz")).status, 200);
  });

  it("after all that, /healthz is 200 and a normal event is still delivered", async () => {
    // A burst of bad requests at once, to be sure none of them leaves the process in a bad state.
    const burst: Promise<Response>[] = [];
    for (let i = 0; i < 20; i++) {
      burst.push(raw("POST", "/v1/events", "{"));
      burst.push(raw("POST", "/v1/events", "hello", "text/plain"));
      burst.push(h.test.post("/v1/events", { type: "a b", data: {} }));
      burst.push(h.test.post("/v1/events", { type: "a.b", data: { blob: "x".repeat(300 * KiB) } }));
    }
    for (const response of await Promise.all(burst)) assert.ok([400, 413, 415].includes(response.status));

    const health = await apiClient(h.url).get("/healthz");
    assert.equal(health.status, 200);
    const ready = await apiClient(h.url).get("/readyz");
    assert.equal(ready.status, 200);

    const ep = await h.test.post("/v1/endpoints", { url: `${receiver.url}/after` });
    assert.equal(ep.status, 201);
    const sent = await h.test.post("/v1/events", { type: "still.working", data: { ok: true } });
    assert.equal(sent.status, 202);
    const request = await eventually(() => receiver.requests.find((r) => r.url === "/after"), 10_000, "a delivery");
    assert.equal(request.headers["webhook-id"], sent.body.id);
    assert.deepEqual(JSON.parse(request.body).data, { ok: true });
  });
});

describe("HOOKLINE_MAX_BODY_BYTES", () => {
  let h: TestHookline;
  let client: ApiClient;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_MAX_BODY_BYTES: "4096" });
    client = h.test;
  });
  after(async () => {
    await h.stop();
  });

  it("a smaller configured limit is enforced: over it → 413, under it → 202", async () => {
    const over = await client.post("/v1/events", { type: "limit.test", data: { blob: "x".repeat(5000) } });
    assertError(over, 413, "payload_too_large");
    assertError(await client.post("/v1/endpoints", { url: `http://127.0.0.1/${"x".repeat(5000)}` }), 413);
    const under = await client.post("/v1/events", { type: "limit.test", data: { blob: "x".repeat(3000) } });
    assert.equal(under.status, 202);
    assert.equal((await client.get("/healthz")).status, 200);
  });
});
