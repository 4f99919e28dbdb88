import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Config } from "../config.ts";
import { HooklineError } from "../errors.ts";
import { scopeOf } from "./auth.ts";

/** What taking tokens from a bucket came to. */
export type Take =
  | { ok: true }
  /** Not enough tokens now; `retryAfterS` whole seconds from now there will be. */
  | { ok: false; never: false; retryAfterS: number }
  /** More tokens than the bucket holds: waiting never helps. */
  | { ok: false; never: true };

/** Below this many buckets the map is swept only by time. */
const SWEEP_MIN_SIZE = 1_024;
/** Idle (full) buckets are dropped at least this often. */
const SWEEP_EVERY_MS = 60_000;
/** Float slack, so waiting exactly the computed time is always enough. */
const EPSILON = 1e-9;

/**
 * Token buckets by key: each holds up to `burst` tokens, starts full, and refills at
 * `ratePerS` tokens a second. A take is all or nothing and a refused take costs
 * nothing. A full bucket is the same as no bucket, so idle keys are dropped: the
 * map holds only keys that took something in the last `burst / ratePerS` seconds.
 */
export class TokenBuckets {
  readonly ratePerS: number;
  readonly burst: number;
  readonly #now: () => number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  #sweepAtSize = SWEEP_MIN_SIZE;
  #sweptAt: number;

  constructor(options: { ratePerS: number; burst: number; now: () => number }) {
    if (!(options.ratePerS > 0) || !(options.burst >= 1)) throw new RangeError("rate must be > 0 and burst >= 1");
    this.ratePerS = options.ratePerS;
    this.burst = options.burst;
    this.#now = options.now;
    this.#sweptAt = options.now();
  }

  /** Takes `count` tokens from `key`'s bucket if it has them all. */
  take(key: string, count: number): Take {
    if (count > this.burst) return { ok: false, never: true };
    const t = this.#now();
    this.#sweepIfDue(t);
    const tokens = this.#tokens(key, t);
    const ok = tokens + EPSILON >= count;
    // Stored even when refused: the same tokens, anchored at now (after a clock step back, refilling resumes).
    this.#buckets.set(key, { tokens: ok ? tokens - count : tokens, at: t });
    if (ok) return { ok: true };
    return { ok: false, never: false, retryAfterS: Math.max(1, Math.ceil((count - tokens) / this.ratePerS)) };
  }

  /** How many buckets are held (idle ones are dropped lazily). */
  get size(): number {
    return this.#buckets.size;
  }

  #tokens(key: string, t: number): number {
    const bucket = this.#buckets.get(key);
    if (!bucket) return this.burst;
    // A clock that steps back adds nothing (and takes nothing away).
    const elapsedMs = Math.max(0, t - bucket.at);
    return Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerS) / 1000);
  }

  #sweepIfDue(t: number): void {
    if (this.#buckets.size < this.#sweepAtSize && t - this.#sweptAt < SWEEP_EVERY_MS) return;
    for (const key of this.#buckets.keys()) {
      if (this.#tokens(key, t) >= this.burst) this.#buckets.delete(key);
    }
    this.#sweptAt = t;
    // Doubling keeps sweeping amortised O(1) per take when many buckets are busy.
    this.#sweepAtSize = Math.max(SWEEP_MIN_SIZE, this.#buckets.size * 2);
  }
}

/** The bucket size: as configured, else one second's worth but at least 1,000 (a full batch). */
export function ingestBurst(config: Pick<Config, "ingestRatePerAccount" | "ingestBurstPerAccount">): number {
  return config.ingestBurstPerAccount ?? Math.max(config.ingestRatePerAccount, 1_000);
}

/** The routes that create events, and how many each creates (known once the body is validated). */
const INGEST_ROUTES: Record<string, (request: FastifyRequest) => number> = {
  "POST /v1/events": () => 1,
  "POST /v1/events/batch": (request) => (request.body as { events: unknown[] }).events.length,
  "POST /v1/endpoints/:id/test": () => 1,
};

/**
 * Limits how fast each account+environment may create events (`ingest_rate_per_account`):
 * a refused request answers 429 with `retry-after` and writes nothing. TEST and LIVE have
 * buckets of their own, so load-testing with the TEST key never holds up LIVE traffic.
 * The buckets live in this process: with several API nodes each allows the full rate.
 * Runs as a `preHandler`, after authentication and validation, so a batch's size is known
 * and a malformed request costs no tokens.
 */
export function installIngestRateLimit(
  app: FastifyInstance,
  config: Pick<Config, "ingestRatePerAccount" | "ingestBurstPerAccount">,
  now: () => number,
): void {
  if (config.ingestRatePerAccount <= 0) return;
  const buckets = new TokenBuckets({ ratePerS: config.ingestRatePerAccount, burst: ingestBurst(config), now });
  const { ratePerS, burst } = buckets;
  app.addHook("preHandler", async (request) => {
    const countOf = INGEST_ROUTES[`${request.method} ${request.routeOptions.url}`];
    if (!countOf) return;
    const scope = scopeOf(request);
    const count = countOf(request);
    const taken = buckets.take(`${scope.accountId}:${scope.environment}`, count);
    if (taken.ok) return;
    if (taken.never) {
      throw new HooklineError(
        "batch_too_large",
        `a batch of ${count} events can never pass this account's ingest limit: at most ${burst} events at once ` +
          `(${ratePerS}/s); send batches of at most ${burst}`,
        { status: 413 },
      );
    }
    throw new HooklineError(
      "rate_limited",
      `this account may create ${ratePerS} events/s in ${scope.environment} (bursts of up to ${burst}); ` +
        `${count === 1 ? "this event" : `these ${count} events`} would exceed it: retry after ${taken.retryAfterS} s`,
      { status: 429, headers: { "retry-after": String(taken.retryAfterS) } },
    );
  });
}
