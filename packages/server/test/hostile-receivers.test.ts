import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { constants, crc32, deflateRawSync } from "node:zlib";
import { type AttemptJson, attemptsOf, finalDelivery } from "./helpers/api.ts";
import { type ApiClient, apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, type Receiver, startReceiver } from "./helpers/receiver.ts";

// Receivers built to hurt the sender: bodies that never end or claim 10 GB, a gzip
// bomb, header bombs, a redirect loop, TLS that never completes or is garbage, a
// peer that never reads. Against one real `hookline serve` process, each must cost
// one slot for at most the attempt deadline and a bounded amount of memory, be
// logged with a fitting error, and leave the process healthy.

const DEADLINE = 2000;
/** Generous: a busy 2-core machine must not make these flaky. */
const MARGIN = 4000;
const MAX_RESPONSE_BYTES = 65_536;
const CONCURRENCY = 12;
/** Raised for the one test that needs a request larger than loopback's socket buffers. */
const MAX_BODY_BYTES = 8 << 20;

/** One TCP connection as the receiver saw it. */
interface Connection {
  openedAt: number;
  closedAt: number | null;
  /** Bytes the client sent; null while the receiver does not read. */
  bytesIn: number | null;
  /**
   * Since when the receiver reads, and so can see the close: a socket never read
   * never learns that its peer hung up. Those are read only at the end.
   */
  readingSince: number;
  /** Bytes handed to the socket (some may never have left the receiver). */
  bytesOut: number;
}

interface RawReceiver {
  url: string;
  connections: Connection[];
  /**
   * Asserts that `attempts` attempts cost one connection each, all dropped (reading
   * the unread ones first). undici 7 opens one spare connection after a request in
   * flight is aborted (nodejs/undici#5845): it never carries a request and idles
   * until undici's keep-alive timeout unless reused; at most one per attempt is tolerated.
   */
  assertOneConnectionPerAttempt(attempts: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that hands each connection to `onSocket`, for answers
 * no HTTP or TLS library would give. `scheme` only shapes the URL it reports.
 */
async function startRawReceiver(
  onSocket: (socket: Socket, connection: Connection) => void,
  scheme: "http" | "https" = "http",
): Promise<RawReceiver> {
  const sockets = new Set<Socket>();
  const connections: Connection[] = [];
  const unread = new Map<Socket, Connection>();
  const server = createServer((socket) => {
    const now = Date.now();
    const connection: Connection = { openedAt: now, closedAt: null, bytesIn: null, readingSince: now, bytesOut: 0 };
    connections.push(connection);
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => {
      connection.closedAt = Date.now();
      sockets.delete(socket);
    });
    onSocket(socket, connection);
    if (socket.isPaused()) unread.set(socket, connection);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}/`,
    connections,
    async assertOneConnectionPerAttempt(attempts, what) {
      for (const [socket, connection] of unread) {
        connection.bytesIn = 0;
        connection.readingSince = Date.now();
        socket.on("data", (chunk: Buffer) => {
          connection.bytesIn = (connection.bytesIn ?? 0) + chunk.length;
        });
        socket.resume();
      }
      unread.clear();
      // The attempts' connections opened first (a spare one only once an attempt was cut).
      const used = connections.slice(0, attempts);
      const open = () => used.filter((c) => c.closedAt === null).map((c) => `${Date.now() - c.readingSince} ms`);
      await eventually(() => (open().length === 0 ? true : undefined), DEADLINE + MARGIN, "closed").catch(() =>
        assert.fail(`${what}: connections still open after ${open().join(", ")}`),
      );
      assert.equal(used.length, attempts, `${what}: ${used.length} connections for ${attempts} attempts`);
      for (const c of used) {
        assert.notEqual(c.bytesIn, 0, `${what}: a connection carried no request`);
        // Dropped by the deadline; one read only now must have been dropped already.
        const held = (c.closedAt as number) - c.readingSince;
        assert.ok(held < DEADLINE + MARGIN, `${what}: connection held ${held} ms`);
      }
      const spare = connections.slice(attempts);
      assert.ok(spare.length <= attempts, `${what}: ${connections.length} connections for ${attempts} attempts`);
      for (const c of spare) assert.ok(!c.bytesIn, `${what}: a second connection carried ${c.bytesIn} bytes`);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads (and counts) whatever the client sends; `respond` runs once, when the request starts arriving. */
function onRequest(socket: Socket, connection: Connection, respond: () => void) {
  connection.bytesIn = 0;
  socket.on("data", (chunk: Buffer) => {
    const first = connection.bytesIn === 0;
    connection.bytesIn = (connection.bytesIn ?? 0) + chunk.length;
    if (first) respond();
  });
}

/** Writes `next()` as fast as the socket takes it, until the peer goes away. */
function pumpForever(socket: Socket, connection: Connection, next: () => Buffer | string) {
  const pump = () => {
    while (!socket.destroyed && socket.writable) {
      const chunk = next();
      connection.bytesOut += chunk.length;
      if (!socket.write(chunk)) {
        socket.once("drain", pump);
        return;
      }
    }
  };
  pump();
}

/**
 * A valid gzip stream that inflates to `mebibytes` MiB of zeros from about 1 KiB per
 * MiB: one deflate block of a MiB of zeros, ended on a byte boundary, repeats
 * verbatim because its back-references only ever point at zeros.
 */
function gzipBomb(mebibytes: number): Buffer {
  const mebibyte = Buffer.alloc(1 << 20);
  const block = deflateRawSync(mebibyte, { level: 9, finishFlush: constants.Z_SYNC_FLUSH });
  let crc = 0;
  for (let i = 0; i < mebibytes; i++) crc = crc32(mebibyte, crc);
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
  const finalEmptyBlock = Buffer.from([3, 0]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE((mebibytes * (1 << 20)) >>> 0, 4);
  return Buffer.concat([header, ...Array<Buffer>(mebibytes).fill(block), finalEmptyBlock, trailer]);
}

const statusKb = (pid: number, field: "VmRSS" | "VmHWM") => {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(match, `${field} readable`);
  return Number(match[1]);
};

/**
 * Peak resident memory of a process from now on: the kernel's high-water mark,
 * reset through clear_refs; where that reset is refused, the largest of samples.
 */
function watchMemory(pid: number) {
  let sampledKb = statusKb(pid, "VmRSS");
  let kernelPeak = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    kernelPeak = false;
  }
  const timer = setInterval(() => {
    sampledKb = Math.max(sampledKb, statusKb(pid, "VmRSS"));
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      const nowKb = statusKb(pid, "VmRSS");
      return { peakKb: Math.max(sampledKb, nowKb, kernelPeak ? statusKb(pid, "VmHWM") : 0), nowKb };
    },
  };
}

const mb = (kb: number) => (kb / 1024).toFixed(1);
const ms = (iso: string) => Date.parse(iso);

/** A receiver that answers the status line and then dribbles one header byte a second, forever. */
const headerDrip = () =>
  startRawReceiver((socket, connection) =>
    onRequest(socket, connection, () => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-drip: ");
      const timer = setInterval(() => socket.write("z"), 1000);
      socket.on("close", () => clearInterval(timer));
    }),
  );
/** Accepts TCP on an https:// URL, takes the ClientHello, never answers it. */
const silentTls = () => startRawReceiver((socket, connection) => onRequest(socket, connection, () => {}), "https");
/** Accepts and never reads a byte: the sender's writes fill the socket buffers and stall. */
const neverReads = () => startRawReceiver((socket) => socket.pause());

/** One hostile receiver and what its attempts must look like. */
interface Hostile {
  name: string;
  url: string;
  raw?: RawReceiver;
  loop?: Receiver;
  retrySchedule: string[];
  data?: Record<string, unknown>;
  /** The attempt can only end at the deadline. */
  hangs: boolean;
  check(attempt: AttemptJson): void;
}

const answered = (snippet: string) => (attempt: AttemptJson) => {
  assert.equal(attempt.status_code, 200);
  assert.equal(attempt.error, null);
  assert.equal(attempt.response_snippet, snippet);
};
const failed = (error: string) => (attempt: AttemptJson) => {
  assert.equal(attempt.error, error);
  assert.equal(attempt.status_code, null);
};

/** A fresh receiver of every hostile kind. */
async function hostileReceivers(bomb: Buffer): Promise<Hostile[]> {
  const TEN_GB = 10 * 1024 ** 3;
  const xs = Buffer.alloc(64 * 1024, "x");
  const chunk = Buffer.concat([Buffer.from(`${xs.length.toString(16)}\r\n`), xs, Buffer.from("\r\n")]);
  const capped = "x".repeat(MAX_RESPONSE_BYTES);
  const rows: Hostile[] = [];
  const raw = (name: string, receiver: RawReceiver, fields: Pick<Hostile, "hangs" | "check" | "data">) =>
    rows.push({ name, url: receiver.url, raw: receiver, retrySchedule: [], ...fields });

  raw(
    "endless chunked body",
    await startRawReceiver((socket, connection) =>
      onRequest(socket, connection, () => {
        socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n");
        pumpForever(socket, connection, () => chunk);
      }),
    ),
    { hangs: false, check: answered(capped) },
  );
  raw(
    "10 GB body",
    await startRawReceiver((socket, connection) =>
      onRequest(socket, connection, () => {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${TEN_GB}\r\n\r\n`);
        pumpForever(socket, connection, () => xs);
      }),
    ),
    { hangs: false, check: answered(capped) },
  );
  raw(
    "gzip bomb (1 MB inflating to 1 GiB)",
    await startRawReceiver((socket, connection) =>
      onRequest(socket, connection, () => {
        socket.write(
          "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\n" +
            `content-length: ${bomb.length}\r\n\r\n`,
        );
        connection.bytesOut += bomb.length;
        socket.end(bomb);
      }),
    ),
    // The compressed bytes as they came, cut at the cap, never inflated; as text, with NUL
    // (which PostgreSQL's text refuses) shown like any other invalid byte.
    {
      hangs: false,
      check: answered(bomb.subarray(0, MAX_RESPONSE_BYTES).toString("utf8").replaceAll("\u0000", "\uFFFD")),
    },
  );
  raw(
    "10,000 headers",
    await startRawReceiver((socket, connection) =>
      onRequest(socket, connection, () => {
        const headers = Array.from({ length: 10_000 }, (_, i) => `x-h${i}: v\r\n`).join("");
        socket.end(`HTTP/1.1 200 OK\r\n${headers}content-length: 2\r\n\r\nok`);
      }),
    ),
    { hangs: false, check: failed("too_large") },
  );
  raw(
    "one header line that never ends",
    await startRawReceiver((socket, connection) =>
      onRequest(socket, connection, () => {
        socket.write("HTTP/1.1 200 OK\r\nx-bomb: ");
        pumpForever(socket, connection, () => xs);
      }),
    ),
    { hangs: false, check: failed("too_large") },
  );
  raw("headers dripped a byte a second", await headerDrip(), { hangs: true, check: failed("timeout") });
  raw("TLS that never answers the ClientHello", await silentTls(), { hangs: true, check: failed("timeout") });
  raw(
    "TLS answered with garbage",
    await startRawReceiver(
      (socket, connection) =>
        onRequest(socket, connection, () =>
          pumpForever(socket, connection, () => "this is not TLS at all\r\n".repeat(100)),
        ),
      "https",
    ),
    { hangs: false, check: failed("tls") },
  );
  raw("accepts and never reads (250 KB event)", await neverReads(), {
    hangs: true,
    data: { blob: "x".repeat(250_000) },
    check: failed("timeout"),
  });
  const loop = await startReceiver((_request, res) => {
    res.writeHead(302, { location: `${loop.url}/again` });
    res.end();
  });
  rows.push({
    name: "redirect to itself, forever",
    url: loop.url,
    loop,
    retrySchedule: ["100ms", "100ms"],
    hangs: false,
    check(attempt) {
      assert.equal(attempt.status_code, 302);
      assert.equal(attempt.error, null);
    },
  });
  return rows;
}

describe("hostile receivers (real server process)", () => {
  let dir: ReturnType<typeof tempDir>;
  let server: ServerProcess;
  let client: ApiClient;
  const bomb = gzipBomb(1024);

  before(async () => {
    dir = tempDir();
    server = await spawnServer(dir.path, {
      HOOKLINE_ATTEMPT_TIMEOUT: `${DEADLINE}ms`,
      HOOKLINE_LEASE: "15s",
      HOOKLINE_SHUTDOWN_TIMEOUT: "2s",
      HOOKLINE_CONCURRENCY: String(CONCURRENCY),
      HOOKLINE_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
      HOOKLINE_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    });
    client = apiClient(server.url, printedKeys(server.stdout()).test);
  });
  after(async () => {
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill("SIGKILL");
      await server.exited;
    }
    dir.remove();
  });

  async function endpointFor(type: string, url: string, retrySchedule: string[] = []): Promise<string> {
    const created = await client.post("/v1/endpoints", { url, event_types: [type], retry_schedule: retrySchedule });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }
  async function sendEvent(type: string, data: Record<string, unknown> = {}): Promise<string> {
    const sent = await client.post("/v1/events", { type, data });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    return sent.body.id;
  }
  async function deliverOne(type: string) {
    const fine = await startReceiver(answer(200, "fine"));
    try {
      const endpoint = await endpointFor(type, fine.url);
      const eventId = await sendEvent(type);
      assert.equal((await finalDelivery(client, eventId, endpoint)).status, "succeeded");
    } finally {
      await fine.close();
    }
  }

  /**
   * Fresh receivers of every kind, one event each, all at once; checks every
   * attempt's log entry, its duration and the connections it cost. Returns a line per kind.
   */
  async function hostileRound(round: number): Promise<string[]> {
    const rows = await hostileReceivers(bomb);
    assert.ok(rows.length < CONCURRENCY, "every hostile attempt has a slot at once");
    try {
      const endpoints: string[] = [];
      for (const [i, row] of rows.entries()) {
        endpoints.push(await endpointFor(`hostile.${round}.${i}`, row.url, row.retrySchedule));
      }
      const sentAt = Date.now();
      const eventIds = await Promise.all(rows.map((row, i) => sendEvent(`hostile.${round}.${i}`, row.data)));
      const lines: string[] = [];
      await Promise.all(
        rows.map(async (row, i) => {
          const delivery = await finalDelivery(client, eventIds[i] as string, endpoints[i] as string, 30_000);
          const attempts = await attemptsOf(client, delivery.id);
          assert.equal(attempts.length, 1 + row.retrySchedule.length, `${row.name}: ${attempts.length} attempts`);
          // A 200 counts as delivered however its body misbehaved after it.
          const acknowledged = attempts.some((a) => a.status_code === 200);
          assert.equal(delivery.status, acknowledged ? "succeeded" : "failed", row.name);
          for (const attempt of attempts) {
            const took = attempt.duration_ms;
            assert.ok(took < DEADLINE + MARGIN, `${row.name}: attempt lasted ${took} ms`);
            if (row.hangs) assert.ok(took >= DEADLINE - 50, `${row.name}: ended after ${took} ms`);
            try {
              row.check(attempt);
            } catch (error) {
              const { response_snippet, ...logged } = attempt;
              throw new Error(`${row.name}: ${JSON.stringify(logged)}`, { cause: error });
            }
          }
          const lastEnd = Math.max(...attempts.map((a) => ms(a.started_at) + a.duration_ms));
          assert.ok(lastEnd - sentAt < DEADLINE + MARGIN, `${row.name}: ended ${lastEnd - sentAt} ms after sending`);
          await row.raw?.assertOneConnectionPerAttempt(attempts.length, row.name);
          for (const c of row.raw?.connections ?? []) {
            assert.ok(c.bytesOut < 64 << 20, `${row.name}: the receiver pushed ${c.bytesOut} bytes`);
          }
          if (row.loop) {
            // Never followed: one request per attempt reached the loop, none its Location.
            assert.equal(row.loop.requests.length, attempts.length);
            assert.ok(row.loop.requests.every((r) => r.url === "/"));
          }
          const pushed = Math.max(0, ...(row.raw?.connections ?? []).map((c) => c.bytesOut));
          lines.push(
            `${row.name}: ${attempts.map((a) => `${a.status_code ?? a.error} in ${a.duration_ms} ms`).join(", ")}` +
              (pushed ? `; receiver pushed ${mb(pushed / 1024)} MB` : ""),
          );
        }),
      );
      return lines;
    } finally {
      for (const row of rows) await (row.raw ?? row.loop)?.close();
    }
  }

  it("every kind at once: each ends by the deadline with a fitting log entry and one connection, memory stays bounded", async () => {
    const pid = server.child.pid as number;
    // Warm up the plain path (claim, send, record) before the first baseline.
    await deliverOne("warmup.plain");
    const plainKb = statusKb(pid, "VmRSS");
    // The first round doubles as the warm-up for the hostile paths (TLS, large headers, V8's
    // heap growing to the load): memory that is paid once, not per hostile receiver.
    const firstRound = watchMemory(pid);
    const lines = await hostileRound(1);
    const first = firstRound.stop();
    const baselineKb = statusKb(pid, "VmRSS");
    const memory = watchMemory(pid);
    for (const round of [2, 3]) await hostileRound(round);
    const { peakKb, nowKb } = memory.stop();
    console.log(
      [
        ...lines,
        `RSS: ${mb(plainKb)} MB after a plain delivery; first hostile round peak +${mb(first.peakKb - plainKb)} MB`,
        `RSS: baseline ${mb(baselineKb)} MB; two more rounds peak +${mb(peakKb - baselineKb)} MB, ` +
          `after +${mb(nowKb - baselineKb)} MB`,
      ]
        .map((line) => `# ${line}`)
        .join("\n"),
    );
    const growthMb = (peakKb - baselineKb) / 1024;
    assert.ok(growthMb < 50, `RSS grew by ${growthMb.toFixed(1)} MB over two rounds of every hostile kind`);

    await deliverOne("after.hostile");
    assert.equal((await apiClient(server.url).get("/healthz")).status, 200);
  });

  it("a peer that never reads a request larger than the socket buffers: the blocked write ends at the deadline", async () => {
    const receiver = await neverReads();
    const blob = "x".repeat(6_000_000);
    try {
      const endpoint = await endpointFor("unread.big", receiver.url);
      const sentAt = Date.now();
      const eventId = await sendEvent("unread.big", { blob });
      const delivery = await finalDelivery(client, eventId, endpoint, 30_000);
      assert.equal(delivery.status, "failed");
      const attempts = await attemptsOf(client, delivery.id);
      assert.equal(attempts.length, 1);
      const [attempt] = attempts as [AttemptJson];
      assert.equal(attempt.error, "timeout");
      const took = attempt.duration_ms;
      assert.ok(took >= DEADLINE - 50 && took < DEADLINE + MARGIN, `attempt lasted ${took} ms`);
      const end = ms(attempt.started_at) + took;
      assert.ok(end - sentAt < DEADLINE + MARGIN, `ended ${end - sentAt} ms after sending`);
      // Read at last: only what the kernel's buffers took got through, then Hookline's close.
      await receiver.assertOneConnectionPerAttempt(1, "never reads");
      const bytes = receiver.connections[0]?.bytesIn ?? 0;
      assert.ok(
        bytes > 0 && bytes < blob.length,
        `${bytes} of ${blob.length} bytes got through: the write never blocked`,
      );
      console.log(`# never reads: ${bytes} bytes of a ${blob.length}-byte body got through before the deadline`);
    } finally {
      await receiver.close();
    }
  });

  it("each costs one slot: with every slot but one held by hanging receivers, a fast endpoint still gets its events", async () => {
    const hanging = [await headerDrip(), await silentTls(), await neverReads()];
    const fast = await startReceiver(answer(204));
    try {
      // Every slot but one, spread over the hanging kinds.
      const events = hanging.map((_, i) => Math.floor((CONCURRENCY - 1 + i) / hanging.length));
      assert.equal(
        events.reduce((a, b) => a + b),
        CONCURRENCY - 1,
      );
      const endpoints: string[] = [];
      for (const [i, receiver] of hanging.entries()) endpoints.push(await endpointFor(`slots.${i}`, receiver.url));
      const fastEndpoint = await endpointFor("slots.fast", fast.url);
      const hangingIds: string[][] = [];
      for (const [i, count] of events.entries()) {
        hangingIds.push(await Promise.all(Array.from({ length: count }, (_, n) => sendEvent(`slots.${i}`, { n }))));
      }
      await eventually(
        () => (hanging.every((r, i) => r.connections.length === events[i]) ? true : undefined),
        DEADLINE,
        "every hanging attempt connected",
      );

      const FAST = 10;
      const fastIds = await Promise.all(Array.from({ length: FAST }, (_, n) => sendEvent("slots.fast", { n })));
      await fast.waitFor(FAST, DEADLINE + MARGIN);
      const lastFast = Math.max(...fast.requests.map((r) => r.receivedAt));
      const firstRelease = Math.min(...hanging.flatMap((r) => r.connections.map((c) => c.closedAt ?? Infinity)));
      assert.ok(lastFast < firstRelease, "the fast endpoint waited for a hanging attempt to end");
      for (const id of fastIds) assert.equal((await finalDelivery(client, id, fastEndpoint)).status, "succeeded");

      // Each hanging attempt held its one connection until the deadline, not longer.
      for (const [i, ids] of hangingIds.entries()) {
        for (const id of ids) {
          const delivery = await finalDelivery(client, id, endpoints[i] as string, 30_000);
          const attempts = await attemptsOf(client, delivery.id);
          assert.equal(attempts.length, 1);
          const [attempt] = attempts as [AttemptJson];
          assert.equal(attempt.error, "timeout");
          const took = attempt.duration_ms;
          assert.ok(took >= DEADLINE - 50 && took < DEADLINE + MARGIN, `attempt lasted ${took} ms`);
        }
        await hanging[i]?.assertOneConnectionPerAttempt(events[i] as number, `hanging receiver ${i}`);
      }
    } finally {
      for (const receiver of hanging) await receiver.close();
      await fast.close();
    }
  });

  it("shuts down cleanly after all of that", async () => {
    assert.equal((await apiClient(server.url).get("/healthz")).status, 200);
    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0);
  });
});
