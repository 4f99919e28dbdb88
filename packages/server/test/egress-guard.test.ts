import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { deliveriesOf } from "./helpers/api.ts";
import { type ApiClient, apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";

// The SSRF guard seen through the real API: refused URLs never become endpoints
// and never see a byte; the connect-time check catches what creation let through.

/**
 * A loopback HTTP server that counts every TCP connection, so "nothing was sent"
 * means not even a connection was opened.
 */
async function startTrap(host: "127.0.0.1" | "::1" = "127.0.0.1") {
  let connections = 0;
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    req.resume();
    req.on("end", () => {
      res.statusCode = 204;
      res.end();
    });
  });
  server.on("connection", (_socket: Socket) => {
    connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: host === "::1" ? `http://[::1]:${port}/` : `http://127.0.0.1:${port}/`,
    connections: () => connections,
    requests,
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
type Trap = Awaited<ReturnType<typeof startTrap>>;

async function assertRejected(client: ApiClient, url: string, reason: RegExp) {
  const created = await client.post("/v1/endpoints", { url });
  assert.equal(created.status, 422, `${url} was not refused: ${JSON.stringify(created.body)}`);
  assert.equal(created.body.error.code, "url_rejected", url);
  assert.match(created.body.error.message, reason, `message for ${url}`);
}

describe("egress guard: LIVE endpoints", () => {
  let h: TestHookline;
  let trap: Trap;
  let trap6: Trap;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_RETRY_SCHEDULE: "50ms" });
    trap = await startTrap();
    trap6 = await startTrap("::1");
  });
  after(async () => {
    await h.stop();
    await trap.close();
    await trap6.close();
  });

  it("refuses loopback, private, metadata, unspecified, odd spellings, other schemes and credentials with 422", async () => {
    const live = "live endpoints must use public addresses";
    const cases: [string, RegExp][] = [
      ["http://127.0.0.1/", new RegExp(`127\\.0\\.0\\.1, a loopback address; ${live}`)],
      ["http://localhost/", new RegExp(`loopback address; ${live}`)],
      ["http://[::1]/", new RegExp(`::1, a loopback address; ${live}`)],
      ["http://10.0.0.1/", new RegExp(`10\\.0\\.0\\.1, a private address; ${live}`)],
      ["http://192.168.1.1/", new RegExp(`192\\.168\\.1\\.1, a private address; ${live}`)],
      ["http://169.254.169.254/latest/meta-data", /169\.254\.169\.254, a cloud metadata address/],
      ["http://[::ffff:127.0.0.1]/", /loopback address/],
      ["http://0.0.0.0/", /unspecified address/],
      ["http://2130706433/", /127\.0\.0\.1, a loopback address/],
      ["ftp://x", /only http and https URLs are allowed/],
      ["http://user:pass@example.com/", /must not contain a username or password/],
      // The same targets with the port of a live loopback receiver: a slip would reach it.
      [`http://127.0.0.1:${trap.port}/`, /loopback address/],
      [`http://localhost:${trap.port}/`, /loopback address/],
      [`http://[::1]:${trap6.port}/`, /loopback address/],
      [`http://[::ffff:127.0.0.1]:${trap.port}/`, /loopback address/],
      [`http://[::ffff:7f00:1]:${trap.port}/`, /loopback address/],
      [`http://0.0.0.0:${trap.port}/`, /unspecified address/],
      [`http://2130706433:${trap.port}/`, /loopback address/],
      [`http://0x7f000001:${trap.port}/`, /loopback address/],
      [`http://127.1:${trap.port}/`, /loopback address/],
      [`http://LOCALHOST.:${trap.port}/`, /loopback address/],
      [`http://hooks.localhost:${trap.port}/`, /loopback address/],
      [`http://[::]:${trap.port}/`, /unspecified address/],
      ["http://[fd00:ec2::254]/", /cloud metadata address/],
      ["http://[::ffff:169.254.169.254]/", /cloud metadata address/],
      ["http://169.254.170.2/v2/credentials", /cloud metadata address/],
      ["http://172.16.0.1/", /private address/],
      ["http://[fc00::1]/", /private address/],
      ["http://[fe80::1]/", /link-local address/],
      ["http://224.0.0.1/", /multicast address/],
      ["file:///etc/passwd", /only http and https URLs are allowed/],
      ["not a url", /is not a valid URL/],
    ];
    for (const [url, reason] of cases) await assertRejected(h.live, url, reason);

    // The message about credentials does not echo the password.
    const withPassword = await h.live.post("/v1/endpoints", { url: "http://user:s3cr3t@example.com/" });
    assert.equal(withPassword.status, 422);
    assert.doesNotMatch(JSON.stringify(withPassword.body), /s3cr3t/);

    // None of them became an endpoint, so an event has nowhere to go...
    const listed = await h.live.get("/v1/endpoints");
    assert.deepEqual(listed.body.data, []);
    const sent = await h.live.post("/v1/events", { type: "transfer.completed", data: {} });
    assert.equal(sent.status, 202);
    assert.deepEqual(await deliveriesOf(h.live, sent.body.id), []);
    // ...and nothing ever connected to the loopback receivers.
    assert.equal(trap.connections(), 0);
    assert.equal(trap6.connections(), 0);
  });

  it("refuses a URL changed to a blocked target (PATCH) just the same", async () => {
    const moved = await h.test.post("/v1/endpoints", { url: trap.url });
    assert.equal(moved.status, 201);
    const toMetadata = await h.test.patch(`/v1/endpoints/${moved.body.id}`, { url: "http://169.254.169.254/" });
    assert.equal(toMetadata.status, 422);
    assert.match(toMetadata.body.error.message, /cloud metadata address/);
    assert.equal((await h.test.get(`/v1/endpoints/${moved.body.id}`)).body.url, trap.url);
    await h.test.delete(`/v1/endpoints/${moved.body.id}`);
  });
});

describe("egress guard: TEST endpoints (private targets allowed by default)", () => {
  let h: TestHookline;
  let receiver: Trap;

  before(async () => {
    h = await startTestHookline();
    receiver = await startTrap();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("accepts 127.0.0.1 and localhost with a port and delivers to them", async () => {
    const byIp = await h.test.post("/v1/endpoints", { url: `http://127.0.0.1:${receiver.port}/ip` });
    assert.equal(byIp.status, 201, JSON.stringify(byIp.body));
    const byName = await h.test.post("/v1/endpoints", { url: `http://localhost:${receiver.port}/name` });
    assert.equal(byName.status, 201, JSON.stringify(byName.body));
    const sent = await h.test.post("/v1/events", { type: "transfer.completed", data: {} });
    assert.equal(sent.status, 202);
    const done = await eventually(async () => {
      const list = await deliveriesOf(h.test, sent.body.id);
      return list.length === 2 && list.every((d) => d.status === "succeeded") ? list : undefined;
    });
    assert.equal(done.length, 2);
    assert.deepEqual([...receiver.requests].sort(), ["POST /ip", "POST /name"]);
    await h.test.delete(`/v1/endpoints/${byIp.body.id}`);
    await h.test.delete(`/v1/endpoints/${byName.body.id}`);
  });

  it("never accepts a cloud metadata address, however it is spelled", async () => {
    for (const url of [
      "http://169.254.169.254/",
      "http://169.254.169.254/latest/meta-data",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://2852039166/",
      "http://[fd00:ec2::254]/",
      "http://100.100.100.200/",
    ]) {
      await assertRejected(h.test, url, /cloud metadata address/);
    }
    // Other always-blocked classes stay blocked in TEST too.
    await assertRejected(h.test, "http://169.254.1.1/", /link-local address/);
    await assertRejected(h.test, "http://0.0.0.0/", /unspecified address/);
  });
});

describe("egress guard: checked again at connect time", () => {
  let dir: ReturnType<typeof tempDir>;
  let receiver: Trap;
  let server: ServerProcess | undefined;

  before(async () => {
    dir = tempDir();
    receiver = await startTrap();
  });
  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    await receiver.close();
    dir.remove();
  });

  it("endpoints saved while private targets were allowed are blocked once the operator turns that off", async () => {
    server = await spawnServer(dir.path);
    const keys = printedKeys(server.stdout());
    assert.match(keys.test, /^hl_test_/);
    let client = apiClient(server.url, keys.test);
    const endpointIds: string[] = [];
    for (const url of [`http://localhost:${receiver.port}/name`, `http://127.0.0.1:${receiver.port}/ip`]) {
      const created = await client.post("/v1/endpoints", { url, retry_schedule: ["50ms"] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      endpointIds.push(created.body.id);
    }
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);

    server = await spawnServer(dir.path, { HOOKLINE_ALLOW_PRIVATE_IN_TEST: "false" });
    client = apiClient(server.url, keys.test);
    // New ones are refused at creation now...
    await assertRejected(
      client,
      `http://127.0.0.1:${receiver.port}/`,
      /loopback address; test endpoints may use it only when allowPrivateInTest is enabled/,
    );
    // ...and the saved ones are refused when connecting.
    const sent = await client.post("/v1/events", { type: "transfer.completed", data: {} });
    assert.equal(sent.status, 202);
    const deliveries = await eventually(async () => {
      const list = await deliveriesOf(client, sent.body.id);
      return list.length === 2 && list.every((d) => d.status === "failed") ? list : undefined;
    });
    assert.deepEqual(deliveries.map((d) => d.endpoint_id).sort(), [...endpointIds].sort());
    for (const delivery of deliveries) {
      const attempts = await client.get(`/v1/deliveries/${delivery.id}/attempts`);
      assert.equal(attempts.body.data.length, 2, "the schedule ran: first attempt and one retry");
      for (const attempt of attempts.body.data) {
        assert.equal(attempt.error, "blocked");
        assert.equal(attempt.status_code, null);
      }
    }
    // Every attempt is logged as blocked, so nothing can still be on its way.
    assert.equal(receiver.connections(), 0, "the receiver got a connection");
    assert.deepEqual(receiver.requests, []);
    assert.equal((await apiClient(server.url).get("/healthz")).status, 200);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  });
});

describe("egress guard: LIVE with an operator allow-list", () => {
  let h: TestHookline;
  let receiver: Trap;

  before(async () => {
    h = await startTestHookline({ HOOKLINE_EGRESS_ALLOW_CIDRS: "127.0.0.1/32" });
    receiver = await startTrap();
  });
  after(async () => {
    await h.stop();
    await receiver.close();
  });

  it("accepts and delivers to 127.0.0.1 when 127.0.0.1/32 is allowed; everything else stays refused", async () => {
    const created = await h.live.post("/v1/endpoints", { url: `http://127.0.0.1:${receiver.port}/live` });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const sent = await h.live.post("/v1/events", { type: "transfer.completed", data: { amount: 1 } });
    assert.equal(sent.status, 202);
    const [delivery] = await eventually(async () => {
      const list = await deliveriesOf(h.live, sent.body.id);
      return list[0]?.status === "succeeded" ? list : undefined;
    });
    assert.equal(delivery?.attempt_count, 1);
    assert.deepEqual(receiver.requests, ["POST /live"]);

    await assertRejected(h.live, "http://169.254.169.254/latest/meta-data", /cloud metadata address/);
    await assertRejected(h.live, "http://127.0.0.2/", /loopback address; live endpoints must use public addresses/);
    await assertRejected(h.live, "http://10.0.0.1/", /private address/);
    await assertRejected(h.live, `http://[::1]:${receiver.port}/`, /loopback address/);
  });

  it("even an allow-everything list never opens the metadata address", async () => {
    const open = await startTestHookline({ HOOKLINE_EGRESS_ALLOW_CIDRS: "0.0.0.0/0,::/0" });
    try {
      await assertRejected(open.live, "http://169.254.169.254/", /cloud metadata address/);
      await assertRejected(open.live, "http://[::ffff:169.254.169.254]/", /cloud metadata address/);
      await assertRejected(open.live, "http://[fd00:ec2::254]/", /cloud metadata address/);
      const allowed = await open.live.post("/v1/endpoints", { url: "http://127.0.0.2/" });
      assert.equal(allowed.status, 201, "the allow-list does open other ranges");
    } finally {
      await open.stop();
    }
  });
});
