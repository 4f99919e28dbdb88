import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createTcpServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type AttemptJson, attemptsOf, deliveriesOf, finalDelivery } from "./helpers/api.ts";
import { type ApiClient, apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

// Receivers that misbehave on purpose: they hang, drip, flood, redirect, refuse,
// send huge headers. Every attempt must end by its deadline, be logged with a
// fitting error, never follow a redirect, and never stall other endpoints.

async function createEndpoint(client: ApiClient, body: Record<string, unknown>): Promise<string> {
  const created = await client.post("/v1/endpoints", body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

async function sendEvent(client: ApiClient, type: string, data: Record<string, unknown> = {}): Promise<string> {
  const sent = await client.post("/v1/events", { type, data });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  return sent.body.id;
}

async function sendBatch(client: ApiClient, type: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const events = Array.from({ length: Math.min(1000, count - start) }, (_, i) => ({ type, data: { n: start + i } }));
    const sent = await client.post("/v1/events/batch", { events });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    ids.push(...sent.body.data.map((e: { id: string }) => e.id));
  }
  return ids;
}

/** A port on 127.0.0.1 that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A raw TCP "receiver" on loopback that hands each connection to `onSocket`
 * (for answers no HTTP server library would send) and records when each closed.
 */
async function startRawReceiver(onSocket: (socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const connections: { openedAt: number; closedAt: number | null }[] = [];
  const server = createTcpServer((socket) => {
    const record = { openedAt: Date.now(), closedAt: null as number | null };
    connections.push(record);
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      record.closedAt = Date.now();
      sockets.delete(socket);
    });
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    connections,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * An HTTP receiver that never answers and counts how many connections and
 * requests are open at once (the per-endpoint in-flight cap must hold).
 */
async function startHangingReceiver() {
  let openConnections = 0;
  let maxOpenConnections = 0;
  let openRequests = 0;
  let maxOpenRequests = 0;
  let requests = 0;
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    requests++;
    openRequests++;
    maxOpenRequests = Math.max(maxOpenRequests, openRequests);
    req.resume();
    res.on("close", () => {
      openRequests--;
    });
  });
  server.on("connection", (socket: Socket) => {
    openConnections++;
    maxOpenConnections = Math.max(maxOpenConnections, openConnections);
    socket.on("close", () => {
      openConnections--;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stats: () => ({ requests, openConnections, maxOpenConnections, openRequests, maxOpenRequests }),
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const ms = (iso: string) => Date.parse(iso);

describe("adversarial receivers", () => {
  const DEADLINE = 1000;
  // Node's timers count whole milliseconds of a monotonic clock and Date.now() truncates to
  // whole milliseconds of another, so a 1000 ms deadline can end an attempt that the recorded
  // duration puts at 999 ms (seen on CI). "At the deadline" allows for that rounding.
  const AT_DEADLINE = DEADLINE - 5;
  let h: TestHookline;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    h = await startTestHookline({
      HOOKLINE_ATTEMPT_TIMEOUT: `${DEADLINE}ms`,
      HOOKLINE_LEASE: "10s",
      HOOKLINE_RETRY_SCHEDULE: "100ms",
      HOOKLINE_SHUTDOWN_TIMEOUT: "1s",
    });
  });
  after(async () => {
    // Receivers first, so nothing is left hanging when Hookline stops.
    for (const cleanup of cleanups.reverse()) await cleanup();
    await h.stop();
  });

  /** Each test uses its own event type, so endpoints of other tests get nothing. */
  async function endpointFor(type: string, url: string, extra: Record<string, unknown> = {}) {
    const id = await createEndpoint(h.test, { url, event_types: [type], ...extra });
    cleanups.push(() => h.test.delete(`/v1/endpoints/${id}`));
    return id;
  }
  async function receiver(respond = answer(204)): Promise<Receiver> {
    const r = await startReceiver(respond);
    cleanups.push(() => r.close());
    return r;
  }

  it("a receiver that never answers: the attempt times out at the deadline and is retried on schedule", async () => {
    const hang = await receiver(() => {});
    const endpoint = await endpointFor("hang.test", hang.url, { retry_schedule: ["300ms"] });
    const eventId = await sendEvent(h.test, "hang.test");

    const delivery = await finalDelivery(h.test, eventId, endpoint);
    assert.equal(delivery.status, "failed");
    assert.equal(delivery.attempt_count, 2);
    assert.equal(delivery.last_error, "timeout");
    assert.equal(delivery.last_status_code, null);

    const attempts = await attemptsOf(h.test, delivery.id);
    assert.equal(attempts.length, 2);
    for (const attempt of attempts) {
      assert.equal(attempt.error, "timeout");
      assert.equal(attempt.status_code, null);
      assert.ok(attempt.duration_ms >= AT_DEADLINE, `attempt lasted ${attempt.duration_ms} ms, before the deadline`);
      assert.ok(
        attempt.duration_ms < DEADLINE + 1000,
        `attempt lasted ${attempt.duration_ms} ms, far past the deadline`,
      );
    }
    // The retry follows the 300 ms schedule entry (±5 % jitter) counted from the end of the first attempt.
    const [first, second] = attempts as [AttemptJson, AttemptJson];
    const gap = ms(second.started_at) - (ms(first.started_at) + first.duration_ms);
    assert.ok(gap >= 300 * 0.95 - 5, `retry came ${gap} ms after the timeout, schedule says 300 ms`);
    assert.ok(gap < 300 + 1000, `retry came ${gap} ms after the timeout, schedule says 300 ms`);
    assert.equal(hang.requests.length, 2);
    assert.equal(hang.requests[0]?.headers["webhook-id"], hang.requests[1]?.headers["webhook-id"]);
  });

  it("a receiver that sends 200 and then drips one body byte a second: counted as acknowledged, cut at the deadline, slot freed", async () => {
    const closedAt: number[] = [];
    let bytesSent = 0;
    const drip = await receiver((_request, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("x");
      bytesSent++;
      const timer = setInterval(() => {
        res.write("x");
        bytesSent++;
      }, 1000);
      res.on("close", () => {
        clearInterval(timer);
        closedAt.push(Date.now());
      });
    });
    // One slot only: the second event can go out only once the first attempt has let go.
    const endpoint = await endpointFor("drip.body", drip.url, { max_in_flight: 1, retry_schedule: [] });
    const firstEvent = await sendEvent(h.test, "drip.body", { n: 1 });
    const secondEvent = await sendEvent(h.test, "drip.body", { n: 2 });

    const first = await finalDelivery(h.test, firstEvent, endpoint);
    const second = await finalDelivery(h.test, secondEvent, endpoint);
    const attempts = [...(await attemptsOf(h.test, first.id)), ...(await attemptsOf(h.test, second.id))];
    assert.equal(attempts.length, 2);
    for (const attempt of attempts) {
      assert.ok(attempt.duration_ms >= DEADLINE - 50, `attempt ended after ${attempt.duration_ms} ms, before the drip`);
      assert.ok(attempt.duration_ms < DEADLINE + 1000, `attempt lasted ${attempt.duration_ms} ms, past the deadline`);
      // The 200 was answered before the deadline: only the status decides, the snippet is cut.
      assert.equal(attempt.error, null);
      assert.equal(attempt.status_code, 200);
      assert.ok((attempt.response_snippet ?? "").length <= bytesSent);
      assert.match(attempt.response_snippet ?? "", /^x+$/);
    }
    assert.equal(first.status, "succeeded");
    assert.equal(second.status, "succeeded");
    // Hookline hung up on the dripping receiver at the deadline, not later.
    const [r1, r2] = drip.requests;
    assert.ok(r1 && r2, "both events reached the receiver");
    await eventually(() => (closedAt.length === 2 ? true : undefined), 2000, "both dripping responses closed");
    assert.ok((closedAt[0] as number) - r1.receivedAt < DEADLINE + 1000, "first connection dropped at the deadline");
    // The cap of 1 held (the second attempt began only once the first had ended), and the slot came back at once.
    const [a1, a2] = attempts.sort((a, b) => ms(a.started_at) - ms(b.started_at)) as [AttemptJson, AttemptJson];
    const firstEnded = ms(a1.started_at) + a1.duration_ms;
    assert.ok(ms(a2.started_at) >= firstEnded - 2, "the second attempt started while the first was in flight");
    assert.ok(ms(a2.started_at) - firstEnded < 1000, "the slot was not freed at the deadline");
  });

  it("a receiver that never finishes its headers: timeout at the deadline, connection dropped", async () => {
    const raw = await startRawReceiver((socket) => {
      socket.on("data", () => {});
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-drip: ");
      const timer = setInterval(() => socket.write("z"), 1000);
      socket.on("close", () => clearInterval(timer));
    });
    cleanups.push(() => raw.close());
    const endpoint = await endpointFor("drip.headers", raw.url, { retry_schedule: [] });
    const eventId = await sendEvent(h.test, "drip.headers");

    const delivery = await finalDelivery(h.test, eventId, endpoint);
    assert.equal(delivery.status, "failed");
    const [attempt] = await attemptsOf(h.test, delivery.id);
    assert.ok(attempt);
    assert.equal(attempt.error, "timeout");
    assert.equal(attempt.status_code, null);
    assert.ok(attempt.duration_ms >= AT_DEADLINE && attempt.duration_ms < DEADLINE + 1000, `${attempt.duration_ms} ms`);
    const connection = await eventually(() => (raw.connections[0]?.closedAt ? raw.connections[0] : undefined));
    assert.ok((connection.closedAt as number) - connection.openedAt < DEADLINE + 1000, "socket held past the deadline");
  });

  it("a 3xx is a failure and the redirect is never followed", async () => {
    const target = await receiver(answer(204));
    const redirecting = await receiver((_request, res) => {
      res.writeHead(302, { location: `${target.url}/stolen` });
      res.end("moved");
    });
    const endpoint = await endpointFor("redirect.test", redirecting.url, { retry_schedule: ["50ms"] });
    const eventId = await sendEvent(h.test, "redirect.test");

    const delivery = await finalDelivery(h.test, eventId, endpoint);
    assert.equal(delivery.status, "failed");
    assert.equal(delivery.last_status_code, 302);
    const attempts = await attemptsOf(h.test, delivery.id);
    assert.deepEqual(
      attempts.map((a) => [a.status_code, a.error]),
      [
        [302, null],
        [302, null],
      ],
    );
    assert.equal(redirecting.requests.length, 2);
    // Every attempt is logged, so nothing else can still be on its way to the target.
    assert.equal(target.requests.length, 0, "the redirect target was hit");
  });

  it("4xx and 5xx answers are failures, retried on schedule, with status and snippet logged", async () => {
    const codes = [400, 401, 404, 429, 500, 502, 503];
    const endpoints = new Map<number, string>();
    for (const code of codes) {
      const r = await receiver(answer(code, `nope ${code}`));
      endpoints.set(code, await endpointFor("status.test", r.url, { retry_schedule: ["50ms"] }));
    }
    const eventId = await sendEvent(h.test, "status.test");
    for (const [code, endpoint] of endpoints) {
      const delivery = await finalDelivery(h.test, eventId, endpoint);
      assert.equal(delivery.status, "failed", `status ${code}`);
      assert.equal(delivery.attempt_count, 2, `status ${code}`);
      assert.equal(delivery.last_status_code, code);
      const attempts = await attemptsOf(h.test, delivery.id);
      for (const attempt of attempts) {
        assert.equal(attempt.status_code, code);
        assert.equal(attempt.error, null);
        assert.equal(attempt.response_snippet, `nope ${code}`);
      }
    }
  });

  it("410 Gone disables the endpoint and stops all further attempts to it", async () => {
    const gone = await receiver(answer(410, "gone"));
    // A sentinel on the same schedule: once its retries are all done, any retry to the
    // disabled endpoint would have happened too.
    const sentinel = await receiver(answer(500));
    const schedule = { retry_schedule: ["50ms", "50ms"], max_in_flight: 1 };
    const goneId = await endpointFor("gone.test", gone.url, schedule);
    const sentinelId = await endpointFor("gone.test", sentinel.url, schedule);
    // Two events: with one slot, the second waits behind the 410 and must never be sent.
    const firstEvent = await sendEvent(h.test, "gone.test", { n: 1 });
    const secondEvent = await sendEvent(h.test, "gone.test", { n: 2 });

    const first = await finalDelivery(h.test, firstEvent, goneId);
    assert.equal(first.status, "failed");
    assert.equal(first.attempt_count, 1);
    assert.equal(first.next_attempt_at, null);
    assert.equal(first.last_status_code, 410);

    const endpoint = await h.test.get(`/v1/endpoints/${goneId}`);
    assert.equal(endpoint.status, 200);
    assert.equal(endpoint.body.enabled, false);
    assert.equal(typeof endpoint.body.disabled_reason, "string");
    assert.match(endpoint.body.disabled_reason, /410/);

    await finalDelivery(h.test, firstEvent, sentinelId);
    await finalDelivery(h.test, secondEvent, sentinelId);
    assert.equal(sentinel.requests.length, 6, "the sentinel got its 3 attempts for each event");
    const second = await finalDelivery(h.test, secondEvent, goneId);
    assert.equal(second.status, "failed");
    assert.equal(second.attempt_count, 0, "the queued delivery was sent after the endpoint was disabled");
    assert.equal(gone.requests.length, 1, "a disabled endpoint got another request");

    // New events no longer fan out to it at all.
    const thirdEvent = await sendEvent(h.test, "gone.test", { n: 3 });
    const third = await deliveriesOf(h.test, thirdEvent);
    assert.deepEqual(
      third.map((d) => d.endpoint_id),
      [sentinelId],
    );
    await finalDelivery(h.test, thirdEvent, sentinelId);
    assert.equal(gone.requests.length, 1);
  });

  it("connection refused is logged as a connect error", async () => {
    const port = await closedPort();
    const endpoint = await endpointFor("refused.test", `http://127.0.0.1:${port}/`, { retry_schedule: [] });
    const eventId = await sendEvent(h.test, "refused.test");
    const delivery = await finalDelivery(h.test, eventId, endpoint);
    assert.equal(delivery.status, "failed");
    const attempts = await attemptsOf(h.test, delivery.id);
    assert.equal(attempts.length, 1);
    assert.equal(attempts[0]?.error, "connect");
    assert.equal(attempts[0]?.status_code, null);
    assert.ok((attempts[0]?.duration_ms ?? Infinity) < DEADLINE, "a refused connection is not a timeout");
  });

  it("64 KiB of response headers is a too_large error, not a crash", async () => {
    const huge = await receiver((_request, res) => {
      for (let i = 0; i < 16; i++) res.setHeader(`x-huge-${i}`, "h".repeat(4096));
      res.writeHead(200);
      res.end("ok");
    });
    const endpoint = await endpointFor("headers.test", huge.url, { retry_schedule: ["50ms"] });
    const eventId = await sendEvent(h.test, "headers.test");
    const delivery = await finalDelivery(h.test, eventId, endpoint);
    assert.equal(delivery.status, "failed");
    const attempts = await attemptsOf(h.test, delivery.id);
    assert.equal(attempts.length, 2);
    for (const attempt of attempts) {
      assert.equal(attempt.error, "too_large");
      assert.equal(attempt.status_code, null);
      assert.ok(attempt.duration_ms < DEADLINE);
    }
    // A normal receiver still works right after.
    const fine = await receiver(answer(200, "fine"));
    const fineId = await endpointFor("headers.after", fine.url);
    const after = await sendEvent(h.test, "headers.after");
    assert.equal((await finalDelivery(h.test, after, fineId)).status, "succeeded");
  });

  it("stays healthy after all of that", async () => {
    const health = await apiClient(h.url).get("/healthz");
    assert.equal(health.status, 200);
  });
});

describe("one slow endpoint never stalls the others", () => {
  const DEADLINE = 5000;
  let h: TestHookline;
  let slow: Awaited<ReturnType<typeof startHangingReceiver>>;
  let fast: Receiver;

  before(async () => {
    h = await startTestHookline({
      HOOKLINE_ATTEMPT_TIMEOUT: `${DEADLINE}ms`,
      HOOKLINE_LEASE: "20s",
      HOOKLINE_RETRY_SCHEDULE: "1s",
      HOOKLINE_SHUTDOWN_TIMEOUT: "1s",
    });
    slow = await startHangingReceiver();
    fast = await startReceiver(answer(204));
  });
  after(async () => {
    await slow.close();
    await fast.close();
    await h.stop();
  });

  it("100 events to a hanging and a fast endpoint: the fast one gets all 100 long before the deadline", async () => {
    const slowId = await createEndpoint(h.test, { url: slow.url, event_types: ["mixed.test"] });
    const fastId = await createEndpoint(h.test, { url: fast.url, event_types: ["mixed.test"] });
    try {
      const started = Date.now();
      const eventIds = await sendBatch(h.test, "mixed.test", 100);
      assert.equal(eventIds.length, 100);

      // All 100 at the fast receiver within 3 s — the hanging one's first timeout is at 5 s.
      await fast.waitFor(100, 3000);
      assert.ok(Date.now() - started < DEADLINE, "the fast endpoint waited for the slow one");
      // The slow endpoint has exactly its cap (default 20) open, never more.
      await eventually(
        () => (slow.stats().requests === 20 ? true : undefined),
        3000,
        "20 requests at the slow receiver",
      );
      let stats = slow.stats();
      assert.equal(stats.maxOpenRequests, 20);
      assert.ok(stats.maxOpenConnections <= 20, `${stats.maxOpenConnections} connections open at once`);
      // None of the slow endpoint's attempts has ended yet: the fast one did not wait for them.
      const deliveries = await deliveriesOf(h.test, eventIds[0] as string);
      const slowDelivery = deliveries.find((d) => d.endpoint_id === slowId);
      assert.equal(slowDelivery?.attempt_count, 0);
      stats = slow.stats();
      assert.equal(stats.requests, 20, "more requests than the cap reached the slow receiver");
    } finally {
      await h.test.delete(`/v1/endpoints/${slowId}`);
      await h.test.delete(`/v1/endpoints/${fastId}`);
    }
  });

  it("a backlog of thousands of due deliveries on the hanging endpoint does not starve the fast one", async () => {
    const backlog = await startHangingReceiver();
    const fastToo = await startReceiver(answer(204));
    const slowId = await createEndpoint(h.test, { url: backlog.url, event_types: ["backlog.slow"] });
    const fastId = await createEndpoint(h.test, { url: fastToo.url, event_types: ["backlog.fast"] });
    try {
      // Far more due deliveries for the capped endpoint than it may have in flight, all older than the
      // fast endpoint's: picking work must skip past them, not only look at the oldest due rows.
      await sendBatch(h.test, "backlog.slow", 2000);
      await eventually(
        () => (backlog.stats().requests === 20 ? true : undefined),
        3000,
        "the slow endpoint at its cap",
      );
      await sendBatch(h.test, "backlog.fast", 100);
      await fastToo.waitFor(100, 3000);
      assert.ok(backlog.stats().maxOpenConnections <= 20);
    } finally {
      await h.test.delete(`/v1/endpoints/${slowId}`);
      await h.test.delete(`/v1/endpoints/${fastId}`);
      await backlog.close();
      await fastToo.close();
    }
  });
});

describe("hanging endpoints cannot hoard the process's claims", () => {
  it("two hanging endpoints with backlogs, caps adding up to most of the concurrency: a fast one still gets through", async () => {
    const h = await startTestHookline({
      HOOKLINE_CONCURRENCY: "40",
      HOOKLINE_ATTEMPT_TIMEOUT: "5s",
      HOOKLINE_LEASE: "20s",
      HOOKLINE_SHUTDOWN_TIMEOUT: "1s",
    });
    const hanging = [await startHangingReceiver(), await startHangingReceiver()];
    const fast = await startReceiver(answer(204));
    try {
      for (const [i, receiver] of hanging.entries()) {
        await createEndpoint(h.test, { url: receiver.url, event_types: [`hoard.${i}`], max_in_flight: 15 });
        await sendBatch(h.test, `hoard.${i}`, 300);
      }
      await eventually(
        () => (hanging.every((r) => r.stats().requests === 15) ? true : undefined),
        3000,
        "both hanging endpoints at their cap",
      );
      // Claims waiting in memory for a hanging endpoint's slot would be wasted: it finishes
      // nothing. Holding any beyond its cap would leave no room for the fast endpoint (40 in all).
      await createEndpoint(h.test, { url: fast.url, event_types: ["hoard.fast"] });
      await sendBatch(h.test, "hoard.fast", 100);
      await fast.waitFor(100, 3000);
      assert.ok(hanging.every((r) => r.stats().maxOpenRequests === 15));
    } finally {
      for (const receiver of hanging) await receiver.close();
      await fast.close();
      await h.stop();
    }
  });
});

describe("a receiver that answers 100 MB (real server process)", () => {
  const RESPONSE_BYTES = 100 * 1024 * 1024;
  const MAX_RESPONSE_BYTES = 65_536;
  const chunk = Buffer.alloc(64 * 1024, "x");
  let dir: ReturnType<typeof tempDir>;
  let server: ServerProcess | undefined;
  let flood: Receiver;
  /** Bytes the receiver managed to hand to the kernel for each response before Hookline hung up. */
  const accepted: number[] = [];

  function streamHugeBody(_request: unknown, res: ServerResponse) {
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(RESPONSE_BYTES) });
    let sent = 0;
    const pump = () => {
      while (sent < RESPONSE_BYTES && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", pump);
          return;
        }
      }
      if (sent >= RESPONSE_BYTES) res.end();
    };
    res.on("error", () => {});
    res.on("close", () => accepted.push(sent));
    pump();
  }

  const rssKb = (pid: number) => {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    assert.ok(match, "VmRSS readable");
    return Number(match[1]);
  };

  before(async () => {
    dir = tempDir();
    flood = await startReceiver(streamHugeBody);
  });
  after(async () => {
    await flood.close();
    if (server && server.child.exitCode === null) {
      server.child.kill("SIGTERM");
      await server.exited;
    }
    dir.remove();
  });

  it("reads at most max_response_bytes, drops the socket, and does not grow with the body", async () => {
    server = await spawnServer(dir.path, {
      HOOKLINE_ATTEMPT_TIMEOUT: "10s",
      HOOKLINE_LEASE: "30s",
      HOOKLINE_SHUTDOWN_TIMEOUT: "2s",
      HOOKLINE_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
    });
    const pid = server.child.pid as number;
    const client = apiClient(server.url, printedKeys(server.stdout()).test);
    const endpoint = await createEndpoint(client, { url: flood.url, retry_schedule: [] });

    // Warm up: the whole path (claim, send, cut, record) once before the baseline.
    const warmup = await sendEvent(client, "flood.test", { n: 0 });
    assert.equal((await finalDelivery(client, warmup, endpoint)).status, "succeeded");
    const baselineKb = rssKb(pid);

    const ROUNDS = 3;
    const PER_ROUND = 3;
    for (let round = 0; round < ROUNDS; round++) {
      const ids = await Promise.all(
        Array.from({ length: PER_ROUND }, (_, i) => sendEvent(client, "flood.test", { round, i })),
      );
      for (const id of ids) {
        const delivery = await finalDelivery(client, id, endpoint);
        assert.equal(delivery.status, "succeeded");
        const [attempt] = await attemptsOf(client, delivery.id);
        assert.ok(attempt);
        assert.equal(attempt.status_code, 200);
        assert.equal(attempt.error, null);
        assert.ok(attempt.duration_ms < 2000, `reading a capped 100 MB answer took ${attempt.duration_ms} ms`);
        const snippet = attempt.response_snippet ?? "";
        assert.ok(snippet.length > 0 && snippet.length <= MAX_RESPONSE_BYTES, `snippet of ${snippet.length} chars`);
      }
    }
    const afterKb = rssKb(pid);
    const growthMb = (afterKb - baselineKb) / 1024;
    assert.ok(growthMb < 50, `RSS grew by ${growthMb.toFixed(1)} MB over ${ROUNDS * PER_ROUND} responses of 100 MB`);

    // Hookline hung up long before the 100 MB were through.
    await eventually(
      () => (accepted.length === ROUNDS * PER_ROUND + 1 ? true : undefined),
      5000,
      "all responses closed",
    );
    for (const bytes of accepted) assert.ok(bytes < RESPONSE_BYTES, `receiver pushed ${bytes} bytes: body was drained`);

    assert.equal((await apiClient(server.url).get("/healthz")).status, 200);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  });
});
