import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

/**
 * Property-based tests of the API's input handling, over real HTTP on a real
 * Hookline (SQLite, or PostgreSQL in `npm test`'s second pass). Whatever a client
 * sends — JSON-ish text with duplicate keys, `__proto__` keys, out-of-range
 * numbers, deep nesting, or bytes that are not UTF-8 at all — the answer is never
 * a 5xx, a refusal is `{"error":{"code","message"}}` and writes nothing, and what
 * is accepted is stored as JSON.parse reads it (the last of duplicate keys wins).
 *
 * Runs are seeded: a failure prints the seed and the shrunk input; replay it with
 * HOOKLINE_PROPERTY_SEED=<seed> (and HOOKLINE_PROPERTY_PATH=<path>).
 */

const NUM_RUNS = 150;
const seed = process.env.HOOKLINE_PROPERTY_SEED;
const path = process.env.HOOKLINE_PROPERTY_PATH;
const params = {
  numRuns: NUM_RUNS,
  ...(seed ? { seed: Number(seed) } : {}),
  ...(path ? { path } : {}),
  // A run is a few HTTP calls on loopback: far below this unless something hangs.
  interruptAfterTimeLimit: 50_000,
  markInterruptAsFailure: true,
};

// ---------------------------------------------------------------------------------
// What is sent: JSON text built by hand, so duplicate keys, number literals beyond a
// double and deep nesting reach the server exactly as written.

/** A private-use character: in the "not UTF-8" bodies its bytes are replaced by bytes that are not UTF-8. */
const MARK = "\ue000";
const SPECIAL_KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "then"];
const ODD_STRINGS = [
  "",
  "\u0000",
  "\ud800",
  "x\udc00",
  "\u2028\u2029",
  "é",
  "💥",
  "<script>window.__xss=1</script>",
  "'; DROP TABLE events;--",
  "polluted",
  MARK,
];
/** Number literals: beyond a double (±Infinity when parsed), beyond 2^53, underflowing, negative zero. */
const ODD_NUMBERS = [
  "1e400",
  "-1e400",
  "1E+309",
  "0.1e310",
  `1${"0".repeat(400)}`,
  "18446744073709551616",
  "-9223372036854775809",
  "9007199254740993",
  "1e-400",
  "-0",
  "0.30000000000000004",
  "123456789012345678901234567890.5e-3",
];

const text = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 16 }) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_STRINGS) },
);
const key = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...SPECIAL_KEYS) }, { weight: 3, arbitrary: text });
const number = fc.oneof(
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom(...ODD_NUMBERS),
);
const scalar = fc.oneof(
  fc.constantFrom("null", "true", "false"),
  number,
  text.map((s) => JSON.stringify(s)),
);

/** JSON object text from entries, with the first key repeated last (another value) when `duplicate`. */
function objectText(entries: [string, string][], duplicate = false): string {
  const first = entries[0];
  const last = entries.at(-1);
  const all = duplicate && first && last ? [...entries, [first[0], last[1]] as [string, string]] : entries;
  return `{${all.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`;
}

const { value: jsonText, object: objectJsonText } = fc.letrec<{ value: string; array: string; object: string }>(
  (tie) => ({
    value: fc.oneof({ depthSize: "small", maxDepth: 5 }, scalar, tie("array"), tie("object")),
    array: fc.array(tie("value"), { maxLength: 4 }).map((items) => `[${items.join(",")}]`),
    object: fc
      .tuple(fc.array(fc.tuple(key, tie("value")), { maxLength: 5 }), fc.boolean())
      .map(([entries, duplicate]) => objectText(entries, duplicate)),
  }),
);

/** Payloads that try to reach Object.prototype through JSON.parse or a careless merge. */
const pollution = fc.constantFrom(
  '{"__proto__":{"polluted":"yes"}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"a":{"__proto__":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}',
  '{"__proto__":null,"__proto__":{"polluted":"yes"}}',
);
const dataText = fc.oneof({ weight: 5, arbitrary: objectJsonText }, pollution, jsonText);

const eventType = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}$/);
const strictTypeText = eventType.map((t) => JSON.stringify(t));
const typeText = fc.oneof({ weight: 6, arbitrary: strictTypeText }, jsonText);

/** Deep nesting, as arrays or objects, well under the body size limit. */
const deep = fc.tuple(fc.integer({ min: 1_000, max: 12_000 }), fc.boolean()).map(([depth, arrays]) => ({
  depth,
  text: arrays ? `${"[".repeat(depth)}${"]".repeat(depth)}` : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
}));

/** `arb` one time in `every`, else undefined. */
const sometimes = <T>(arb: fc.Arbitrary<T>, every = 4) => present(arb, 1, every - 1);
/** `arb` `weight` times in `weight + absent`, else undefined. */
const present = <T>(arb: fc.Arbitrary<T>, weight: number, absent: number) =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight, arbitrary: arb });
/** An unknown field, now and then: every request schema refuses one. */
const extraField = sometimes(fc.tuple(key, jsonText), 6);

const eventText = fc
  .record({
    type: typeText,
    data: dataText,
    idempotencyKey: sometimes(
      fc
        .oneof({ weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }, text)
        .map((s) => JSON.stringify(s)),
    ),
    extra: extraField,
    duplicateType: sometimes(strictTypeText),
  })
  .map(({ type, data, idempotencyKey, extra, duplicateType }) => {
    const entries: [string, string][] = [
      ["type", type],
      ["data", data],
    ];
    if (idempotencyKey !== undefined) entries.push(["idempotency_key", idempotencyKey]);
    if (extra) entries.push(extra);
    if (duplicateType !== undefined) entries.push(["type", duplicateType]);
    return objectText(entries);
  });

/** Bytes that are not UTF-8: a stray continuation byte, a cut sequence, a UTF-16 surrogate, Latin-1, overlong. */
const BAD_UTF8 = [[0x80], [0xc3], [0xed, 0xa0, 0x80], [0xe9], [0xff, 0xfe], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]];

/** What goes out: text (sent as UTF-8) or bytes exactly as they are. */
type Body = string | Uint8Array<ArrayBuffer>;

/** A request body: mostly a JSON text, sometimes broken: invalid UTF-8 inside, cut short, or random bytes. */
function bodyFrom(texts: fc.Arbitrary<string>): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 12, arbitrary: texts },
    {
      weight: 2,
      arbitrary: fc.tuple(texts, fc.constantFrom(...BAD_UTF8)).map(([t, bytes]) => {
        // In place of the marker where there is one (a string that is otherwise fine), else after the first quote.
        const at = t.includes(MARK) ? t.indexOf(MARK) : t.indexOf('"') + 1;
        const skip = t.includes(MARK) ? MARK.length : 0;
        const [head, tail] = [Buffer.from(t.slice(0, at)), Buffer.from(t.slice(at + skip))];
        return new Uint8Array(Buffer.concat([head, Buffer.from(bytes), tail]));
      }),
    },
    { weight: 1, arbitrary: fc.tuple(texts, fc.nat()).map(([t, at]) => t.slice(0, at % (t.length + 1))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  );
}

// ---------------------------------------------------------------------------------
// What comes back.

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** What the server does when it parses a body: JSON.parse of the UTF-8 text (invalid bytes never reach this). */
function parsed(body: Body): any {
  return JSON.parse(typeof body === "string" ? body : Buffer.from(body).toString("utf8"));
}

function isUtf8Text(body: Body): boolean {
  return typeof body === "string" || Buffer.from(Buffer.from(body).toString("utf8")).equals(Buffer.from(body));
}

/** True if JSON.parse made ±Infinity somewhere (a number literal beyond a double): JSON has no way to store it. */
function hasNonFinite(value: unknown): boolean {
  const pending = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === "number" && !Number.isFinite(next)) return true;
    if (next !== null && typeof next === "object") for (const item of Object.values(next)) pending.push(item);
  }
  return false;
}

const PROTOTYPE_KEYS = Object.getOwnPropertyNames(Object.prototype).sort();

/** Every answer: never 5xx; a 4xx is exactly `{error:{code,message}}`; Object.prototype untouched (same process). */
function assertSane(answer: Answer, what: string): void {
  const shown = `${what} → ${answer.status} ${answer.text.slice(0, 300)}`;
  assert.ok(answer.status < 500, shown);
  if (answer.status >= 400) {
    assert.match(String(answer.headers.get("content-type")), /^application\/json/, shown);
    assert.deepEqual(Object.keys(answer.json ?? {}), ["error"], shown);
    assert.ok(typeof answer.json.error.code === "string" && answer.json.error.code.length > 0, shown);
    assert.ok(typeof answer.json.error.message === "string" && answer.json.error.message.length > 0, shown);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, `Object.prototype polluted by ${shown}`);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_KEYS, shown);
}

const show = (body: Body | undefined) =>
  body === undefined
    ? "(no body)"
    : typeof body === "string"
      ? JSON.stringify(body.length > 400 ? `${body.slice(0, 400)}…` : body)
      : `bytes ${Buffer.from(body).toString("hex").slice(0, 400)}`;

describe("API properties: any input, never a 5xx; a refusal writes nothing", () => {
  let h: TestHookline;
  let receiver: Receiver;

  /** One raw HTTP request: the body's bytes go out exactly as given. */
  async function send(
    method: string,
    path: string,
    options: { key?: string | null; body?: Body; headers?: Record<string, string> } = {},
  ): Promise<Answer> {
    const key = options.key === undefined ? h.keys.test : options.key;
    const response = await fetch(`${h.url}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...options.headers,
      },
      body: options.body,
    });
    const text = await response.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      // Left null: assertSane reports a 4xx whose body is not JSON.
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Every item of a paged list, as text: what changed shows as a difference. */
  async function everything(path: string, key: string): Promise<string> {
    const items: unknown[] = [];
    let after = "";
    for (;;) {
      const separator = path.includes("?") ? "&" : "?";
      const page = await send("GET", `${path}${separator}limit=250${after ? `&after=${after}` : ""}`, { key });
      assert.equal(page.status, 200, page.text);
      items.push(...page.json.data);
      if (!page.json.next_cursor) return JSON.stringify(items);
      after = page.json.next_cursor;
    }
  }

  /** A fresh account's TEST key: each property owns its data. */
  async function accountKey(name: string): Promise<string> {
    const created = await send("POST", "/v1/accounts", { key: h.keys.admin, body: JSON.stringify({ name }) });
    assert.equal(created.status, 201, created.text);
    return created.json.keys.test;
  }

  before(async () => {
    h = await startTestHookline();
    receiver = await startReceiver(answer(200, "ok"));
  });
  after(async () => {
    await receiver?.close();
    await h?.stop();
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("POST /v1/events: accepted as parsed (duplicate keys: the last; __proto__: kept as data), or refused and nothing stored", async () => {
    const key = await accountKey("properties: events");
    const newest = async () => (await send("GET", "/v1/events?limit=1", { key })).json.data[0]?.id ?? null;
    const bodies = fc.oneof(
      { weight: 10, arbitrary: bodyFrom(eventText) },
      { weight: 1, arbitrary: deep.map((d) => `{"type":"deep.one","data":{"a":${d.text}}}`) },
    );
    await fc.assert(
      fc.asyncProperty(bodies, async (body) => {
        const what = `POST /v1/events ${show(body)}`;
        const before = await newest();
        const answer = await send("POST", "/v1/events", { key, body });
        assertSane(answer, what);
        if (answer.status !== 202) {
          assert.equal(await newest(), before, `nothing is stored: ${what}`);
          return;
        }
        const sent = parsed(body);
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused, not replaced: ${what}`);
        assert.ok(!hasNonFinite(sent.data), `a number beyond a double is refused, not stored as null: ${what}`);
        if (answer.headers.get("idempotent-replayed") === "true") {
          // An idempotency key used earlier in this run answers that first event, unchanged.
          assert.ok(before !== null && answer.json.id <= before, `a replay answers an earlier event: ${what}`);
        } else {
          assert.equal(answer.json.type, sent.type, what);
          assert.equal(JSON.stringify(answer.json.data), JSON.stringify(sent.data), `stored as parsed: ${what}`);
          for (const k of Object.keys(sent.data)) assert.ok(Object.hasOwn(answer.json.data, k), `${k} kept: ${what}`);
          assert.equal(await newest(), answer.json.id, what);
        }
        const read = await send("GET", `/v1/events/${answer.json.id}`, { key });
        assert.equal(read.text, answer.text, `read back verbatim: ${what}`);
      }),
      {
        ...params,
        examples: [
          ['{"type":"proto.kept","data":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":1}}}}'],
          ['{"type":"a.b","type":"dup.last","data":{"k":1,"k":2},"data":{"k":3,"k":4}}'],
          ['{"type":"huge.number","data":{"n":1e400}}'],
          ['{"type":"big.integer","data":{"n":18446744073709551616,"m":-0,"u":1e-400}}'],
          [new Uint8Array(Buffer.from('{"type":"latin.one","data":{"name":"caf\xe9"}}', "latin1"))],
          [
            new Uint8Array(
              Buffer.concat([
                Buffer.from('{"type":"surrogate","data":{"s":"'),
                Buffer.from([0xed, 0xa0, 0x80]),
                Buffer.from('"}}'),
              ]),
            ),
          ],
        ],
      },
    );
  });

  it("deep nesting (10,000 levels and more) is refused with a 4xx on every route that takes JSON", async () => {
    const testKey = await accountKey("properties: deep");
    const depth = 10_000;
    const arrays = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const objects = `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    for (const nested of [arrays, objects]) {
      const cases: [string, string, string, string][] = [
        ["POST", "/v1/events", `{"type":"deep.one","data":{"a":${nested}}}`, testKey],
        ["POST", "/v1/events/batch", `{"events":[{"type":"deep.one","data":{"a":${nested}}}]}`, testKey],
        ["POST", "/v1/endpoints", `{"url":"http://127.0.0.1:9/","description":${nested}}`, testKey],
        ["POST", "/v1/event-types", `{"name":"deep.one","example":{"a":${nested}}}`, h.keys.admin],
        ["POST", "/v1/event-types", `{"name":"deep.one","example":{},"schema":{"a":${nested}}}`, h.keys.admin],
        ["POST", "/v1/accounts", `{"name":${nested}}`, h.keys.admin],
        ["POST", "/v1/sessions", `{"admin_key":${nested}}`, ""],
      ];
      for (const [method, route, body, key] of cases) {
        const answer = await send(method, route, { key, body });
        assertSane(answer, `${route} nested ${depth}`);
        assert.ok(answer.status >= 400 && answer.status < 500, `${route} nested ${depth} → ${answer.status}`);
      }
    }
    assert.equal((await send("GET", "/v1/events?limit=1", { key: testKey })).json.data.length, 0);
    assert.ok(!(await send("GET", "/v1/event-types/deep.one", { key: h.keys.admin })).text.includes('"a"'));
  });

  it("POST /v1/events/batch: all stored as parsed, or none", async () => {
    const key = await accountKey("properties: batch");
    const newest = async () => (await send("GET", "/v1/events?limit=1", { key })).json.data[0]?.id ?? null;
    const batchText = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.array(eventText, { maxLength: 5 }).map((events) => `{"events":[${events.join(",")}]}`),
      },
      { weight: 1, arbitrary: objectJsonText },
      { weight: 1, arbitrary: fc.array(eventText, { maxLength: 3 }).map((events) => `[${events.join(",")}]`) },
    );
    await fc.assert(
      fc.asyncProperty(bodyFrom(batchText), async (body) => {
        const what = `POST /v1/events/batch ${show(body)}`;
        const before = await newest();
        const answer = await send("POST", "/v1/events/batch", { key, body });
        assertSane(answer, what);
        if (answer.status !== 202) {
          assert.equal(await newest(), before, `nothing is stored: ${what}`);
          return;
        }
        const sent = parsed(body);
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused: ${what}`);
        assert.equal(answer.json.data.length, sent.events.length, what);
        const answered = new Set<string>();
        sent.events.forEach((event: { type: string; data: unknown }, i: number) => {
          assert.ok(!hasNonFinite(event.data), `a number beyond a double is refused: ${what}`);
          // An idempotency key used before (by an earlier run, or earlier in this batch) answers
          // that first event, unchanged.
          const id = answer.json.data[i].id;
          if ((before !== null && id <= before) || answered.has(id)) return;
          answered.add(id);
          assert.equal(answer.json.data[i].type, event.type, what);
          assert.equal(JSON.stringify(answer.json.data[i].data), JSON.stringify(event.data), `as parsed: ${what}`);
        });
      }),
      params,
    );
  });

  const durations = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom("5s", "1m", "1h*72", "7d", "0ms", "1.5h", "250ms*3") },
    fc.constantFrom("8d", "99999999999999999999d", "1s*99999999999999999999", "1e400s", "-1s", "1s*0", "", "1 h"),
    text,
  );
  /** An endpoint's fields: mostly well-formed, sometimes not; any may be absent, repeated, or of the wrong type. */
  function endpointText(urls: fc.Arbitrary<string>, url: [number, number]): fc.Arbitrary<string> {
    const field = <T>(name: string, good: fc.Arbitrary<T>, [weight, absent] = [1, 1]) =>
      present(
        fc.oneof(
          { weight: 12, arbitrary: good.map((v) => [name, JSON.stringify(v)] as [string, string]) },
          { weight: 1, arbitrary: fc.oneof(jsonText, number).map((v) => [name, v] as [string, string]) },
        ),
        weight,
        absent,
      );
    return fc
      .tuple(
        field("url", urls, url),
        field("description", text),
        field("event_types", fc.oneof(fc.constant(null), fc.array(eventType, { maxLength: 3 }))),
        field("rate_limit_per_s", fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 200_000 }))),
        field("max_in_flight", fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 20_000 }))),
        field("retry_schedule", fc.oneof(fc.constant(null), fc.array(durations, { maxLength: 4 }))),
        field("enabled", fc.boolean()),
        extraField,
        fc.boolean(),
      )
      .map(([...parts]) => {
        const duplicate = parts.pop() as boolean;
        return objectText(
          parts.filter((p): p is [string, string] => Array.isArray(p)),
          duplicate,
        );
      });
  }
  // Never a name to resolve: the egress guard would ask DNS.
  const urlOf = (r: Receiver) =>
    fc.oneof(
      {
        weight: 8,
        arbitrary: fc.constantFrom(`${r.url}/a`, `${r.url}/b?x=1`, "http://127.0.0.1:9/", "http://[::1]:9/"),
      },
      fc.constantFrom(
        "javascript:alert(1)",
        "ftp://127.0.0.1/",
        "http://",
        "http://169.254.169.254/latest",
        "file:///etc/passwd",
        `http://127.0.0.1:9/${"x".repeat(3000)}`,
        "http://127.0.0.1:99999/",
      ),
      text,
    );

  /** What an endpoint answer says about the fields sent, read as JSON.parse reads the body. */
  function assertEndpointAsSent(endpoint: any, sent: Record<string, unknown>, what: string) {
    for (const field of ["url", "description", "event_types", "rate_limit_per_s", "max_in_flight", "enabled"]) {
      if (Object.hasOwn(sent, field)) assert.deepEqual(endpoint[field], sent[field], `${field}: ${what}`);
    }
  }

  it("POST /v1/endpoints: created as sent, or refused and nothing created", async () => {
    const key = await accountKey("properties: endpoints");
    await fc.assert(
      fc.asyncProperty(bodyFrom(endpointText(urlOf(receiver), [9, 1])), async (body) => {
        const what = `POST /v1/endpoints ${show(body)}`;
        const before = await everything("/v1/endpoints", key);
        const answer = await send("POST", "/v1/endpoints", { key, body });
        assertSane(answer, what);
        if (answer.status !== 201) {
          assert.equal(await everything("/v1/endpoints", key), before, `nothing is created: ${what}`);
          return;
        }
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused: ${what}`);
        assertEndpointAsSent(answer.json, parsed(body), what);
        assert.equal((await send("DELETE", `/v1/endpoints/${answer.json.id}`, { key })).status, 204);
      }),
      params,
    );
  });

  it("PATCH /v1/endpoints/:id: changed as sent, or refused and unchanged", async () => {
    const key = await accountKey("properties: endpoint changes");
    const created = await send("POST", "/v1/endpoints", {
      key,
      body: JSON.stringify({ url: `${receiver.url}/patched`, event_types: ["never.sent"] }),
    });
    assert.equal(created.status, 201, created.text);
    const ids = fc.oneof(
      { weight: 6, arbitrary: fc.constant(created.json.id as string) },
      fc.constantFrom(
        "ep_missing",
        "x".repeat(65),
        "x".repeat(101),
        "%00",
        "..%2F..%2Fetc",
        "%E2%9C%93",
        "ep_%ZZ",
        "%ff",
      ),
      fc.string({ minLength: 1, maxLength: 12 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(ids, bodyFrom(endpointText(urlOf(receiver), [1, 3])), async (id, body) => {
        const what = `PATCH /v1/endpoints/${id} ${show(body)}`;
        const before = await everything("/v1/endpoints", key);
        const answer = await send("PATCH", `/v1/endpoints/${id}`, { key, body });
        assertSane(answer, what);
        if (answer.status !== 200) {
          assert.equal(await everything("/v1/endpoints", key), before, `nothing changes: ${what}`);
          return;
        }
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused: ${what}`);
        assertEndpointAsSent(answer.json, parsed(body), what);
      }),
      params,
    );
  });

  it("POST /v1/accounts (admin): created with the name sent, or refused and nothing created", async () => {
    const admin = h.keys.admin;
    const accountText = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(
            fc.oneof(
              text.map((s) => JSON.stringify(s)),
              jsonText,
            ),
            extraField,
            fc.boolean(),
          )
          .map(([name, extra, duplicate]) => objectText([["name", name], ...(extra ? [extra] : [])], duplicate)),
      },
      jsonText,
    );
    await fc.assert(
      fc.asyncProperty(bodyFrom(accountText), async (body) => {
        const what = `POST /v1/accounts ${show(body)}`;
        const before = await everything("/v1/accounts", admin);
        const answer = await send("POST", "/v1/accounts", { key: admin, body });
        assertSane(answer, what);
        if (answer.status !== 201) {
          assert.equal(await everything("/v1/accounts", admin), before, `nothing is created: ${what}`);
          return;
        }
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused: ${what}`);
        const read = await send("GET", `/v1/accounts/${answer.json.id}`, { key: admin });
        assert.equal(read.json.name, answer.json.name, what);
      }),
      params,
    );
  });

  it("POST /v1/event-types (admin): stored as parsed, or refused and the catalog unchanged", async () => {
    const admin = h.keys.admin;
    const schemas = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom("null", '{"type":"object"}', '{"type":"object","required":["a"]}') },
      fc.constantFrom(
        "null",
        '{"type":"object"}',
        '{"type":"object","required":["a"]}',
        '{"$ref":"#/nowhere"}',
        '{"$ref":"http://127.0.0.1:9/schema"}',
        '{"type":"string","pattern":"("}',
        '{"type":"object","properties":{"__proto__":{"type":"string"}}}',
        '{"type":"object","maximum":1e400}',
        '{"$id":"x","type":"object","properties":{"a":{"$ref":"x"}}}',
      ),
      objectJsonText,
      jsonText,
    );
    const eventTypeText = fc
      .tuple(
        typeText,
        sometimes(text.map((s) => JSON.stringify(s))),
        sometimes(schemas, 2),
        fc.oneof({ weight: 4, arbitrary: dataText }, jsonText),
        fc.boolean(),
      )
      .map(([name, description, schema, example, duplicate]) => {
        const entries: [string, string][] = [["name", name]];
        if (description !== undefined) entries.push(["description", description]);
        if (schema !== undefined) entries.push(["schema", schema]);
        entries.push(["example", example]);
        return objectText(entries, duplicate);
      });
    const catalog = async () => (await send("GET", "/v1/event-types", { key: admin })).text;
    await fc.assert(
      fc.asyncProperty(bodyFrom(eventTypeText), async (body) => {
        const what = `POST /v1/event-types ${show(body)}`;
        const before = await catalog();
        const answer = await send("POST", "/v1/event-types", { key: admin, body });
        assertSane(answer, what);
        if (answer.status !== 201) {
          assert.equal(await catalog(), before, `the catalog is unchanged: ${what}`);
          return;
        }
        const sent = parsed(body);
        assert.ok(isUtf8Text(body), `bytes that are not UTF-8 are refused: ${what}`);
        assert.ok(!hasNonFinite(sent), `a number beyond a double is refused: ${what}`);
        const read = await send("GET", `/v1/event-types/${encodeURIComponent(sent.name)}`, { key: admin });
        assert.equal(JSON.stringify(read.json.example), JSON.stringify(sent.example), `example as parsed: ${what}`);
        assert.equal(
          JSON.stringify(read.json.schema),
          JSON.stringify(sent.schema ?? null),
          `schema as parsed: ${what}`,
        );
      }),
      params,
    );
  });

  it("POST /v1/sessions and POST /v1/accounts/:id/portal-link: any body, no 5xx; a refusal sets no cookie", async () => {
    const id = (await send("POST", "/v1/accounts", { key: h.keys.admin, body: '{"name":"properties: portal"}' })).json
      .id;
    const credentials = fc.oneof(
      fc.constant(JSON.stringify(h.keys.admin)),
      fc.constantFrom('"hl_admin_"', '"plt_"', `"${"x".repeat(201)}"`),
      text.map((s) => JSON.stringify(s)),
      jsonText,
    );
    const loginText = fc
      .tuple(fc.constantFrom("admin_key", "portal_token"), credentials, extraField, fc.boolean())
      .map(([field, value, extra, duplicate]) => objectText([[field, value], ...(extra ? [extra] : [])], duplicate));
    await fc.assert(
      fc.asyncProperty(bodyFrom(fc.oneof({ weight: 4, arbitrary: loginText }, jsonText)), async (body) => {
        const what = `POST /v1/sessions ${show(body)}`;
        const answer = await send("POST", "/v1/sessions", { key: null, body });
        assertSane(answer, what);
        if (answer.status !== 201) assert.equal(answer.headers.get("set-cookie"), null, `no cookie: ${what}`);
      }),
      params,
    );
    const themeText = fc
      .tuple(
        present(
          fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom('"Acme Pay"', '"<b>Acme</b>"') },
            text.map((t) => JSON.stringify(t)),
            jsonText,
          ),
          2,
          1,
        ),
        present(
          fc.oneof(
            { weight: 4, arbitrary: fc.constantFrom('"#aa3300"', '"#FFFFFF"') },
            fc.constantFrom('"red"', '"#aa33001"', '"#aa3300;}"'),
            jsonText,
          ),
          2,
          1,
        ),
        sometimes(
          fc.constantFrom(
            '"https://x.test/l.png"',
            '"javascript:alert(1)"',
            '"data:x"',
            '"https://x.test/a b"',
            "1e400",
          ),
          3,
        ),
        extraField,
      )
      .map(([name, color, logo, extra]) =>
        objectText(
          [["product_name", name], ["accent_color", color], ["logo_url", logo], ...(extra ? [extra] : [])].filter(
            (e): e is [string, string] => e[1] !== undefined,
          ),
        ),
      );
    const expiresIn = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 60, max: 86_400 }).map(String) }, number);
    const linkText = fc
      .tuple(
        sometimes(expiresIn, 2),
        present(fc.oneof({ weight: 6, arbitrary: themeText }, jsonText), 2, 1),
        extraField,
      )
      .map(([expires, theme, extra]) =>
        objectText(
          [["expires_in_s", expires], ["theme", theme], ...(extra ? [extra] : [])].filter(
            (e): e is [string, string] => e[1] !== undefined,
          ),
        ),
      );
    await fc.assert(
      fc.asyncProperty(bodyFrom(fc.oneof({ weight: 4, arbitrary: linkText }, jsonText)), async (body) => {
        const what = `POST /v1/accounts/${id}/portal-link ${show(body)}`;
        const answer = await send("POST", `/v1/accounts/${id}/portal-link`, { key: h.keys.admin, body });
        assertSane(answer, what);
        if (answer.status === 201) assert.match(answer.json.url, /\/portal#plt_/, what);
      }),
      params,
    );
  });

  it("deliveries: retry, bulk retry and recover take any body; a refusal changes no delivery", async () => {
    const key = await accountKey("properties: deliveries");
    const endpoint = await send("POST", "/v1/endpoints", { key, body: JSON.stringify({ url: `${receiver.url}/d` }) });
    assert.equal(endpoint.status, 201, endpoint.text);
    const event = await send("POST", "/v1/events", { key, body: '{"type":"fixture.sent","data":{}}' });
    const deliveries = async () => (await send("GET", `/v1/events/${event.json.id}/deliveries`, { key })).json.data;
    const settled = () =>
      eventually(
        async () => {
          const list = await deliveries();
          return list.length === 1 && list[0].status === "succeeded" ? JSON.stringify(list) : undefined;
        },
        10_000,
        "the fixture's delivery to succeed",
      );
    const deliveryId = JSON.parse(await settled())[0].id as string;
    const timestamp = fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .date({ min: new Date(0), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
          .map((d) => d.toISOString()),
      },
      fc.constantFrom(
        "2016-12-31T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "2020-01-01t00:00:00z",
        "2020-02-30T00:00:00Z",
        "2020-01-01T00:00:00+2359",
        "2020-01-01T24:00:00Z",
        "2020-01-01",
        "now",
      ),
    );
    const recoverText = fc
      .tuple(present(timestamp, 9, 1), sometimes(timestamp, 2), fc.boolean())
      .map(([since, until, duplicate]) =>
        objectText(
          [
            ["since", since === undefined ? undefined : JSON.stringify(since)],
            ["until", until === undefined ? undefined : JSON.stringify(until)],
          ].filter((e): e is [string, string] => e[1] !== undefined),
          duplicate,
        ),
      );
    const routes = fc.oneof(
      fc.constant({ path: `/v1/deliveries/${deliveryId}/retry`, body: bodyFrom(jsonText) }),
      fc.constant({
        path: "/v1/deliveries/retry",
        body: bodyFrom(fc.oneof(fc.constantFrom('{"status":"pending"}', '{"status":"failed"}'), jsonText)),
      }),
      fc.constant({ path: `/v1/endpoints/${endpoint.json.id}/recover`, body: bodyFrom(recoverText) }),
      fc.constant({ path: "/v1/deliveries/dlv_missing/retry", body: bodyFrom(jsonText) }),
    );
    await fc.assert(
      fc.asyncProperty(
        routes.chain((route) => fc.tuple(fc.constant(route.path), route.body)),
        async ([path, body]) => {
          const what = `POST ${path} ${show(body)}`;
          const before = await settled();
          const answer = await send("POST", path, { key, body });
          assertSane(answer, what);
          if (answer.status >= 400) assert.equal(JSON.stringify(await deliveries()), before, `unchanged: ${what}`);
          else await settled();
        },
      ),
      {
        ...params,
        numRuns: 100,
        // Leap seconds: RFC 3339 has them, Date.parse does not (PostgreSQL answered NaN with a 500).
        examples: [
          [[`/v1/endpoints/${endpoint.json.id}/recover`, '{"since":"2016-12-31T23:59:60Z"}']],
          [
            [
              `/v1/endpoints/${endpoint.json.id}/recover`,
              '{"since":"2016-12-31T23:59:59Z","until":"2099-12-31T23:59:60.5Z"}',
            ],
          ],
        ],
      },
    );
  });

  it("list routes: any query string is a 200 page or a 4xx, never a 5xx", async () => {
    const key = await accountKey("properties: lists");
    const endpoint = await send("POST", "/v1/endpoints", { key, body: JSON.stringify({ url: `${receiver.url}/l` }) });
    const event = await send("POST", "/v1/events", { key, body: '{"type":"fixture.listed","data":{"n":1}}' });
    const [delivery] = await eventually(async () => {
      const list = (await send("GET", `/v1/events/${event.json.id}/deliveries`, { key })).json.data;
      return list.length > 0 ? list : undefined;
    });
    const lists: [string, string][] = [
      ["/v1/events", key],
      ["/v1/endpoints", key],
      ["/v1/accounts", h.keys.admin],
      [`/v1/deliveries/${delivery.id}/attempts`, key],
      [`/v1/events/${event.json.id}/deliveries`, key],
      ["/v1/event-types", key],
      [`/v1/endpoints/${endpoint.json.id}/stats`, key],
    ];
    const names = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("limit", "after", "type", "delivery_status", "since", "until") },
      fc.constantFrom("__proto__", "constructor", "__proto__[polluted]", "constructor[prototype][polluted]", "a[]"),
      fc.string({ maxLength: 8 }),
    );
    const values = fc.oneof(
      fc.constantFrom("0", "1", "250", "251", "9999", "99999", "-1", "1e400", "18446744073709551616", "NaN", ""),
      fc.constantFrom("2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "2020-01-01t00:00:00z", "2020-02-30T00:00:00Z"),
      fc.constantFrom("pending", "succeeded", "evt_", "evt_zzzzzzzzzzzzzzzzzzzzzzzzzz", "x".repeat(65), "a.b"),
      fc.string({ maxLength: 12 }),
      fc.string({ unit: "binary", maxLength: 12 }),
    );
    const pair = fc.tuple(names, values, fc.boolean()).map(([name, value, raw]) =>
      // Raw: as typed, percent signs and all (broken escapes such as %ZZ or %ff reach the parser).
      raw
        ? `${name}=${value}`.replace(/[#\s]/g, encodeURIComponent)
        : `${encodeURIComponent(name)}=${encodeURIComponent(value)}`,
    );
    const garbage = fc.constantFrom(
      "%",
      "%ZZ",
      "%ff",
      "%ed%a0%80",
      "%00",
      "&&&",
      "==",
      "limit=1&limit=2",
      "a=%E0%A4%A",
    );
    const query = fc.array(fc.oneof({ weight: 5, arbitrary: pair }, garbage), { maxLength: 4 }).map((p) => p.join("&"));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...lists), query, async ([route, routeKey], q) => {
        const what = `GET ${route}?${q}`;
        const answer = await send("GET", `${route}?${q}`, { key: routeKey });
        assertSane(answer, what);
        if (answer.status === 200) assert.ok(answer.json && typeof answer.json === "object", what);
      }),
      {
        ...params,
        numRuns: 200,
        examples: [
          [["/v1/events", key], "since=2016-12-31T23:59:60Z"],
          [["/v1/events", key], "until=2099-12-31T23:59:60.5Z&since=0000-01-01T00:00:00Z"],
          [["/v1/events", key], "since=%ff&after=%ZZ"],
        ],
      },
    );
    const leap = await send("GET", "/v1/events?until=2099-12-31T23:59:60Z", { key });
    assert.deepEqual(
      leap.json.data.map((e: { id: string }) => e.id),
      [event.json.id],
      "a leap second is a time like any other",
    );
  });

  it("routes that take no body: any body, any id, never a 5xx", async () => {
    const key = await accountKey("properties: no body");
    const endpoint = await send("POST", "/v1/endpoints", {
      key,
      body: JSON.stringify({ url: `${receiver.url}/n`, event_types: ["never.sent"] }),
    });
    const ids = fc.oneof(fc.constant(endpoint.json.id as string), fc.constantFrom("ep_missing", "%00", "x".repeat(65)));
    const routes = fc.constantFrom("rotate-secret", "test");
    await fc.assert(
      fc.asyncProperty(routes, ids, bodyFrom(jsonText), async (route, id, body) => {
        const what = `POST /v1/endpoints/${id}/${route} ${show(body)}`;
        assertSane(await send("POST", `/v1/endpoints/${id}/${route}`, { key, body }), what);
      }),
      { ...params, numRuns: 60 },
    );
    assert.equal((await apiClient(h.url).get("/healthz")).status, 200);
  });
});
