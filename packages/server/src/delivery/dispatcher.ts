import type { Logger } from "pino";
import type { Claim, Outcome, Store } from "../store/store.ts";
import type { HttpSender } from "./http-sender.ts";
import { decideOutcome } from "./outcome-policy.ts";

export interface DispatcherOptions {
  concurrency: number;
  claimBatchSize: number;
  leaseMs: number;
  maxInFlightPerEndpoint: number;
  retrySchedule: readonly number[];
  shutdownTimeoutMs: number;
}

export interface DispatcherDeps {
  store: Store;
  sender: HttpSender;
  logger: Logger;
  now?: () => number;
  random?: () => number;
}

export interface Dispatcher {
  start(): void;
  /** New work may be due: claim now instead of waiting for the timer. */
  wake(): void;
  /** Stops claiming, lets in-flight attempts finish up to the deadline, gives the rest back. */
  stop(): Promise<void>;
  /** Attempts running now (for tests and metrics). */
  inFlight(): number;
}

/** With nothing due, look again after this long anyway (cheap, and covers clock jumps). */
const IDLE_RECHECK_MS = 60_000;
/** Due work exists but every such endpoint is at its cap: completions wake us, this is a fallback. */
const BLOCKED_RECHECK_MS = 1_000;
/** Outcomes wait at most this long, or until this many are ready, to be written together. */
const OUTCOME_DELAY_MS = 5;
const OUTCOME_BATCH = 256;

/**
 * Moves due deliveries out. Each cycle is one transaction: write the outcomes
 * of finished attempts and claim due deliveries under a lease. The POSTs run
 * outside any transaction. Idle, it sleeps until the next delivery is due; it
 * never polls in a tight loop.
 */
export function createDispatcher(options: DispatcherOptions, deps: DispatcherDeps): Dispatcher {
  const { store, sender, logger } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  const running = new Map<string, Promise<void>>();
  const perEndpoint = new Map<string, number>();
  /** The in-flight cap of each endpoint with attempts running, as its last claim said. */
  const caps = new Map<string, number>();
  /** Rate limits: the earliest time each limited endpoint may get its next request. */
  const nextSendAt = new Map<string, number>();
  const outcomes: Outcome[] = [];
  const released: Claim[] = [];
  const shutdown = new AbortController();

  let started = false;
  let stopping = false;
  let stopped: Promise<void> | null = null;
  let cycling: Promise<void> | null = null;
  let again = false;
  /** Whether the next cycle should claim; finished attempts alone only need their outcomes written. */
  let wantClaim = false;
  let queued = false;
  let timer: NodeJS.Timeout | null = null;
  let outcomeTimer: NodeJS.Timeout | null = null;

  function wake() {
    wantClaim = true;
    schedule(true);
  }

  /**
   * Runs a cycle on the next turn when a claim is wanted. Outcomes alone are not
   * urgent (their slots are already free and their leases hold the rows), so
   * they wait a few milliseconds to share one commit with many others.
   */
  function schedule(urgent: boolean) {
    if (!started || queued) return;
    if (!urgent && outcomes.length < OUTCOME_BATCH) {
      outcomeTimer ??= setTimeout(() => {
        outcomeTimer = null;
        schedule(true);
      }, OUTCOME_DELAY_MS);
      return;
    }
    if (outcomeTimer) {
      clearTimeout(outcomeTimer);
      outcomeTimer = null;
    }
    queued = true;
    setImmediate(() => {
      queued = false;
      void cycle();
    });
  }

  function cycle(): Promise<void> {
    if (cycling) {
      again = true;
      return cycling;
    }
    cycling = runCycles().finally(() => {
      cycling = null;
    });
    return cycling;
  }

  async function runCycles() {
    for (;;) {
      do {
        again = false;
        if (!(await cycleOnce())) return;
      } while (again || outcomes.length > 0);
      if (stopping) return;
      await armTimer();
      // A wake that came while the timer was being set must not be lost.
      if (!again && outcomes.length === 0) return;
    }
  }

  /** One transaction: write finished outcomes, claim what is due. False when the store failed. */
  async function cycleOnce(): Promise<boolean> {
    const batch = outcomes.splice(0);
    const room = stopping || !wantClaim ? 0 : Math.min(options.concurrency - running.size, options.claimBatchSize);
    if (batch.length === 0 && room <= 0) return true;
    wantClaim = false;
    const t = now();
    let claims: Claim[];
    try {
      const claim =
        room > 0
          ? {
              now: t,
              limit: room,
              leaseMs: options.leaseMs,
              excludeEndpoints: [...rateLimited(t), ...atCapacity()],
              inFlight: perEndpoint,
              defaultMaxInFlight: options.maxInFlightPerEndpoint,
            }
          : null;
      ({ claims } = await store.settle(batch, claim, t));
    } catch (error) {
      // Unwritten outcomes are not lost: their leases expire and the attempts run again.
      logger.error({ err: error, outcomes: batch.length }, "the dispatcher's store write failed; trying again shortly");
      setTimer(BLOCKED_RECHECK_MS);
      return false;
    }
    // A stop that began during the write gives the claims straight back.
    if (stopping) released.push(...claims);
    else for (const claim of claims) launch(claim);
    if (claims.length === room) wantClaim = again = true;
    return true;
  }

  async function armTimer() {
    const due = await store.nextDueAt();
    const t = now();
    let delay = due === null ? IDLE_RECHECK_MS : due > t ? due - t : BLOCKED_RECHECK_MS;
    for (const at of nextSendAt.values()) if (at > t) delay = Math.min(delay, at - t);
    setTimer(Math.min(delay, IDLE_RECHECK_MS));
  }

  function setTimer(delay: number) {
    if (timer) clearTimeout(timer);
    if (stopping) return;
    timer = setTimeout(() => {
      timer = null;
      wake();
    }, delay);
    timer.unref();
  }

  /** An endpoint with more than a second of requests already spaced out gets no new claims. */
  function rateLimited(t: number): string[] {
    const limited: string[] = [];
    for (const [endpointId, at] of nextSendAt) {
      if (at <= t) nextSendAt.delete(endpointId);
      else if (at - t > 1000) limited.push(endpointId);
    }
    return limited;
  }

  /**
   * Endpoints already at their in-flight cap. Leaving them out of the claim keeps a
   * dead endpoint's backlog from filling every claim while the others wait.
   */
  function atCapacity(): string[] {
    const full: string[] = [];
    for (const [endpointId, count] of perEndpoint) {
      if (count >= (caps.get(endpointId) ?? options.maxInFlightPerEndpoint)) full.push(endpointId);
    }
    return full;
  }

  /** Spaces requests to a rate-limited endpoint evenly; returns how long this one waits. */
  function rateDelay(claim: Claim): number {
    if (!claim.rateLimitPerS) return 0;
    const t = now();
    const at = Math.max(t, nextSendAt.get(claim.endpointId) ?? t);
    nextSendAt.set(claim.endpointId, at + 1000 / claim.rateLimitPerS);
    return at - t;
  }

  function launch(claim: Claim) {
    const cap = claim.maxInFlight ?? options.maxInFlightPerEndpoint;
    caps.set(claim.endpointId, cap);
    perEndpoint.set(claim.endpointId, (perEndpoint.get(claim.endpointId) ?? 0) + 1);
    const settled = attempt(claim).finally(() => {
      running.delete(claim.deliveryId);
      const left = (perEndpoint.get(claim.endpointId) ?? 1) - 1;
      if (left === 0) {
        perEndpoint.delete(claim.endpointId);
        caps.delete(claim.endpointId);
      } else {
        perEndpoint.set(claim.endpointId, left);
      }
      // Refill an endpoint once half its slots are free rather than one by one:
      // fewer, larger claims. Other endpoints are claimed for by their own completions.
      if (left <= cap / 2) wantClaim = true;
      schedule(wantClaim);
    });
    running.set(claim.deliveryId, settled);
  }

  async function attempt(claim: Claim) {
    const wait = rateDelay(claim);
    if (wait > 0 && !(await sleep(wait, shutdown.signal))) {
      released.push(claim);
      return;
    }
    const result = await sender.send(claim, shutdown.signal, now);
    if (result === "aborted") {
      released.push(claim);
      return;
    }
    outcomes.push(decideOutcome(claim, result, now(), options.retrySchedule, random));
  }

  async function stop() {
    stopping = true;
    if (timer) clearTimeout(timer);
    if (outcomeTimer) clearTimeout(outcomeTimer);
    const giveUp = new AbortController();
    await Promise.race([Promise.all(running.values()), sleep(options.shutdownTimeoutMs, giveUp.signal)]);
    giveUp.abort();
    shutdown.abort();
    await Promise.all(running.values());
    // Write what finished; the cycle claims nothing once stopping.
    while (cycling || outcomes.length > 0) await cycle();
    if (released.length) await store.releaseClaims(released.splice(0), now());
  }

  return {
    start() {
      if (started) return;
      started = true;
      wake();
    },
    wake,
    stop() {
      stopped ??= stop();
      return stopped;
    },
    inFlight: () => running.size,
  };
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
