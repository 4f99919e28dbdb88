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

/**
 * Moves due deliveries out: claim a batch under a lease, POST each outside any
 * transaction, write the outcomes in one transaction. Idle, it sleeps until
 * the next delivery is due; it never polls in a tight loop.
 */
export function createDispatcher(options: DispatcherOptions, deps: DispatcherDeps): Dispatcher {
  const { store, sender, logger } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;

  const running = new Map<string, { claim: Claim; settled: Promise<void> }>();
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
  let pumping = false;
  let again = false;
  let wakeQueued = false;
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> | null = null;

  function wake() {
    if (!started || stopping || wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      void pump();
    });
  }

  async function pump() {
    if (stopping) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    try {
      do {
        again = false;
        const room = Math.min(options.concurrency - running.size, options.claimBatchSize);
        if (room <= 0) break;
        const claims = await store.claimDue({
          now: now(),
          limit: room,
          leaseMs: options.leaseMs,
          excludeEndpoints: [...rateLimited(), ...atCapacity()],
          inFlight: perEndpoint,
          defaultMaxInFlight: options.maxInFlightPerEndpoint,
        });
        // A stop that began while this claim ran gives the claims straight back.
        if (stopping) released.push(...claims);
        else for (const claim of claims) launch(claim);
        if (claims.length === room) again = true;
      } while (again && !stopping);
      await armTimer();
    } catch (error) {
      logger.error({ err: error }, "claiming due deliveries failed; trying again shortly");
      setTimer(BLOCKED_RECHECK_MS);
    } finally {
      pumping = false;
    }
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
      void pump();
    }, delay);
    timer.unref();
  }

  /** An endpoint with more than a second of requests already spaced out gets no new claims. */
  function rateLimited(): string[] {
    const t = now();
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
    caps.set(claim.endpointId, claim.maxInFlight ?? options.maxInFlightPerEndpoint);
    perEndpoint.set(claim.endpointId, (perEndpoint.get(claim.endpointId) ?? 0) + 1);
    const settled = attempt(claim).finally(() => {
      running.delete(claim.deliveryId);
      const left = (perEndpoint.get(claim.endpointId) ?? 1) - 1;
      if (left === 0) {
        perEndpoint.delete(claim.endpointId);
        caps.delete(claim.endpointId);
      } else perEndpoint.set(claim.endpointId, left);
      wake();
    });
    running.set(claim.deliveryId, { claim, settled });
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
    scheduleFlush();
  }

  /** Outcomes that finish close together are written in one transaction. */
  function scheduleFlush() {
    if (flushing) return;
    flushing = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = outcomes.splice(0);
      try {
        await store.recordOutcomes(batch, now());
      } catch (error) {
        // The leases will expire and the attempts run again: at-least-once, nothing lost.
        logger.error({ err: error, count: batch.length }, "recording attempt outcomes failed");
      } finally {
        flushing = null;
        if (outcomes.length) scheduleFlush();
      }
    });
  }

  async function stop() {
    stopping = true;
    if (timer) clearTimeout(timer);
    while (pumping) await new Promise((resolve) => setImmediate(resolve));
    const giveUp = new AbortController();
    await Promise.race([
      Promise.all([...running.values()].map((r) => r.settled)),
      sleep(options.shutdownTimeoutMs, giveUp.signal),
    ]);
    giveUp.abort();
    shutdown.abort();
    await Promise.all([...running.values()].map((r) => r.settled));
    while (flushing) await flushing;
    if (outcomes.length) {
      scheduleFlush();
      await flushing;
    }
    if (released.length) {
      await store.releaseClaims(released.splice(0), now());
    }
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
