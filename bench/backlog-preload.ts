import { loadConfig } from "../packages/server/src/config.ts";
import { decideOutcome } from "../packages/server/src/delivery/outcome-policy.ts";
import { signatureHeader } from "../packages/server/src/delivery/signature.ts";
import { hashKey } from "../packages/server/src/ids.ts";
import { createSqliteStore } from "../packages/server/src/store/sqlite/sqlite-store.ts";
import type { Claim, IngestRequest, Outcome } from "../packages/server/src/store/store.ts";
import { notify, serveRpc } from "./ipc.ts";
import { dataOf, eventJson } from "./payloads.ts";
import { round } from "./stats.ts";

/**
 * Builds S6's backlog in a stopped Hookline's data dir, through the server's
 * own store code (never hand-written SQL), in the state the server itself
 * leaves a delivery after a failed first attempt:
 *
 *  1. `store.ingest` — what POST /v1/events/batch commits: events of a type the
 *     backlog endpoints subscribe to, one delivery per endpoint, due now;
 *  2. `store.settle` — the dispatcher's own transaction: claim the due
 *     deliveries under a lease, then record for each an attempt answered 500,
 *     its outcome decided by the server's `decideOutcome` with the endpoint's
 *     retry schedule ["1h"]: pending, next attempt in 1 h (± 5 % jitter).
 *
 * Only the HTTP round trip is skipped (the receiver's 500 is taken as given),
 * which makes a million failed attempts take seconds instead of many minutes.
 */

export interface PreloadParams {
  dataDir: string;
  /** The TEST key of the account that owns the backlog endpoints. */
  key: string;
  /** Events to ingest; each fans out to every endpoint of the account subscribed to `eventType`. */
  events: number;
  eventType: string;
  /** Events per ingest transaction (the API's batch limit is 1000 per request). */
  eventsPerCommit: number;
  /** Deliveries claimed and failed per settle transaction. */
  claimsPerCycle: number;
  /**
   * Claims per endpoint and cycle. With it at claimsPerCycle / endpoints, every
   * cycle takes the oldest events' deliveries for all endpoints: rows that sit
   * together in the table, so the preload does not thrash SQLite's page cache.
   */
  perEndpoint: number;
}

export interface PreloadResult {
  events: number;
  deliveries: number;
  failedAttempts: number;
  /** The first and the last event, for a look through the API afterwards. */
  sampleEventIds: string[];
  ingestMs: number;
  attemptsMs: number;
  /** Earliest and latest next attempt, in ms from the end of the preload. */
  nextAttemptInMs: { min: number; max: number } | null;
}

export interface PreloadApi {
  preload(params: PreloadParams): Promise<PreloadResult>;
}

const PROGRESS_EVERY_MS = 1000;
/** The server's defaults: the rows written are what `hookline serve` would write. */
const DEFAULTS = loadConfig();

async function preload(params: PreloadParams): Promise<PreloadResult> {
  const store = createSqliteStore(params.dataDir);
  try {
    const scope = await store.findKey(hashKey(params.key));
    if (!scope) throw new Error("the backlog account's key is unknown to the store");

    let lastProgress = 0;
    const progress = (phase: string, done: number, total: number) => {
      const now = performance.now();
      if (now - lastProgress < PROGRESS_EVERY_MS) return;
      lastProgress = now;
      notify("progress", { phase, done, total });
    };

    // 1. Events and their deliveries, as the batch API commits them (requests of up to 1000 events).
    const ingestStarted = performance.now();
    let deliveries = 0;
    let seq = 0;
    const sampleEventIds: string[] = [];
    while (seq < params.events) {
      const count = Math.min(params.eventsPerCommit, params.events - seq);
      const requests: IngestRequest[] = [];
      for (let first = seq; first < seq + count; first += 1000) {
        const size = Math.min(1000, seq + count - first);
        requests.push({
          scope,
          events: Array.from({ length: size }, (_, i) => ({
            type: params.eventType,
            dataJson: dataOf(eventJson(first + i)),
            idempotencyKey: null,
          })),
        });
      }
      const { results } = await store.ingest(requests, Date.now());
      for (const result of results) {
        if (!result.ok) throw new Error(`ingest refused a batch: ${result.error.message}`);
        deliveries += result.deliveries;
        if (sampleEventIds.length === 0 && result.events[0]) sampleEventIds.push(result.events[0].event.id);
      }
      if (seq + count >= params.events) {
        const last = results.at(-1);
        if (last?.ok && last.events.length)
          sampleEventIds.push((last.events.at(-1) as { event: { id: string } }).event.id);
      }
      seq += count;
      progress("ingest", seq, params.events);
    }
    const ingestMs = performance.now() - ingestStarted;

    // 2. The dispatcher's cycle, minus HTTP: claim, then record a 500 for each claim.
    const attemptsStarted = performance.now();
    let pending: Outcome[] = [];
    let failedAttempts = 0;
    let minNext = Number.POSITIVE_INFINITY;
    let maxNext = Number.NEGATIVE_INFINITY;
    for (;;) {
      const now = Date.now();
      const { recorded, claims } = await store.settle(
        pending,
        {
          now,
          limit: params.claimsPerCycle,
          leaseMs: 60_000,
          excludeEndpoints: [],
          // Nothing stays held: every claim is settled in the next transaction.
          room: new Map(),
          held: new Map(),
          defaultMaxInFlight: params.perEndpoint,
          // The only process on this store: no listen endpoints, nobody else's claims.
          node: "bench-preload",
          listenersOnly: false,
        },
        now,
      );
      failedAttempts += recorded;
      pending = claims.map((claim) => failedWith500(claim, now));
      for (const outcome of pending) {
        if (outcome.nextAttemptAt === null)
          throw new Error("a backlog delivery has no next attempt: check its schedule");
        minNext = Math.min(minNext, outcome.nextAttemptAt);
        maxNext = Math.max(maxNext, outcome.nextAttemptAt);
      }
      progress("attempts", failedAttempts, deliveries);
      if (claims.length === 0) break;
    }
    const attemptsMs = performance.now() - attemptsStarted;
    const end = Date.now();
    return {
      events: params.events,
      deliveries,
      failedAttempts,
      sampleEventIds,
      ingestMs: round(ingestMs, 1),
      attemptsMs: round(attemptsMs, 1),
      nextAttemptInMs: failedAttempts ? { min: minNext - end, max: maxNext - end } : null,
    };
  } finally {
    await store.close();
  }
}

/** The attempt the dispatcher would have recorded had the receiver answered 500 at once. */
function failedWith500(claim: Claim, now: number): Outcome {
  const timestamp = Math.floor(now / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": "Hookline/bench-preload",
    "webhook-id": claim.eventId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatureHeader(claim.secrets, claim.eventId, timestamp, claim.body),
  };
  return decideOutcome(
    claim,
    {
      startedAt: now,
      durationMs: 1,
      statusCode: 500,
      error: null,
      responseSnippet: "",
      requestHeaders: headers,
      retryAfterMs: null,
    },
    now,
    {
      retrySchedule: [3_600_000],
      disableAfterMs: DEFAULTS.disableEndpointAfterMs,
      keepSnippets: DEFAULTS.keepResponseSnippets,
    },
    Math.random,
  );
}

serveRpc<PreloadApi>({ preload });
notify("ready");
