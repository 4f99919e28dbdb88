import type { Logger } from "pino";
import type { Claim, ClaimRequest, DisabledEndpoint, Outcome, Store } from "../store/store.ts";
import type { HttpSender } from "./http-sender.ts";
import { decideOutcome } from "./outcome-policy.ts";

export interface DispatcherOptions {
  /** Claims held at once in the whole process: attempts running or waiting for their endpoint's slot. */
  concurrency: number;
  claimBatchSize: number;
  leaseMs: number;
  attemptTimeoutMs: number;
  maxInFlightPerEndpoint: number;
  retrySchedule: readonly number[];
  /** An endpoint whose attempts have all failed for this long is disabled. */
  disableEndpointAfterMs: number;
  /** How many of a delivery's latest attempts keep their response snippet. */
  keepResponseSnippets: number;
  shutdownTimeoutMs: number;
  /** This process, as listen endpoints' holder (see ClaimRequest.node). */
  node: string;
  /** Deliver only to listen endpoints whose listener is on this process (a node serving the API, no worker). */
  listenersOnly: boolean;
}

export interface DispatcherDeps {
  store: Store;
  sender: HttpSender;
  logger: Logger;
  now?: () => number;
  random?: () => number;
  /** Endpoints this dispatcher's writes disabled (410 Gone, failing too long), once committed. */
  onDisabled?: (disabled: DisabledEndpoint[]) => void;
  metrics?: DispatcherMetrics;
}

/** What the dispatcher reports as it works; called on the hot path, so each call must be cheap. */
export interface DispatcherMetrics {
  /** An attempt finished; its outcome is about to be written. */
  attempted(outcome: Outcome): void;
  /** One of the dispatcher's store writes failed. */
  storeFailed(operation: "settle" | "release"): void;
}

export interface Dispatcher {
  start(): void;
  /**
   * What new deliveries one ingest commit may lease to this dispatcher (null while
   * stopped or full). Offers in flight at once each reserve at most half of what is
   * left, so together they never pass `concurrency`; an endpoint's own room is not
   * reserved, so two offers at once may each fill it (the extra claims just wait).
   */
  lease(): Lease | null;
  /** New work may be due: claim now instead of waiting for the timer. */
  wake(): void;
  /**
   * An endpoint changed (disabled, deleted, new URL or secret): claims for it that
   * have not started are given back, so they are claimed again as it is now.
   */
  forget(endpointId: string): void;
  /** Stops claiming, lets in-flight attempts finish up to the deadline, gives the rest back. */
  stop(): Promise<void>;
  /** Attempts running now (for tests and metrics). */
  inFlight(): number;
}

/** An offer to lease new deliveries at ingest; `settle` with what was leased (or nothing, on failure). */
export interface Lease {
  request: ClaimRequest;
  settle(claims: Claim[]): void;
}

/** With nothing due, look again after this long anyway (cheap, and covers clock jumps). */
const IDLE_RECHECK_MS = 60_000;
/** Due work exists but every such endpoint is at its cap: completions wake us, this is a fallback. */
const BLOCKED_RECHECK_MS = 1_000;
/**
 * Beyond its in-flight cap, an endpoint may hold claims waiting in memory, so a
 * finished attempt is replaced at once instead of one commit later. The buffer is
 * what the endpoint finishes in BUFFER_MS at its recent pace, at most
 * (HOLD_FACTOR − 1) × cap: a fast endpoint gets a deep one, a slow or hanging one
 * none, so it can never sit on claims that other endpoints could use.
 */
const HOLD_FACTOR = 8;
const BUFFER_MS = 50;
/** An endpoint's pace is measured over windows this long. */
const PACE_WINDOW_MS = 250;
/** An endpoint holding no claims is forgotten after this long without finishing one. */
const IDLE_STATE_MS = 10_000;
/** Outcomes wait at most this long, or until this many are ready, to be written together. */
const OUTCOME_DELAY_MS = 5;
const OUTCOME_BATCH = 256;
/** On stop, the outcomes still to write get this many tries. */
const STOP_WRITE_TRIES = 4;

/**
 * Moves due deliveries out. Each cycle is one store write: the outcomes of
 * finished attempts, and claims of due deliveries under a lease. The POSTs run
 * outside any transaction. Idle, it sleeps until the next delivery is due; it
 * never polls in a tight loop.
 */
export function createDispatcher(options: DispatcherOptions, deps: DispatcherDeps): Dispatcher {
  const { store, sender, logger } = deps;
  const now = deps.now ?? Date.now;
  /** A claim starts only with this much of its lease left beyond the attempt's deadline. */
  const leaseMargin = Math.min(1_000, (options.leaseMs - options.attemptTimeoutMs) / 2);
  const random = deps.random ?? Math.random;
  const outcomeRules = {
    retrySchedule: options.retrySchedule,
    disableAfterMs: options.disableEndpointAfterMs,
    keepSnippets: options.keepResponseSnippets,
  };

  const running = new Map<string, Promise<void>>();
  /** Per endpoint holding claims or active lately: its cap (as its last claim said), attempts running, claims waiting, pace. */
  const endpoints = new Map<string, EndpointState>();
  let heldTotal = 0;
  /**
   * Endpoints that answered 410 Gone, until the write of that outcome (which disables them) is
   * done: a claim for them already on its way must not be sent meanwhile.
   */
  const gone = new Set<string>();
  /**
   * Rate-limited endpoints: the earliest time of this process's next request to each.
   * Claims carry send times reserved in the store (the limit across processes); one that
   * committed late would find several of them past and send them at once, so each request
   * also waits 1/rate after the moment this process sent its previous one.
   */
  const sendFloor = new Map<string, number>();
  const outcomes: Outcome[] = [];
  const released: Claim[] = [];
  const shutdown = new AbortController();

  let started = false;
  /** Claims reserved by lease offers of ingest commits still in flight. */
  let offered = 0;
  let stopping = false;
  let stopped: Promise<void> | null = null;
  let cycling: Promise<void> | null = null;
  let again = false;
  /** Whether the next cycle should claim even with no outcomes to write (a cycle writing outcomes always does). */
  let wantClaim = false;
  let queued = false;
  /** The last store write failed (its outcomes wait for the next one). */
  let storeFailing = false;
  let timer: NodeJS.Timeout | null = null;
  /** When a cycle last wanted claims: what was due by then was claimed, or waits for a slot to free. */
  let lookedAt = Number.NEGATIVE_INFINITY;
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
      } while (again || outcomes.length >= OUTCOME_BATCH);
      if (stopping) return;
      await armTimer();
      // A wake that came while the timer was being set must not be lost; fewer outcomes wait for their timer.
      if (!again && outcomes.length < OUTCOME_BATCH) return;
    }
  }

  /** One store write: finished outcomes, and claims of what is due. False when the store failed. */
  async function cycleOnce(): Promise<boolean> {
    const batch = outcomes.splice(0);
    const t = now();
    // Finished attempts free room, and their endpoints may have more due: a write of outcomes also claims.
    const looking = !stopping && (wantClaim || batch.length > 0);
    if (looking) lookedAt = t;
    const room = looking ? Math.min(options.concurrency - heldTotal - offered, options.claimBatchSize) : 0;
    if (batch.length === 0 && room <= 0) return true;
    wantClaim = false;
    let claims: Claim[];
    let disabled: DisabledEndpoint[];
    try {
      const claim = room > 0 ? claimRequest(t, room) : null;
      ({ claims, disabled } = await store.settle(batch, claim, t));
      storeFailing = false;
      for (const { endpointId } of disabled) {
        gone.add(endpointId);
        changed(endpointId);
        releaseWaiting(endpointId);
      }
      if (disabled.length > 0) deps.onDisabled?.(disabled);
    } catch (error) {
      storeFailing = true;
      deps.metrics?.storeFailed("settle");
      // The outcomes are written with the next try; should their leases expire first, the
      // attempts run again (the late write then changes nothing).
      outcomes.unshift(...batch);
      logger.error({ err: error, outcomes: batch.length }, "the dispatcher's store write failed; trying again shortly");
      setTimer(BLOCKED_RECHECK_MS);
      return false;
    }
    // A stop that began during the write gives the claims straight back.
    if (stopping) released.push(...claims);
    else for (const claim of claims) accept(claim);
    // Written: the store has disabled them (or found no reason to), so it claims none of them any
    // more, and one enabled again, through whichever node, is served again. (Should a PostgreSQL
    // disable fail after the outcomes' commit, claims may go out and get the 410 that disables.)
    for (const { claim, disableEndpoint } of batch) if (disableEndpoint) gone.delete(claim.endpointId);
    for (const { endpointId } of disabled) gone.delete(endpointId);
    // A full claim likely left more due: claim again at once.
    if (room > 0 && claims.length === room) wantClaim = again = true;
    return true;
  }

  /** A claim for up to `limit` deliveries, within every endpoint's share (the store keeps rate limits). */
  function claimRequest(t: number, limit: number): ClaimRequest {
    // An endpoint's state outlives its last claim for a while, so its pace (and buffer)
    // survives the moments its work runs out; after a quiet spell it is dropped.
    for (const [endpointId, state] of endpoints) {
      if (state.running === 0 && state.waiting.length === 0 && t - state.windowStart > IDLE_STATE_MS) {
        endpoints.delete(endpointId);
      }
    }
    for (const [endpointId, at] of sendFloor) if (at < t) sendFloor.delete(endpointId);
    return {
      now: t,
      limit,
      leaseMs: options.leaseMs,
      excludeEndpoints: atCapacity(),
      room: new Map([...endpoints].map(([id, state]) => [id, roomOf(state)])),
      held: new Map([...endpoints].map(([id, state]) => [id, state.running + state.waiting.length])),
      defaultMaxInFlight: options.maxInFlightPerEndpoint,
      node: options.node,
      listenersOnly: options.listenersOnly,
    };
  }

  async function armTimer() {
    let due: number | null;
    try {
      due = await store.nextDueAt();
    } catch (error) {
      logger.error({ err: error }, "the dispatcher could not read the next due time; looking again shortly");
      setTimer(BLOCKED_RECHECK_MS);
      return;
    }
    const t = now();
    // Due since the last claim (a retry time that passed while its outcome was written): claim now.
    const delay = due === null ? IDLE_RECHECK_MS : due > t ? due - t : due > lookedAt ? 0 : BLOCKED_RECHECK_MS;
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

  /** Endpoints holding all the claims they may; leaving them out keeps claims for the others. */
  function atCapacity(): string[] {
    const full: string[] = [];
    for (const [endpointId, state] of endpoints) {
      if (roomOf(state) <= 0) full.push(endpointId);
    }
    return full;
  }

  /** Takes a fresh claim: start it if its endpoint has a free slot, else let it wait for one. */
  function accept(claim: Claim) {
    if (gone.has(claim.endpointId)) {
      giveBack([claim]);
      return;
    }
    const cap = claim.maxInFlight ?? options.maxInFlightPerEndpoint;
    let state = endpoints.get(claim.endpointId);
    if (!state) {
      state = { cap, running: 0, waiting: [], finished: 0, windowStart: now(), pacePerS: 0, changes: 0 };
      endpoints.set(claim.endpointId, state);
    }
    state.cap = cap;
    heldTotal++;
    if (state.running < state.cap) start(claim, state);
    else state.waiting.push(claim);
  }

  function start(claim: Claim, state: EndpointState) {
    state.running++;
    const settled = attempt(claim, state)
      .catch((error: unknown) => failed(claim, error))
      .finally(() => {
        running.delete(claim.deliveryId);
        state.running--;
        heldTotal--;
        countFinished(state, now());
        const left = state.running + state.waiting.length;
        const next = stopping ? undefined : state.waiting.shift();
        if (next) start(next, state);
        // A busy endpoint, or a process holding all it may, likely has more due: claim at
        // once, so cycles run back to back. A quiet endpoint's outcome waits to share a commit.
        if (left + 1 >= state.cap || heldTotal + 1 >= options.concurrency) wantClaim = true;
        schedule(wantClaim);
      });
    running.set(claim.deliveryId, settled);
  }

  /** An attempt that threw (a bug, not a receiver's answer) costs its claim, not the process. */
  function failed(claim: Claim, error: unknown) {
    logger.error(
      { err: error, delivery_id: claim.deliveryId },
      "an attempt failed unexpectedly; its claim is given back",
    );
    // Its outcome, if it got that far, is written with the others: the claim is not given back twice.
    if (outcomes.some((outcome) => outcome.claim.deliveryId === claim.deliveryId)) return;
    giveBackOne(claim);
  }

  /** How long a claim waits before it is sent: until its reserved send time, spaced from this process's last. */
  function sendDelay(claim: Claim): number {
    const t = now();
    if (!claim.rateLimitPerS) return claim.sendAt - t;
    // A late claim's first request goes now, not at its past send time: the next is spaced from now.
    const at = Math.max(claim.sendAt, sendFloor.get(claim.endpointId) ?? 0, t);
    sendFloor.set(claim.endpointId, at + 1000 / claim.rateLimitPerS);
    return at - t;
  }

  async function attempt(claim: Claim, state: EndpointState) {
    const wait = sendDelay(claim);
    if (wait > 0) {
      const changes = state.changes;
      if (!(await sleep(wait, shutdown.signal))) {
        released.push(claim);
        return;
      }
      // While it waited for its send time, the endpoint answered 410 or changed (disabled,
      // deleted, a new URL or secret): it is claimed again as the endpoint is now, or not at all.
      if (gone.has(claim.endpointId) || state.changes !== changes) {
        giveBackOne(claim);
        return;
      }
    }
    // A claim that waited too long could outlive its lease mid-attempt: give it back
    // instead, and the delivery is claimed afresh.
    if (claim.leaseUntil - now() < options.attemptTimeoutMs + leaseMargin) {
      giveBackOne(claim);
      return;
    }
    const result = await sender.send(claim, now);
    if (result === "aborted") {
      released.push(claim);
      return;
    }
    const outcome = decideOutcome(claim, result, now(), outcomeRules, random);
    outcomes.push(outcome);
    if (logger.isLevelEnabled("debug")) {
      logger.debug(
        {
          delivery_id: claim.deliveryId,
          event_id: claim.eventId,
          endpoint_id: claim.endpointId,
          status_code: result.statusCode,
          error: result.error,
          ms: result.durationMs,
          next: outcome.status,
        },
        "attempt",
      );
    }
    deps.metrics?.attempted(outcome);
    // The receiver asked for no more: nothing waiting may go out to it.
    if (outcome.disableEndpoint) {
      gone.add(claim.endpointId);
      changed(claim.endpointId);
      releaseWaiting(claim.endpointId);
    }
  }

  function forget(endpointId: string) {
    gone.delete(endpointId);
    changed(endpointId);
    releaseWaiting(endpointId);
    // Its cap may have changed: the next claim reads it afresh.
    if (endpoints.get(endpointId)?.running === 0) endpoints.delete(endpointId);
    wake();
  }

  /** The endpoint changed, was disabled or answered 410: claims waiting for their send time are not sent. */
  function changed(endpointId: string) {
    const state = endpoints.get(endpointId);
    if (state) state.changes++;
  }

  function releaseWaiting(endpointId: string) {
    const state = endpoints.get(endpointId);
    if (!state?.waiting.length) return;
    const waiting = state.waiting.splice(0);
    heldTotal -= waiting.length;
    if (state.running === 0) endpoints.delete(endpointId);
    giveBack(waiting);
  }

  /** One claim not attempted: given back now, or, once stopping, with stop's own last release (which it awaits). */
  function giveBackOne(claim: Claim) {
    if (stopping) released.push(claim);
    else giveBack([claim]);
  }

  /**
   * Claims not attempted go back to the store: due again (unless disabled or deleted meanwhile).
   * Once given back, a cycle looks again: a read of the next due time made before the release was
   * written would otherwise leave them waiting for the idle recheck.
   */
  function giveBack(claims: Claim[]) {
    store.releaseClaims(claims, now()).then(
      () => {
        if (!stopping) wake();
      },
      (error) => {
        deps.metrics?.storeFailed("release");
        logger.error({ err: error, count: claims.length }, "giving back claims failed; their leases will expire");
      },
    );
  }

  async function stop() {
    stopping = true;
    if (timer) clearTimeout(timer);
    if (outcomeTimer) clearTimeout(outcomeTimer);
    for (const state of endpoints.values()) released.push(...state.waiting.splice(0));
    const giveUp = new AbortController();
    await Promise.race([Promise.all(running.values()), sleep(options.shutdownTimeoutMs, giveUp.signal)]);
    giveUp.abort();
    shutdown.abort();
    sender.abortAll();
    await Promise.all(running.values());
    // Finishing attempts armed timers; the writes below are the last ones.
    if (timer) clearTimeout(timer);
    if (outcomeTimer) clearTimeout(outcomeTimer);
    // Write what finished (the cycle claims nothing once stopping): a few tries, then the leases decide.
    for (let tries = 0; (cycling || outcomes.length > 0) && tries < STOP_WRITE_TRIES; tries++) {
      if (tries > 0 && storeFailing) await sleep(BLOCKED_RECHECK_MS / 4, undefined);
      await cycle();
    }
    if (released.length) await store.releaseClaims(released.splice(0), now());
  }

  return {
    start() {
      if (started) return;
      started = true;
      wake();
    },
    lease() {
      const room = options.concurrency - heldTotal - offered;
      if (!started || stopping || room <= 0) return null;
      const limit = Math.ceil(room / 2);
      offered += limit;
      return {
        request: claimRequest(now(), limit),
        settle(claims) {
          offered -= limit;
          if (stopping) giveBack(claims);
          else for (const claim of claims) accept(claim);
        },
      };
    },
    wake,
    forget,
    stop() {
      stopped ??= stop();
      return stopped;
    },
    inFlight: () => running.size,
  };
}

interface EndpointState {
  cap: number;
  running: number;
  waiting: Claim[];
  /** Attempts finished since `windowStart`, and the pace measured over the last full window. */
  finished: number;
  windowStart: number;
  pacePerS: number;
  /** Counts the endpoint's changes (`forget`, a 410, a disable): a claim waiting for its send time checks it before it goes. */
  changes: number;
}

function countFinished(state: EndpointState, t: number) {
  const elapsed = t - state.windowStart;
  if (elapsed >= PACE_WINDOW_MS) {
    state.pacePerS = (state.finished * 1000) / elapsed;
    state.finished = 0;
    state.windowStart = t;
  }
  state.finished++;
}

/** How many more claims an endpoint may take: its cap plus its buffer, less what it holds. */
function roomOf(state: EndpointState): number {
  const buffer = Math.min(state.cap * (HOLD_FACTOR - 1), Math.ceil((state.pacePerS * BUFFER_MS) / 1000));
  return state.cap + buffer - state.running - state.waiting.length;
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
