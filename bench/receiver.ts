import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { notify, serveRpc } from "./ipc.ts";
import { wallClock } from "./stats.ts";

/**
 * The webhook receiver process: node:http on loopback, answers 204 after a
 * configurable delay, and keeps a ledger of requests per `webhook-id` so a run
 * can prove nothing went missing and count duplicates. It can also hold every
 * response until released, so a drain starts from a known backlog.
 */

export interface Ledger {
  /** Ids the run published (the expected set). */
  published: number;
  /** Expected ids that arrived at least once. */
  delivered: number;
  /** Expected ids that never arrived. */
  missing: number;
  /** Requests beyond the first for the same webhook-id. */
  duplicates: number;
  /** Requests whose webhook-id is not in the expected set (or that had none). */
  unexpected: number;
  requests: number;
  /** Requests waiting for `release`. */
  held: number;
  /** Expected ids whose first request has been answered. */
  answered: number;
  /** Wall-clock milliseconds (see stats.wallClock), or null. */
  releasedAt: number | null;
  completeAt: number | null;
}

export interface ReceiverApi {
  /** Forgets every request seen; opens the gate. */
  reset(params: null): void;
  configure(params: { delayMs: number }): void;
  /** Sets the expected ids (requests seen before count too) and reports the ledger. */
  expect(params: { ids: string[] }): Ledger;
  /** From now on, requests are read and recorded but not answered until `release`. */
  hold(params: null): void;
  /** Answers every held request and stops holding. */
  release(params: null): Ledger;
  ledger(params: null): Ledger;
}

const { values } = parseArgs({ options: { "delay-ms": { type: "string", default: "0" } } });
let delayMs = Number(values["delay-ms"]);

/** Requests per webhook-id. */
let seen = new Map<string, number>();
/** Ids whose first request got its answer. */
let answered = new Set<string>();
let expected = new Set<string>();
let answeredExpected = 0;
let requests = 0;
let unexpected = 0;
let holding = false;
let held: { res: ServerResponse; id: string | undefined }[] = [];
let releasedAt: number | null = null;
let completeAt: number | null = null;

function reset() {
  for (const request of held) answer(request.res, request.id);
  seen = new Map();
  answered = new Set();
  expected = new Set();
  answeredExpected = 0;
  requests = 0;
  unexpected = 0;
  holding = false;
  held = [];
  releasedAt = null;
  completeAt = null;
}

function ledger(): Ledger {
  let delivered = 0;
  for (const id of expected) if (seen.has(id)) delivered++;
  let duplicates = 0;
  for (const count of seen.values()) duplicates += count - 1;
  return {
    published: expected.size,
    delivered,
    missing: expected.size - delivered,
    duplicates,
    unexpected,
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

function answer(res: ServerResponse, id: string | undefined) {
  res.writeHead(204).end();
  if (id === undefined || answered.has(id)) return;
  answered.add(id);
  if (expected.has(id)) {
    answeredExpected++;
    checkComplete();
  }
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const header = req.headers["webhook-id"];
  const id = Array.isArray(header) ? header[0] : header;
  req.resume();
  req.on("end", () => {
    requests++;
    if (id === undefined) unexpected++;
    else {
      seen.set(id, (seen.get(id) ?? 0) + 1);
      if (!expected.has(id) && expected.size > 0) unexpected++;
    }
    if (holding) held.push({ res, id });
    else if (delayMs > 0) setTimeout(() => answer(res, id), delayMs);
    else answer(res, id);
  });
});

serveRpc<ReceiverApi>(
  {
    reset,
    configure(params) {
      delayMs = params.delayMs;
    },
    expect(params) {
      expected = new Set(params.ids);
      answeredExpected = 0;
      unexpected = 0;
      for (const [id, count] of seen) if (!expected.has(id)) unexpected += count;
      for (const id of answered) if (expected.has(id)) answeredExpected++;
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
        if (delayMs > 0) setTimeout(() => answer(request.res, request.id), delayMs);
        else answer(request.res, request.id);
      }
      return ledger();
    },
    ledger,
  },
  () => server.closeAllConnections(),
);

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  notify("ready", { url: `http://127.0.0.1:${port}` });
});
