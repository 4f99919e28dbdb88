/**
 * How much of an endpoint's work a claim may take, shared by both backends. The
 * limits are kept in the database, so they hold however many processes claim.
 */

import type { Row } from "./rows.ts";
import type { ClaimRequest } from "./store.ts";

/** The endpoint's in-flight cap: its own, or the process default. */
export function capOf(endpoint: Row, request: ClaimRequest): number {
  return endpoint.max_in_flight === null ? request.defaultMaxInFlight : Number(endpoint.max_in_flight);
}

/** Requests to a rate-limited endpoint get send times at most this far ahead of the claim. */
export const RATE_AHEAD_MS = 1_000;

/**
 * Send times for up to `wanted` requests to an endpoint limited to `perS` requests a
 * second: spaced evenly from its next free slot (`endpoints.rate_next_at`), never
 * more than RATE_AHEAD_MS ahead. `taken` of them used moves the next free slot to `nextFreeAt(taken)`.
 */
export function rateSlots(perS: number, nextFree: number | null, now: number, wanted: number) {
  const spacing = 1000 / perS;
  const first = Math.max(now, nextFree ?? now);
  const count = Math.max(0, Math.min(wanted, Math.ceil((now + RATE_AHEAD_MS - first) / spacing)));
  return {
    count,
    sendAt: (i: number) => Math.round(first + i * spacing),
    nextFreeAt: (taken: number) => Math.round(first + taken * spacing),
  };
}

/**
 * An endpoint's room when many processes claim from one database. `localRoom` is what
 * this process's policy allows (its in-flight cap plus a buffer, less what it holds);
 * `total` is every unexpired claim on the endpoint, `held` this process's share.
 * While no other process holds any, this one may keep its buffer (claims beyond the
 * cap wait in its memory for its own slots); once another does, all claims together
 * stay within the cap, so no more than `cap` requests are ever in flight at once.
 */
export function sharedRoom(localRoom: number, cap: number, total: number, held: number): number {
  return total > held ? Math.min(localRoom, cap - total) : localRoom;
}
