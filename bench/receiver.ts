import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { notify, serveRpc } from "./ipc.ts";
import { deliveryKey, HANG_PREFIX, schedOf } from "./payloads.ts";
import { type LatencySummary, monoMs, summarize, wallClock } from "./stats.ts";

/**
 * The webhook receiver process: node:http on loopback, answers 204 after a
 * configurable delay, and keeps a ledger so a run can prove nothing went
 * missing and count duplicates.
 *
 * A delivery is known by its path and `webhook-id` (one event fanned out to
 * many endpoints arrives with the same webhook-id on each endpoint's path), so
 * ledger keys are `deliveryKey(path, id)`. For a body that carries `sched_ms`
 * (payloads.timedEventJson), the latency of the first arrival is recorded:
 * arrival − scheduled send time, on the machine's monotonic clock.
 *
 * Paths under HANG_PREFIX are never answered (a receiver that hangs until the
 * sender gives up). The receiver can also hold every response until released,
 * so a drain starts from a known backlog.
 */

export interface Ledger {
  /** Deliveries the run published (the expected set). */
  published: number;
  /** Expected deliveries that arrived at least once. */
  delivered: number;
  /** Expected deliveries that never arrived. */
  missing: number;
  /** Requests beyond the first for the same delivery. */
  duplicates: number;
  /** Requests that are not an expected delivery (or had no webhook-id), hanging paths aside. */
  unexpected: number;
  /** Requests to hanging paths (HANG_PREFIX). */
  hung: number;
  requests: number;
  /** Requests waiting for `release`. */
  held: number;
  /** Expected deliveries whose first request has been answered. */
  answered: number;
  /** Wall-clock milliseconds (see stats.wallClock), or null. */
  releasedAt: number | null;
  completeAt: number | null;
}

export interface ArrivalReport {
  ledger: Ledger;
  /** First arrival − scheduled send time of the expected deliveries that carry one (scheduled from `schedFrom`), ms. */
  latency: LatencySummary | null;
  /** Expected deliveries whose first arrival fell inside [from, to] (monotonic ms), when asked. */
  arrivedInWindow: number | null;
  /** First and last first-arrival of an expected delivery (monotonic ms). */
  firstArrival: number | null;
  lastArrival: number | null;
  /** Latency by scheduled send time, in buckets of `bucketMs` from `schedFrom`, when both are given. */
  timeline: { fromMs: number; count: number; p50: number; p99: number; max: number }[] | null;
}

export interface ReceiverApi {
  /** Forgets every request seen; opens the gate; drops hanging requests. */
  reset(params: null): void;
  configure(params: { delayMs: number }): void;
  /** Adds deliveries (deliveryKey) to the expected set (requests seen before count too); reports the ledger. */
  expect(params: { keys: string[] }): Ledger;
  /** From now on, requests are read and recorded but not answered until `release`. */
  hold(params: null): void;
  /** Answers every held request and stops holding. */
  release(params: null): Ledger;
  ledger(params: null): Ledger;
  /**
   * The ledger with latency of the expected deliveries; only those whose key
   * starts with `prefix` (a path) or ends with `suffix` (" " + a webhook-id), when given.
   */
  report(params: ReportParams): ArrivalReport;
}

const { values } = parseArgs({ options: { "delay-ms": { type: "string", default: "0" } } });
let delayMs = Number(values["delay-ms"]);

interface Seen {
  /** Requests for this delivery. */
  count: number;
  /** First arrival, monotonic ms. */
  at: number;
  /** First arrival − sched_ms, or NaN. */
  latency: number;
  answered: boolean;
}

let seen = new Map<string, Seen>();
let expected = new Set<string>();
let deliveredExpected = 0;
let answeredExpected = 0;
let duplicates = 0;
let requests = 0;
/** Requests without a webhook-id, and requests for deliveries not (yet) expected; hanging paths aside. */
let noId = 0;
let unexpectedKeyed = 0;
let hung = 0;
let holding = false;
let held: { res: ServerResponse; key: string | null }[] = [];
let hanging = new Set<ServerResponse>();
let releasedAt: number | null = null;
let completeAt: number | null = null;

function reset() {
  for (const request of held) answer(request.res, request.key);
  for (const res of hanging) res.destroy();
  seen = new Map();
  expected = new Set();
  deliveredExpected = 0;
  answeredExpected = 0;
  duplicates = 0;
  requests = 0;
  noId = 0;
  unexpectedKeyed = 0;
  hung = 0;
  holding = false;
  held = [];
  hanging = new Set();
  releasedAt = null;
  completeAt = null;
}

function ledger(): Ledger {
  return {
    published: expected.size,
    delivered: deliveredExpected,
    missing: expected.size - deliveredExpected,
    duplicates,
    unexpected: noId + unexpectedKeyed,
    hung,
    requests,
    held: held.length,
    answered: answeredExpected,
    releasedAt,
    completeAt,
  };
}

function checkComplete() {
  if (completeAt === null && expected.size > 0 && answeredExpected === expected.size) {
    completeAt = wallClock();
    notify("complete", { completeAt });
  }
}

function answer(res: ServerResponse, key: string | null) {
  res.writeHead(204).end();
  if (key === null) return;
  const entry = seen.get(key);
  if (!entry || entry.answered) return;
  entry.answered = true;
  if (expected.has(key)) {
    answeredExpected++;
    checkComplete();
  }
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const header = req.headers["webhook-id"];
  const id = Array.isArray(header) ? header[0] : header;
  const path = req.url ?? "/";
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => {
    body += chunk;
  });
  req.on("end", () => {
    const at = monoMs();
    requests++;
    const hang = path.startsWith(HANG_PREFIX);
    const key = id === undefined ? null : deliveryKey(path, id);
    if (hang) hung++;
    if (key === null) {
      if (!hang) noId++;
    } else {
      const entry = seen.get(key);
      if (entry) {
        entry.count++;
        duplicates++;
      } else {
        seen.set(key, { count: 1, at, latency: at - schedOf(body), answered: false });
        if (expected.has(key)) deliveredExpected++;
      }
      if (!hang && !expected.has(key)) unexpectedKeyed++;
    }
    if (hang) {
      hanging.add(res);
      res.once("close", () => hanging.delete(res));
    } else if (holding) held.push({ res, key });
    else if (delayMs > 0) setTimeout(() => answer(res, key), delayMs);
    else answer(res, key);
  });
});

export interface ReportParams {
  prefix?: string;
  suffix?: string;
  /** Count first arrivals in [from, to] (monotonic ms). */
  from?: number;
  to?: number;
  /** Latency only of deliveries scheduled from then on (monotonic ms). */
  schedFrom?: number;
  bucketMs?: number;
}

function report(params: ReportParams): ArrivalReport {
  const { prefix, suffix, from, to, schedFrom, bucketMs } = params;
  const buckets: number[][] = [];
  const latencies: number[] = [];
  let published = 0;
  let delivered = 0;
  let answered = 0;
  let inWindow = 0;
  let firstArrival = Number.POSITIVE_INFINITY;
  let lastArrival = Number.NEGATIVE_INFINITY;
  for (const key of expected) {
    if (prefix !== undefined && !key.startsWith(prefix)) continue;
    if (suffix !== undefined && !key.endsWith(suffix)) continue;
    published++;
    const entry = seen.get(key);
    if (!entry) continue;
    delivered++;
    if (entry.answered) answered++;
    // Latency only of deliveries scheduled from `schedFrom` on (after a warm-up); sched = at − latency.
    if (!Number.isNaN(entry.latency) && (schedFrom === undefined || entry.at - entry.latency >= schedFrom)) {
      latencies.push(entry.latency);
      if (schedFrom !== undefined && bucketMs) {
        const bucket = Math.floor((entry.at - entry.latency - schedFrom) / bucketMs);
        const samples = buckets[bucket] ?? [];
        samples.push(entry.latency);
        buckets[bucket] = samples;
      }
    }
    if (from !== undefined && to !== undefined && entry.at >= from && entry.at <= to) inWindow++;
    firstArrival = Math.min(firstArrival, entry.at);
    lastArrival = Math.max(lastArrival, entry.at);
  }
  const all = ledger();
  return {
    ledger:
      prefix === undefined && suffix === undefined
        ? all
        : { ...all, published, delivered, missing: published - delivered, answered, completeAt: null },
    latency: summarize(latencies),
    arrivedInWindow: from !== undefined && to !== undefined ? inWindow : null,
    firstArrival: delivered ? firstArrival : null,
    lastArrival: delivered ? lastArrival : null,
    timeline:
      schedFrom !== undefined && bucketMs
        ? Array.from(buckets, (samples, i) => {
            const summary = summarize(samples ?? []);
            return {
              fromMs: i * bucketMs,
              count: summary?.count ?? 0,
              p50: summary?.p50 ?? 0,
              p99: summary?.p99 ?? 0,
              max: summary?.max ?? 0,
            };
          })
        : null,
  };
}

serveRpc<ReceiverApi>(
  {
    reset,
    configure(params) {
      delayMs = params.delayMs;
    },
    expect(params) {
      for (const key of params.keys) {
        if (expected.has(key)) continue;
        expected.add(key);
        const entry = seen.get(key);
        if (entry) {
          deliveredExpected++;
          if (entry.answered) answeredExpected++;
        }
      }
      // Requests seen before their key was expected were not counted as unexpected then; recount.
      unexpectedKeyed = 0;
      for (const [key, entry] of seen) {
        if (!expected.has(key) && !key.startsWith(HANG_PREFIX)) unexpectedKeyed += entry.count;
      }
      checkComplete();
      return ledger();
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      releasedAt = wallClock();
      const waiting = held;
      held = [];
      for (const request of waiting) {
        if (delayMs > 0) setTimeout(() => answer(request.res, request.key), delayMs);
        else answer(request.res, request.key);
      }
      return ledger();
    },
    ledger,
    report,
  },
  () => server.closeAllConnections(),
);

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  notify("ready", { url: `http://127.0.0.1:${port}` });
});
