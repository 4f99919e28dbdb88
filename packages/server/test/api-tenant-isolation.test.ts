import assert from "node:assert/strict";
import { channel } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance, RouteOptions } from "fastify";
import WebSocket from "ws";
import { assertError, deliveriesOf } from "./helpers/api.ts";
import { type ApiClient, apiClient, eventually, type Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

/**
 * Tenant isolation, route by route (issue 7): one account's keys, portal session and
 * the operator acting in it never reach another account's rows, and a TEST key never
 * reaches LIVE rows (nor the reverse). Account A owns the rows; everyone else probes
 * them with A's ids in paths, bodies, filters and cursors. Every probe must be a 404
 * (or the caller's own rows), no answer may carry anything of A's, and A's rows must
 * be exactly as they were afterwards. The table must name every route the server
 * registers, so a route added without a row fails here.
 */

type Environment = "test" | "live";
type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** One account's rows in one environment, as the probes name them. */
interface Rows {
  accountId: string;
  endpointIds: string[];
  eventId: string;
  eventType: string;
  eventCreatedAt: string;
  idempotencyKey: string;
  deliveryIds: string[];
  attemptIds: string[];
  /** Where the account's endpoints point (a loopback receiver). */
  url: string;
  /** What must never appear in an answer to anyone else: ids, signing secrets, the event's data. */
  values: string[];
}

interface Caller {
  name: string;
  account: "A" | "B";
  environment: Environment;
  kind: "key" | "portal" | "operator";
  /** Sent on every request (and on the WebSocket upgrade). */
  headers: Record<string, string>;
}

interface Probe {
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A list: follow `next_cursor` one row at a time, to the last page. */
  pages?: true;
  /** A row of the caller's own the list must hold (it lists something, not nothing). */
  lists?: string;
}

interface Row {
  method: Method;
  /** The path exactly as the route is registered. */
  route: string;
  access: "account" | "admin" | "catalog" | "session" | "public";
  /** Why the route is not probed (public, or nothing of an account's to name). */
  exempt?: string;
  /** The route naming rows of one of A's environments: a 404 for anyone who may not see them. */
  foreign?: (a: Rows) => Probe[];
  /** The caller's own use of the route, carrying A's values: the answer holds the caller's rows only. */
  own?: (a: Rows, mine: Rows) => Probe[];
  /** The status `own` probes get, when it is not a 2xx. */
  ownStatus?: (caller: Caller) => number | undefined;
}

const LONG_AGO = "2000-01-01T00:00:00.000Z";

const ROUTES: Row[] = [
  // Account routes.
  {
    method: "POST",
    route: "/v1/endpoints",
    access: "account",
    own: (_a, mine) => [{ path: "/v1/endpoints", body: { url: `${mine.url}/created`, description: "own" } }],
  },
  {
    method: "GET",
    route: "/v1/endpoints",
    access: "account",
    own: (a, mine) => [
      { path: "/v1/endpoints", pages: true, lists: mine.endpointIds[0] },
      ...a.endpointIds.map((id) => ({ path: `/v1/endpoints?after=${id}`, pages: true as const })),
    ],
  },
  {
    method: "GET",
    route: "/v1/endpoints/:id",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}` })),
  },
  {
    method: "GET",
    route: "/v1/endpoints/:id/stats",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}/stats` })),
  },
  {
    method: "PATCH",
    route: "/v1/endpoints/:id",
    access: "account",
    foreign: (a) =>
      a.endpointIds.flatMap((id) => [
        { path: `/v1/endpoints/${id}`, body: { description: "taken over" } },
        { path: `/v1/endpoints/${id}`, body: { enabled: false } },
        { path: `/v1/endpoints/${id}`, body: { url: "http://127.0.0.1:9/taken-over", event_types: ["x.y"] } },
      ]),
  },
  {
    method: "DELETE",
    route: "/v1/endpoints/:id",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}` })),
  },
  {
    method: "POST",
    route: "/v1/endpoints/:id/rotate-secret",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}/rotate-secret`, body: {} })),
  },
  {
    method: "POST",
    route: "/v1/endpoints/:id/test",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}/test`, body: {} })),
  },
  {
    method: "POST",
    route: "/v1/endpoints/:id/recover",
    access: "account",
    foreign: (a) => a.endpointIds.map((id) => ({ path: `/v1/endpoints/${id}/recover`, body: { since: LONG_AGO } })),
    // The caller's own endpoint, over a window that holds A's failed deliveries.
    own: (_a, mine) => [{ path: `/v1/endpoints/${mine.endpointIds[0]}/recover`, body: { since: LONG_AGO } }],
  },
  {
    method: "POST",
    route: "/v1/events",
    access: "account",
    // A's idempotency key, in the body and in the header: a new event of the caller's, never a replay of A's.
    own: (a) => [
      { path: "/v1/events", body: { type: "own.thing", data: {}, idempotency_key: a.idempotencyKey } },
      { path: "/v1/events", body: { type: "own.thing", data: {} }, headers: { "idempotency-key": a.idempotencyKey } },
    ],
  },
  {
    method: "POST",
    route: "/v1/events/batch",
    access: "account",
    own: (a) => [
      {
        path: "/v1/events/batch",
        body: { events: [{ type: "own.thing", data: {}, idempotency_key: a.idempotencyKey }] },
      },
    ],
  },
  {
    method: "GET",
    route: "/v1/events",
    access: "account",
    own: (a, mine) => {
      const at = Date.parse(a.eventCreatedAt);
      const since = new Date(at - 1).toISOString();
      const until = new Date(at + 1).toISOString();
      return [
        { path: "/v1/events", pages: true, lists: mine.eventId },
        { path: `/v1/events?after=${a.eventId}`, pages: true },
        { path: `/v1/events?type=${a.eventType}`, pages: true },
        { path: `/v1/events?since=${since}&until=${until}`, pages: true },
        { path: "/v1/events?delivery_status=failed", pages: true },
        { path: "/v1/events?delivery_status=pending", pages: true },
      ];
    },
  },
  {
    method: "GET",
    route: "/v1/events/:id",
    access: "account",
    foreign: (a) => [{ path: `/v1/events/${a.eventId}` }],
  },
  {
    method: "GET",
    route: "/v1/events/:id/deliveries",
    access: "account",
    foreign: (a) => [{ path: `/v1/events/${a.eventId}/deliveries` }],
  },
  {
    method: "GET",
    route: "/v1/deliveries/:id",
    access: "account",
    foreign: (a) => a.deliveryIds.map((id) => ({ path: `/v1/deliveries/${id}` })),
  },
  {
    method: "GET",
    route: "/v1/deliveries/:id/attempts",
    access: "account",
    foreign: (a) => a.deliveryIds.map((id) => ({ path: `/v1/deliveries/${id}/attempts` })),
    // The caller's own delivery, with A's attempt ids as the cursor.
    own: (a, mine) =>
      a.attemptIds.map((id) => ({ path: `/v1/deliveries/${mine.deliveryIds[0]}/attempts?after=${id}` })),
  },
  {
    method: "POST",
    route: "/v1/deliveries/:id/retry",
    access: "account",
    foreign: (a) => a.deliveryIds.map((id) => ({ path: `/v1/deliveries/${id}/retry`, body: {} })),
  },
  {
    method: "POST",
    route: "/v1/deliveries/retry",
    access: "account",
    own: () => [{ path: "/v1/deliveries/retry", body: { status: "pending" } }],
    ownStatus: (caller) => (caller.environment === "live" ? 403 : undefined),
  },
  // The WebSocket: probed by its own case below (the table row keeps it counted).
  { method: "GET", route: "/v1/listen", access: "account" },
  // The event-type catalog is the operator's, the same for every account: it must hold nothing of A's.
  {
    method: "GET",
    route: "/v1/event-types",
    access: "catalog",
    own: () => [{ path: "/v1/event-types" }],
  },
  {
    method: "GET",
    route: "/v1/event-types/:name",
    access: "catalog",
    own: () => [{ path: "/v1/event-types/transfer.completed" }],
  },
  // Operator routes: a 403 for every account key and portal session, A's ids or not.
  {
    method: "POST",
    route: "/v1/accounts",
    access: "admin",
    foreign: () => [{ path: "/v1/accounts", body: { name: "x" } }],
  },
  { method: "GET", route: "/v1/accounts", access: "admin", foreign: () => [{ path: "/v1/accounts" }] },
  {
    method: "GET",
    route: "/v1/accounts/:id",
    access: "admin",
    foreign: (a) => [{ path: `/v1/accounts/${a.accountId}` }],
  },
  {
    method: "POST",
    route: "/v1/accounts/:id/portal-link",
    access: "admin",
    foreign: (a) => [{ path: `/v1/accounts/${a.accountId}/portal-link`, body: {} }],
  },
  {
    method: "POST",
    route: "/v1/event-types",
    access: "admin",
    foreign: () => [{ path: "/v1/event-types", body: { name: "taken.over", example: {} } }],
  },
  // Sessions: named by their cookie only.
  {
    method: "GET",
    route: "/v1/session",
    access: "session",
    own: () => [{ path: "/v1/session" }],
    ownStatus: (caller) => (caller.kind === "key" ? 401 : undefined),
  },
  {
    method: "DELETE",
    route: "/v1/session",
    access: "session",
    exempt: "ends the caller's own session, named by its cookie alone (api-sessions.test.ts)",
  },
  {
    method: "POST",
    route: "/v1/sessions",
    access: "public",
    exempt: "the login: takes the admin key or a one-time portal token, names no row (api-sessions.test.ts)",
  },
  // Public: no account data.
  { method: "GET", route: "/healthz", access: "public", exempt: "liveness probe" },
  { method: "GET", route: "/readyz", access: "public", exempt: "readiness probe" },
  {
    method: "GET",
    route: "/openapi.json",
    access: "public",
    exempt: "the API's OpenAPI document (api-openapi.test.ts)",
  },
  { method: "GET", route: "/docs", access: "public", exempt: "the API reference page (api-openapi.test.ts)" },
  { method: "GET", route: "/metrics", access: "public", exempt: "Prometheus totals, no account in any label" },
  ...["/", "/login", "/accounts", "/accounts/*", "/portal", "/portal/*", "/assets/*"].map(
    (route): Row => ({
      method: "GET",
      route,
      access: "public",
      exempt: "the dashboard's static page or asset; its data comes from the API routes above",
    }),
  ),
];

describe("tenant isolation: every API route, probed with another account's and environment's ids", () => {
  let h: TestHookline;
  const registered: string[] = [];
  let receiverA: Receiver;
  let receiverB: Receiver;
  let a: Account;
  let b: Account;
  const rowsA = {} as Record<Environment, Rows>;
  const rowsB = {} as Record<Environment, Rows>;
  const callers: Caller[] = [];
  let snapshot: unknown;

  interface Account {
    id: string;
    keys: Record<Environment, string>;
    test: ApiClient;
    live: ApiClient;
  }

  before(async () => {
    // Fastify announces each new instance before any route is added: note every route it registers.
    const onInit = (message: unknown) => {
      const { fastify } = message as { fastify: FastifyInstance };
      fastify.addHook("onRoute", (route: RouteOptions) => {
        for (const method of [route.method].flat()) registered.push(`${method} ${route.url}`);
      });
    };
    const init = channel("fastify.initialization");
    init.subscribe(onInit);
    try {
      h = await startTestHookline({ HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32" });
    } finally {
      init.unsubscribe(onInit);
    }
    receiverA = await startReceiver(answer(500));
    receiverB = await startReceiver(answer(204));
    a = await account("tenant A");
    b = await account("tenant B");
    for (const environment of ["test", "live"] as const) {
      // A: an endpoint that failed for good and one that waits an hour for its next attempt.
      rowsA[environment] = await seed(a, environment, `${receiverA.url}/a-${environment}`, [[], ["1h"]]);
      rowsB[environment] = await seed(b, environment, `${receiverB.url}/b-${environment}`, [[]]);
    }
    // And A's `hookline listen` endpoint, made after its events so it has no deliveries.
    const listen = await openListen({ authorization: `Bearer ${a.keys.test}` });
    assert.equal(listen.status, 101, JSON.stringify(listen.body));
    rowsA.test.endpointIds.push(listen.body.endpoint_id);
    rowsA.test.values.push(listen.body.endpoint_id, listen.body.secret);

    const portalA = await portalSession(a.id);
    const portalB = await portalSession(b.id);
    const login = await apiClient(h.url).post("/v1/sessions", { admin_key: h.keys.admin });
    assert.equal(login.status, 201, JSON.stringify(login.body));
    const operator = { cookie: cookieOf(login), "x-csrf-token": login.body.csrf_token as string };
    for (const environment of ["test", "live"] as const) {
      const env = { "hookline-environment": environment };
      callers.push(
        { name: `B's ${environment} key`, account: "B", environment, kind: "key", headers: bearer(b, environment) },
        {
          name: `B's portal session in ${environment} (naming A in hookline-account)`,
          account: "B",
          environment,
          kind: "portal",
          headers: { ...portalB, ...env, "hookline-account": a.id },
        },
        {
          name: `the operator's session in B's ${environment}`,
          account: "B",
          environment,
          kind: "operator",
          headers: { ...operator, ...env, "hookline-account": b.id },
        },
        { name: `A's ${environment} key`, account: "A", environment, kind: "key", headers: bearer(a, environment) },
        {
          name: `A's portal session in ${environment}`,
          account: "A",
          environment,
          kind: "portal",
          headers: { ...portalA, ...env },
        },
      );
    }
    snapshot = await snapshotOfA();
  });

  after(async () => {
    await h?.stop();
    await receiverA?.close();
    await receiverB?.close();
  });

  async function account(name: string): Promise<Account> {
    const created = await h.admin.post("/v1/accounts", { name });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const keys = created.body.keys as Record<Environment, string>;
    return { id: created.body.id, keys, test: apiClient(h.url, keys.test), live: apiClient(h.url, keys.live) };
  }

  function bearer(owner: Account, environment: Environment) {
    return { authorization: `Bearer ${owner.keys[environment]}` };
  }

  /** A portal session made from a link the operator made for the account: its cookie and CSRF header. */
  async function portalSession(accountId: string) {
    const link = await h.admin.post(`/v1/accounts/${accountId}/portal-link`, {});
    assert.equal(link.status, 201, JSON.stringify(link.body));
    const token = new URL(link.body.url).hash.slice(1);
    const session = await apiClient(h.url).post("/v1/sessions", { portal_token: token });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    return {
      cookie: cookieOf(session),
      "x-csrf-token": session.body.csrf_token as string,
      "hookline-session": "portal",
    };
  }

  /** Endpoints, one event fanned out to them, and the first attempt of each delivery, settled. */
  async function seed(owner: Account, environment: Environment, url: string, schedules: string[][]): Promise<Rows> {
    const client = owner[environment];
    const endpoints = [];
    for (const [index, retry_schedule] of schedules.entries()) {
      const created = await client.post("/v1/endpoints", { url: `${url}/${index}`, retry_schedule });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      endpoints.push(created.body as { id: string; secret: string });
    }
    const label = owner === a ? "a" : "b";
    const marker = `marker-${label}-${environment}-${owner.id}`;
    const eventType = `${label}.${environment}_thing`;
    const idempotencyKey = `idem-${label}-${environment}`;
    const event = await client.post("/v1/events", {
      type: eventType,
      data: { marker },
      idempotency_key: idempotencyKey,
    });
    assert.equal(event.status, 202, JSON.stringify(event.body));
    const deliveries = await eventually(
      async () => {
        const list = await deliveriesOf(client, event.body.id);
        const settled = list.every((d) => d.attempt_count === 1 && d.status !== "delivering");
        return list.length === schedules.length && settled ? list : undefined;
      },
      10_000,
      `the first attempts in ${label}'s ${environment}`,
    );
    const attemptIds: string[] = [];
    for (const delivery of deliveries) {
      const attempts = await client.get(`/v1/deliveries/${delivery.id}/attempts`);
      attemptIds.push(...attempts.body.data.map((attempt: { id: string }) => attempt.id));
    }
    const endpointIds = endpoints.map((endpoint) => endpoint.id);
    const deliveryIds = deliveries.map((delivery) => delivery.id);
    return {
      accountId: owner.id,
      endpointIds,
      eventId: event.body.id,
      eventType,
      eventCreatedAt: event.body.created_at,
      idempotencyKey,
      deliveryIds,
      attemptIds,
      url,
      values: [
        ...endpointIds,
        ...endpoints.map((endpoint) => endpoint.secret),
        event.body.id,
        marker,
        ...deliveryIds,
        ...attemptIds,
        url,
      ],
    };
  }

  function call(caller: Caller, method: Method, probe: Probe): Promise<Response> {
    return apiClient(h.url).call(method, probe.path, probe.body, { ...caller.headers, ...probe.headers });
  }

  /** A's rows the caller may not see: A's other environment, or all of A's for anyone else. */
  function hiddenFrom(caller: Caller): Rows[] {
    if (caller.account === "A") return [rowsA[caller.environment === "test" ? "live" : "test"]];
    return [rowsA.test, rowsA.live];
  }

  function mineOf(caller: Caller): Rows {
    return (caller.account === "A" ? rowsA : rowsB)[caller.environment];
  }

  /** No answer holds anything of A's that the caller may not see, unless the caller sent it itself. */
  function assertNoLeak(caller: Caller, probe: Probe, body: unknown, what: string) {
    const sent = `${probe.path} ${JSON.stringify(probe.body ?? null)} ${JSON.stringify(probe.headers ?? {})}`;
    const text = JSON.stringify(body ?? null);
    const values = hiddenFrom(caller).flatMap((rows) => rows.values);
    if (caller.account === "B") values.push(a.id);
    for (const value of values) {
      if (!sent.includes(value)) assert.ok(!text.includes(value), `${what}: the answer holds ${value} of A's: ${text}`);
    }
  }

  /** A list, one row a page, to its last page: no row of A's on any page. */
  async function everyPage(caller: Caller, probe: Probe, what: string) {
    const hidden = new Set(hiddenFrom(caller).flatMap((rows) => rows.values));
    const url = new URL(probe.path, h.url);
    url.searchParams.set("limit", "1");
    const listed: string[] = [];
    for (let page = 0; ; page++) {
      assert.ok(page < 500, `${what}: the list does not end`);
      const response = await call(caller, "GET", { path: `${url.pathname}${url.search}` });
      assert.equal(response.status, 200, `${what}: ${JSON.stringify(response.body)}`);
      assertNoLeak(caller, probe, response.body, what);
      for (const row of response.body.data as { id: string }[]) {
        assert.ok(!hidden.has(row.id), `${what}: A's ${row.id} is listed`);
        listed.push(row.id);
      }
      if (response.body.next_cursor === null) break;
      url.searchParams.set("after", response.body.next_cursor);
    }
    if (probe.lists) assert.ok(listed.includes(probe.lists), `${what}: the caller's own ${probe.lists} is listed`);
  }

  /** Everything of A's a probe could change, read with A's own keys; and the accounts and the catalog. */
  async function snapshotOfA() {
    const all = async (client: ApiClient, path: string) => {
      const rows = [];
      let cursor = "";
      for (;;) {
        const page = await client.get(`${path}?limit=250&after=${cursor}`);
        assert.equal(page.status, 200, JSON.stringify(page.body));
        rows.push(...page.body.data);
        if (page.body.next_cursor === null) return rows;
        cursor = page.body.next_cursor;
      }
    };
    const state: Record<string, unknown> = {
      accounts: await all(h.admin, "/v1/accounts"),
      eventTypes: (await h.admin.get("/v1/event-types")).body,
    };
    for (const environment of ["test", "live"] as const) {
      const client = a[environment];
      const endpoints = await all(client, "/v1/endpoints");
      const events = await all(client, "/v1/events");
      const deliveries = [];
      for (const event of events) deliveries.push(...(await deliveriesOf(client, event.id)));
      const attempts = [];
      for (const delivery of deliveries) attempts.push(await all(client, `/v1/deliveries/${delivery.id}/attempts`));
      state[environment] = { endpoints, events, deliveries, attempts };
    }
    return state;
  }

  async function assertAUnchanged() {
    assert.deepEqual(await snapshotOfA(), snapshot, "A's rows (and the accounts and the catalog) are as they were");
    // Only the first attempts of A's two deliveries in each environment ever reached A's receiver.
    assert.equal(receiverA.requests.length, 4);
  }

  /** `GET /v1/listen` as `hookline listen` opens it: the `ready` message, or the refusal before the upgrade. */
  function openListen(headers: Record<string, string>): Promise<{ status: number; body: any }> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`${h.url.replace(/^http/, "ws")}/v1/listen`, { headers });
      let settled = false;
      const settle = (result: { status: number; body: any }) => {
        settled = true;
        resolve(result);
      };
      socket.on("unexpected-response", (_request, response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk;
        });
        response.on("end", () => {
          settle({ status: response.statusCode ?? 0, body: JSON.parse(text) });
          socket.terminate();
        });
      });
      socket.on("message", (data) => {
        const message = JSON.parse(String(data));
        if (message.type !== "ready" || settled) return;
        settle({ status: 101, body: message });
        socket.close();
      });
      socket.on("error", (error) => {
        if (!settled) reject(error);
      });
      socket.on("close", () => {
        if (!settled) reject(new Error("the listen socket closed before it was ready"));
      });
    });
  }

  it("has a row for every route the server registered, and probes every account route", () => {
    // HEAD routes are Fastify's automatic twins of the GET routes.
    const actual = [...new Set(registered.filter((route) => !route.startsWith("HEAD ")))].sort();
    const table = ROUTES.map((row) => `${row.method} ${row.route}`).sort();
    assert.deepEqual(table, actual, "every registered route needs a row in ROUTES: probed, or exempt with a reason");
    for (const row of ROUTES) {
      const name = `${row.method} ${row.route}`;
      if (row.exempt !== undefined) {
        assert.ok(
          row.access === "public" || row.access === "session",
          `${name}: only public and session routes are exempt`,
        );
      } else if (row.route !== "/v1/listen") {
        assert.ok(row.foreign || row.own, `${name} is probed`);
      }
      if (row.access === "account" && row.route.includes(":")) assert.ok(row.foreign, `${name} is probed with A's ids`);
    }
  });

  for (const row of ROUTES.filter((row) => row.exempt === undefined && row.route !== "/v1/listen")) {
    it(`${row.method} ${row.route}`, async () => {
      if (row.foreign && row.access === "account" && row.method === "GET") {
        // The control: the very same reads with A's own keys find the rows, so every 404 below is the isolation's.
        for (const environment of ["test", "live"] as const) {
          for (const probe of row.foreign(rowsA[environment])) {
            const own = await a[environment].get(probe.path);
            assert.equal(own.status, 200, `A's ${environment} key: GET ${probe.path}: ${JSON.stringify(own.body)}`);
          }
        }
      }
      for (const caller of callers) {
        if (row.foreign && row.access === "admin") {
          // Operator routes: a 403 for every account key and portal session (the operator's session may use them).
          if (caller.kind === "operator") continue;
          for (const probe of row.foreign(rowsA.test)) {
            const response = await call(caller, row.method, probe);
            assertError(response, 403, "forbidden");
            assertNoLeak(caller, probe, response.body, `${caller.name}: ${row.method} ${probe.path}`);
          }
        } else if (row.foreign) {
          for (const target of hiddenFrom(caller)) {
            for (const probe of row.foreign(target)) {
              const response = await call(caller, row.method, probe);
              assertError(response, 404, "not_found");
              assertNoLeak(caller, probe, response.body, `${caller.name}: ${row.method} ${probe.path}`);
            }
          }
        }
        // A's own keys and sessions only read here: a change they made to their own rows would be theirs to make.
        const own = row.own;
        if (!own || (caller.account === "A" && row.method !== "GET")) continue;
        for (const target of hiddenFrom(caller)) {
          const probes: Probe[] = own(target, mineOf(caller));
          for (const probe of probes) {
            const what: string = `${caller.name}: ${row.method} ${probe.path} ${JSON.stringify(probe.body ?? "")}`;
            if (probe.pages) {
              await everyPage(caller, probe, what);
              continue;
            }
            const response = await call(caller, row.method, probe);
            const status = row.ownStatus?.(caller);
            if (status === undefined) {
              assert.ok(response.status >= 200 && response.status < 300, `${what}: ${JSON.stringify(response.body)}`);
              if (typeof response.body?.environment === "string") {
                assert.equal(
                  response.body.environment,
                  caller.environment,
                  `${what}: made in the caller's environment`,
                );
              }
            } else {
              assert.equal(response.status, status, `${what}: ${JSON.stringify(response.body)}`);
            }
            assertNoLeak(caller, probe, response.body, what);
          }
        }
      }
      await assertAUnchanged();
    });
  }

  it("GET /v1/listen (WebSocket): the caller's own listen endpoint in TEST, refused in LIVE", async () => {
    // A's TEST key and session would open A's own listen endpoint; theirs to open.
    for (const caller of callers.filter((c) => !(c.account === "A" && c.environment === "test"))) {
      const what = `${caller.name}: GET /v1/listen`;
      const opened = await openListen(caller.headers);
      if (caller.environment === "live") {
        assert.equal(opened.status, 403, `${what}: ${JSON.stringify(opened.body)}`);
        assert.equal(opened.body.error.code, "test_key_required");
        continue;
      }
      assert.equal(opened.status, 101, `${what}: ${JSON.stringify(opened.body)}`);
      assertNoLeak(caller, { path: "/v1/listen" }, opened.body, what);
      const endpoint = await call(caller, "GET", { path: `/v1/endpoints/${opened.body.endpoint_id}` });
      assert.equal(endpoint.status, 200, `${what}: the listen endpoint is the caller's own`);
      assert.equal(endpoint.body.kind, "listen");
    }
    await assertAUnchanged();
  });
});

function cookieOf(response: Response): string {
  return (response.headers.get("set-cookie") ?? "").split(";")[0] as string;
}
