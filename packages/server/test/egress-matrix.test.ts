import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { type AddressInfo, isIP } from "node:net";
import { after, before, describe, it } from "node:test";
import type { LookupAll } from "../src/delivery/egress-guard.ts";
import { newSigningSecret } from "../src/ids.ts";
import { type AttemptJson, attemptsOf, type DeliveryJson, newAccount } from "./helpers/api.ts";
import { type ApiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline } from "./helpers/hookline.ts";

// The SSRF matrix of issue 7: every way of pointing an endpoint at this machine (or at
// metadata, private and special ranges) must fail to connect. Sentinel listeners on
// loopback count TCP connections and must see none. A row is refused when the endpoint is
// created (422 url_rejected), and, where the target is on loopback, the same URL saved
// straight into the store (as if written before the rules tightened) still fails each
// attempt with `blocked`. Rows that only a connection can catch (DNS answers that change)
// use an injected resolver, so no test ever queries real DNS.
//
// Nothing here may send traffic off loopback. Connect-time rows therefore only use
// addresses that stay on this machine; the one exception is an answer that mixes a public
// address with loopback, which the guard refuses as a whole before any socket is opened.

/** Publicly routed addresses (example.com's): they appear in answers, never on the wire. */
const PUBLIC4 = "93.184.215.14";
const PUBLIC6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c";

interface Listener {
  port: number;
  close(): Promise<void>;
}

/** An HTTP server on `host:port` that counts TCP connections into `counts` and answers with `handler`. */
async function listen(
  host: string,
  port: number,
  onConnection: () => void,
  handler: Parameters<typeof createServer>[1] = (_req, res) => res.writeHead(204).end(),
): Promise<Listener> {
  const server: Server = createServer(handler);
  server.on("connection", onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Sentinels on 127.0.0.1, ::1 and 127.0.0.2, all on one port number, so every spelling of
 * "this machine" in a row lands on one of them if it gets through. (0.0.0.0 and [::] reach
 * 127.0.0.1 and ::1 on Linux.)
 */
async function startSentinels() {
  let connections = 0;
  const count = () => {
    connections++;
  };
  for (let tries = 0; ; tries++) {
    const first = await listen("127.0.0.1", 0, count);
    const others: Listener[] = [];
    try {
      for (const host of ["::1", "127.0.0.2"]) others.push(await listen(host, first.port, count));
      const all = [first, ...others];
      return {
        port: first.port,
        connections: () => connections,
        close: () => Promise.all(all.map((l) => l.close())).then(() => {}),
      };
    } catch (error) {
      await Promise.all([first, ...others].map((l) => l.close()));
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || tries >= 20) throw error;
    }
  }
}

/**
 * Answers made-up names from a table: one answer while endpoints are being created, another
 * once deliveries run (`deliveryPhase()`), which is how a rebinding name behaves. Names not in
 * the table do not resolve. The creation answers are never given out again after the switch.
 */
function fakeDns() {
  const table = new Map<string, { creation: string[]; delivery: string[] }>();
  let phase: "creation" | "delivery" = "creation";
  const resolve: LookupAll = async (hostname) => {
    const addresses = table.get(hostname.toLowerCase().replace(/\.$/, ""))?.[phase] ?? [];
    if (addresses.length === 0) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    }
    return addresses.map((address) => ({ address, family: isIP(address) }));
  };
  return {
    resolve,
    set(name: string, creation: string[], delivery = creation) {
      table.set(name, { creation, delivery });
    },
    deliveryPhase() {
      phase = "delivery";
    },
  };
}

/** A matrix row: the URL, and what creating it through the API must answer. */
interface Row {
  what: string;
  url: string;
  /** 422 with this message, or 201 (only DNS rows whose creation answer is public). */
  created: RegExp | 201;
  /** Save the URL into the store when the API refuses it, to check it at connect time too. */
  connect?: boolean;
}

/** Sends one event to the account and waits until each of its deliveries is final. */
async function deliverOnce(client: ApiClient, expected: number): Promise<DeliveryJson[]> {
  const sent = await client.post("/v1/events", { type: "matrix.probe", data: {} });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  return eventually(
    async () => {
      const list = await client.get(`/v1/events/${sent.body.id}/deliveries?limit=250`);
      const data = list.body.data as DeliveryJson[];
      return data.length === expected && data.every((d) => d.status === "succeeded" || d.status === "failed")
        ? data
        : undefined;
    },
    15_000,
    `${expected} final deliveries`,
  );
}

/**
 * Runs `rows` against one account of `h`: each is created through the API with its expected
 * answer; refused rows marked `connect` are then saved straight into the store; then one event
 * goes out. Returns each endpoint's URL with its delivery and attempts.
 */
async function runRows(h: TestHookline, dns: ReturnType<typeof fakeDns>, environment: "test" | "live", rows: Row[]) {
  const account = await newAccount(h, `matrix-${environment}-${Math.random()}`);
  const client = account[environment];
  const endpoints = new Map<string, string>();
  for (const row of rows) {
    // Retried every 50 ms by the deployment's schedule (a LIVE endpoint's own may not go below 1 s).
    const created = await client.post("/v1/endpoints", { url: row.url });
    if (row.created === 201) {
      assert.equal(created.status, 201, `${row.what}: ${row.url} ${JSON.stringify(created.body)}`);
      endpoints.set(created.body.id, row.what);
      continue;
    }
    assert.equal(created.status, 422, `${row.what}: ${row.url} was not refused: ${JSON.stringify(created.body)}`);
    assert.equal(created.body.error.code, "url_rejected", row.what);
    assert.match(created.body.error.message, row.created, `${row.what}: ${row.url}`);
    if (row.connect) {
      const saved = await h.hookline.store.createEndpoint(
        { accountId: account.id, environment },
        {
          url: row.url,
          description: row.what,
          eventTypes: null,
          rateLimitPerS: null,
          maxInFlight: null,
          retrySchedule: [50],
          secret: newSigningSecret(),
        },
        Date.now(),
      );
      endpoints.set(saved.id, `${row.what} (saved past the API)`);
    }
  }
  // From here on no resolver answer is a creation-time one.
  dns.deliveryPhase();
  const deliveries = endpoints.size === 0 ? [] : await deliverOnce(client, endpoints.size);
  const outcomes: { what: string; delivery: DeliveryJson; attempts: AttemptJson[] }[] = [];
  for (const delivery of deliveries) {
    const what = endpoints.get(delivery.endpoint_id) ?? delivery.endpoint_id;
    outcomes.push({ what, delivery, attempts: await attemptsOf(client, delivery.id) });
  }
  return outcomes;
}

function assertBlocked(outcome: { what: string; delivery: DeliveryJson; attempts: AttemptJson[] }) {
  const { what, delivery, attempts } = outcome;
  assert.equal(delivery.status, "failed", what);
  assert.equal(attempts.length, 2, `${what}: the first attempt and one retry`);
  for (const attempt of attempts) {
    assert.equal(attempt.error, "blocked", what);
    assert.equal(attempt.status_code, null, what);
  }
}

describe("egress matrix: LIVE endpoints", () => {
  let sentinels: Awaited<ReturnType<typeof startSentinels>>;
  let allowed: Listener;
  const allowedRequests: string[] = [];
  let h: TestHookline;
  const dns = fakeDns();

  before(async () => {
    sentinels = await startSentinels();
    // The operator allows this one receiver, on this one port. It also plays a "public"
    // receiver that redirects to the sentinel.
    allowed = await listen(
      "127.0.0.2",
      0,
      () => {},
      (req, res) => {
        allowedRequests.push(`${req.method} ${req.url}`);
        req.resume();
        if (req.url === "/redirect") res.writeHead(302, { location: `http://127.0.0.1:${sentinels.port}/` }).end();
        else res.writeHead(204).end();
      },
    );
    h = await startTestHookline(
      { HOOKLINE_RETRY_SCHEDULE: "50ms", HOOKLINE_EGRESS_ALLOW_CIDRS: `127.0.0.2:${allowed.port}` },
      { resolve: dns.resolve },
    );
  });
  after(async () => {
    await h.stop();
    await allowed.close();
    await sentinels.close();
  });

  it("no row reaches the sentinels; the allow-listed receiver gets exactly its requests", async () => {
    const p = sentinels.port;
    const a = allowed.port;
    const loopback = /loopback address; live endpoints must use public addresses/;
    dns.set("private.matrix.example.com", ["127.0.0.1"]);
    dns.set("private6.matrix.example.com", ["::1"]);
    dns.set("private10.matrix.example.com", ["10.1.2.3"], ["127.0.0.1"]);
    dns.set("mixed.matrix.example.com", [PUBLIC4, "127.0.0.1"]);
    dns.set("metadata.matrix.example.com", ["169.254.169.254"], ["127.0.0.1"]);
    dns.set("rebind.matrix.example.com", [PUBLIC4], ["127.0.0.1"]);
    dns.set("rebind6.matrix.example.com", [PUBLIC6], ["::1"]);
    dns.set("rebind-mapped.matrix.example.com", [PUBLIC4], ["::ffff:127.0.0.1"]);
    dns.set("public-first.matrix.example.com", [PUBLIC4], [PUBLIC4, "127.0.0.1"]);
    dns.set("public-first6.matrix.example.com", [PUBLIC6], [PUBLIC6, "::1"]);
    dns.set("other-port.matrix.example.com", [PUBLIC4], ["127.0.0.2"]);
    dns.set("allowed.matrix.example.com", ["127.0.0.2"]);
    dns.set("intranet", ["127.0.0.1"]);
    // Unresolvable when created (refused for its name), loopback when delivered.
    dns.set("metadata", [], ["127.0.0.1"]);
    dns.set("localhost", ["127.0.0.1", "::1"]);

    const rows: Row[] = [
      { what: "127.0.0.1", url: `http://127.0.0.1:${p}/`, created: loopback, connect: true },
      { what: "127.1", url: `http://127.1:${p}/`, created: loopback, connect: true },
      { what: "decimal 2130706433", url: `http://2130706433:${p}/`, created: loopback, connect: true },
      { what: "hex 0x7f000001", url: `http://0x7f000001:${p}/`, created: loopback, connect: true },
      { what: "octal 0177.0.0.1", url: `http://0177.0.0.1:${p}/`, created: loopback, connect: true },
      { what: "0.0.0.0", url: `http://0.0.0.0:${p}/`, created: /unspecified address/, connect: true },
      { what: "[::]", url: `http://[::]:${p}/`, created: /unspecified address/, connect: true },
      { what: "[::1]", url: `http://[::1]:${p}/`, created: loopback, connect: true },
      { what: "[::ffff:127.0.0.1]", url: `http://[::ffff:127.0.0.1]:${p}/`, created: loopback, connect: true },
      { what: "[::ffff:7f00:1]", url: `http://[::ffff:7f00:1]:${p}/`, created: loopback, connect: true },
      { what: "NAT64 [64:ff9b::7f00:1]", url: `http://[64:ff9b::7f00:1]:${p}/`, created: loopback },
      { what: "6to4 [2002:7f00:1::]", url: `http://[2002:7f00:1::]:${p}/`, created: loopback },
      { what: "IPv4-compatible [::127.0.0.1]", url: `http://[::127.0.0.1]:${p}/`, created: /reserved address/ },
      {
        what: "user@127.0.0.1",
        url: `http://user@127.0.0.1:${p}/`,
        created: /must not contain a username or password/,
        connect: true,
      },
      { what: "localhost", url: `http://localhost:${p}/`, created: loopback, connect: true },
      { what: "*.localhost", url: `http://hooks.localhost:${p}/`, created: loopback },
      { what: "metadata 169.254.169.254", url: "http://169.254.169.254/latest/meta-data/", created: /metadata/ },
      { what: "metadata 169.254.169.254 (port)", url: `http://169.254.169.254:${p}/`, created: /metadata/ },
      { what: "metadata 100.100.100.200", url: "http://100.100.100.200/", created: /metadata/ },
      { what: "metadata [fd00:ec2::254]", url: "http://[fd00:ec2::254]/", created: /metadata/ },
      { what: "metadata [::ffff:a9fe:a9fe]", url: "http://[::ffff:a9fe:a9fe]/", created: /metadata/ },
      { what: "private 10/8", url: "http://10.0.0.1/", created: /private address/ },
      { what: "private 172.16/12", url: "http://172.16.0.1/", created: /private address/ },
      { what: "private 192.168/16", url: "http://192.168.0.1/", created: /private address/ },
      { what: "ULA [fd12::1]", url: "http://[fd12::1]/", created: /private address/ },
      { what: "CGNAT 100.64/10", url: "http://100.64.0.1/", created: /private address/ },
      { what: "link-local 169.254.1.1", url: "http://169.254.1.1/", created: /link-local address/ },
      { what: "link-local [fe80::1]", url: "http://[fe80::1]/", created: /link-local address/ },
      { what: "multicast 224.0.0.1", url: "http://224.0.0.1/", created: /multicast address/ },
      { what: "multicast [ff02::1]", url: "http://[ff02::1]/", created: /multicast address/ },
      { what: "broadcast", url: "http://255.255.255.255/", created: /reserved address/ },
      { what: "Teredo", url: "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", created: /reserved address/ },
      { what: "documentation [2001:db8::1]", url: "http://[2001:db8::1]/", created: /reserved address/ },
      {
        what: "single-label intranet",
        url: `http://intranet:${p}/`,
        // The allow-list is not empty, so the name is resolved and its loopback answer refused.
        created: /points to 127\.0\.0\.1, a loopback address/,
        connect: true,
      },
      {
        what: "single-label metadata",
        url: `http://metadata:${p}/computeMetadata/v1/`,
        created: /single-label name.*live endpoints must use public names/,
        connect: true,
      },
      { what: ".internal", url: "http://metadata.google.internal/", created: /special-use \.internal name/ },
      { what: ".local", url: `http://printer.local:${p}/`, created: /special-use \.local name/ },
      {
        what: "name answering loopback",
        url: `http://private.matrix.example.com:${p}/`,
        created: loopback,
        connect: true,
      },
      { what: "name answering ::1", url: `http://private6.matrix.example.com:${p}/`, created: loopback, connect: true },
      {
        what: "name answering private",
        url: `http://private10.matrix.example.com:${p}/`,
        created: /10\.1\.2\.3, a private/,
        connect: true,
      },
      {
        what: "mixed public/loopback answer",
        url: `http://mixed.matrix.example.com:${p}/`,
        created: /127\.0\.0\.1, a loopback address/,
        connect: true,
      },
      {
        what: "name answering metadata",
        url: `http://metadata.matrix.example.com:${p}/`,
        created: /metadata/,
        connect: true,
      },
      { what: "rebinding to 127.0.0.1", url: `http://rebind.matrix.example.com:${p}/`, created: 201 },
      { what: "rebinding to ::1", url: `http://rebind6.matrix.example.com:${p}/`, created: 201 },
      { what: "rebinding to ::ffff:127.0.0.1", url: `http://rebind-mapped.matrix.example.com:${p}/`, created: 201 },
      { what: "public first, loopback second", url: `http://public-first.matrix.example.com:${p}/`, created: 201 },
      { what: "public first, ::1 second", url: `http://public-first6.matrix.example.com:${p}/`, created: 201 },
      { what: "allow-listed address, other port", url: `http://127.0.0.2:${p}/`, created: loopback, connect: true },
      {
        what: "rebinding to the allow-listed address, other port",
        url: `http://other-port.matrix.example.com:${p}/`,
        created: 201,
      },
      // These three are allowed and reach the allow-listed receiver, not a sentinel.
      { what: "allowed: address and port", url: `http://127.0.0.2:${a}/literal`, created: 201 },
      { what: "allowed: name answering it", url: `http://allowed.matrix.example.com:${a}/name`, created: 201 },
      { what: "allowed receiver redirecting to loopback", url: `http://127.0.0.2:${a}/redirect`, created: 201 },
    ];

    const outcomes = await runRows(h, dns, "live", rows);
    assert.equal(outcomes.length, rows.filter((row) => row.created === 201 || row.connect).length);
    for (const outcome of outcomes) {
      if (outcome.what.startsWith("allowed receiver redirecting")) {
        // The 302 is the receiver's answer, kept as a failure; the Location is not followed.
        assert.equal(outcome.delivery.status, "failed", outcome.what);
        assert.deepEqual(
          outcome.attempts.map((attempt) => attempt.status_code),
          [302, 302],
        );
      } else if (outcome.what.startsWith("allowed:")) {
        assert.equal(outcome.delivery.status, "succeeded", outcome.what);
        assert.equal(outcome.attempts.length, 1, outcome.what);
      } else {
        assertBlocked(outcome);
      }
    }
    assert.deepEqual([...allowedRequests].sort(), ["POST /literal", "POST /name", "POST /redirect", "POST /redirect"]);
    assert.equal(sentinels.connections(), 0, "a sentinel saw a connection");
  });
});

describe("egress matrix: TEST endpoints", () => {
  let sentinels: Awaited<ReturnType<typeof startSentinels>>;
  let receiver: Listener;
  const received: string[] = [];

  before(async () => {
    sentinels = await startSentinels();
    receiver = await listen(
      "127.0.0.1",
      0,
      () => {},
      (req, res) => {
        received.push(`${req.method} ${req.url}`);
        req.resume();
        res.writeHead(204).end();
      },
    );
  });
  after(async () => {
    await receiver.close();
    await sentinels.close();
  });

  it("allow loopback by default (HOOKLINE_ALLOW_PRIVATE_IN_TEST), metadata never", async () => {
    const dns = fakeDns();
    dns.set("receiver", ["127.0.0.1"]);
    dns.set("localhost", ["127.0.0.1"]);
    dns.set("metadata.matrix.example.com", ["169.254.169.254"], ["127.0.0.1"]);
    const h = await startTestHookline({ HOOKLINE_RETRY_SCHEDULE: "50ms" }, { resolve: dns.resolve });
    try {
      const r = receiver.port;
      const outcomes = await runRows(h, dns, "test", [
        { what: "allowed: 127.0.0.1", url: `http://127.0.0.1:${r}/ip`, created: 201 },
        { what: "allowed: localhost", url: `http://localhost:${r}/localhost`, created: 201 },
        { what: "allowed: single-label name", url: `http://receiver:${r}/name`, created: 201 },
        { what: "metadata 169.254.169.254", url: "http://169.254.169.254/", created: /metadata/ },
        { what: "metadata [::ffff:169.254.169.254]", url: "http://[::ffff:169.254.169.254]/", created: /metadata/ },
        { what: "metadata [64:ff9b::a9fe:a9fe]", url: "http://[64:ff9b::a9fe:a9fe]/", created: /metadata/ },
        { what: "metadata 100.100.100.200", url: "http://100.100.100.200/", created: /metadata/ },
        { what: "metadata [fd00:ec2::254]", url: "http://[fd00:ec2::254]/", created: /metadata/ },
        { what: "metadata decimal 2852039166", url: "http://2852039166/", created: /metadata/ },
        {
          what: "name answering metadata",
          url: `http://metadata.matrix.example.com:${sentinels.port}/`,
          created: /metadata/,
        },
        { what: "link-local", url: "http://169.254.1.1/", created: /link-local/ },
        { what: "unspecified", url: `http://0.0.0.0:${sentinels.port}/`, created: /unspecified/, connect: true },
      ]);
      for (const outcome of outcomes) {
        if (outcome.what.startsWith("allowed:")) assert.equal(outcome.delivery.status, "succeeded", outcome.what);
        else assertBlocked(outcome);
      }
      assert.deepEqual([...received].sort(), ["POST /ip", "POST /localhost", "POST /name"]);
      assert.equal(sentinels.connections(), 0);
    } finally {
      await h.stop();
    }
  });

  it("refuse loopback and internal names when HOOKLINE_ALLOW_PRIVATE_IN_TEST=false", async () => {
    const dns = fakeDns();
    dns.set("intranet", ["127.0.0.1"]);
    dns.set("localhost", ["127.0.0.1", "::1"]);
    dns.set("rebind.matrix.example.com", [PUBLIC4], ["127.0.0.1"]);
    const h = await startTestHookline(
      { HOOKLINE_RETRY_SCHEDULE: "50ms", HOOKLINE_ALLOW_PRIVATE_IN_TEST: "false" },
      { resolve: dns.resolve },
    );
    try {
      const p = sentinels.port;
      const onlyWhenAllowed = /test endpoints may use it only when allowPrivateInTest is enabled/;
      const outcomes = await runRows(h, dns, "test", [
        { what: "127.0.0.1", url: `http://127.0.0.1:${p}/`, created: onlyWhenAllowed, connect: true },
        { what: "[::1]", url: `http://[::1]:${p}/`, created: onlyWhenAllowed, connect: true },
        { what: "localhost", url: `http://localhost:${p}/`, created: onlyWhenAllowed, connect: true },
        { what: "single-label", url: `http://intranet:${p}/`, created: onlyWhenAllowed, connect: true },
        { what: "rebinding to 127.0.0.1", url: `http://rebind.matrix.example.com:${p}/`, created: 201 },
        { what: "metadata", url: "http://169.254.169.254/", created: /metadata/ },
      ]);
      assert.equal(outcomes.length, 5);
      for (const outcome of outcomes) assertBlocked(outcome);
      assert.equal(sentinels.connections(), 0);
    } finally {
      await h.stop();
    }
  });
});
