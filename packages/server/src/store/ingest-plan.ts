import { randomUUID } from "node:crypto";
import { HooklineError, notFound } from "../errors.ts";
import { capOf } from "./claim-rules.ts";
import { type Row, toClaim } from "./rows.ts";
import type { Claim, ClaimRequest, Environment, NewEvent } from "./store.ts";

/**
 * The rules of ingest that do not depend on the database, shared by both backends:
 * the event's stored body, which endpoints it goes to, and which of its new
 * deliveries are leased to the ingesting process in the same commit.
 */

/** An endpoint an event may go to: its row, with the type filter parsed. */
export interface Target {
  id: string;
  eventTypes: string[] | null;
  endpoint: Row;
}

/**
 * Leasing new deliveries at ingest: what is left of the claim's limit, the room
 * each endpoint has left, and the lease written on every row leased.
 */
export interface Leasing {
  request: ClaimRequest;
  token: string;
  until: number;
  left: number;
  room: Map<string, number>;
  claims: Claim[];
}

export function startLeasing(lease: ClaimRequest | null, now: number): Leasing | null {
  return (
    lease && {
      request: lease,
      token: randomUUID(),
      until: now + lease.leaseMs,
      left: lease.limit,
      room: new Map(),
      claims: [],
    }
  );
}

export function toTarget(row: Row): Target {
  const eventTypes = row.event_types === null ? null : JSON.parse(String(row.event_types));
  return { id: String(row.id), eventTypes, endpoint: row };
}

/** The test-event target: its type filter does not apply, but it must exist and be enabled. */
export function testTarget(row: Row | undefined, endpointId: string): Target[] {
  if (!row) throw notFound("endpoint", endpointId);
  if (row.enabled !== 1) {
    throw new HooklineError("endpoint_disabled", `endpoint ${endpointId} is disabled; enable it to send a test event`, {
      status: 409,
    });
  }
  return [{ ...toTarget(row), eventTypes: null }];
}

/**
 * The most deliveries one API request may make. A request commits whole, with everyone else's
 * that share its commit: a batch of 1,000 events to 1,000 endpoints (a million rows) would
 * hold every other account's ingest for many seconds.
 */
export const MAX_DELIVERIES_PER_REQUEST = 100_000;

/**
 * Why a request's events would make too many deliveries to these targets, or null. Checked
 * before anything is written; an event already stored under its idempotency key (`stored`)
 * is answered as it was and makes none.
 */
export function tooManyDeliveries(
  events: readonly NewEvent[],
  targets: readonly Target[],
  stored: (event: NewEvent) => boolean,
): HooklineError | null {
  if (events.length * targets.length <= MAX_DELIVERIES_PER_REQUEST) return null;
  let deliveries = 0;
  for (const event of events) {
    if (stored(event)) continue;
    for (const target of targets) if (!target.eventTypes || target.eventTypes.includes(event.type)) deliveries++;
  }
  if (deliveries <= MAX_DELIVERIES_PER_REQUEST) return null;
  return new HooklineError(
    "too_many_deliveries",
    `these ${events.length} events would make ${deliveries} deliveries (to ${targets.length} endpoints); one request may make at most ${MAX_DELIVERIES_PER_REQUEST}: send fewer events per batch`,
    { status: 422 },
  );
}

/** The exact JSON bytes every attempt of the event sends. */
export function eventBody(id: string, type: string, now: number, environment: Environment, dataJson: string): string {
  const createdAt = new Date(now).toISOString();
  return `{"id":"${id}","type":${JSON.stringify(type)},"created_at":"${createdAt}","environment":"${environment}","data":${dataJson}}`;
}

/**
 * How many of this commit's deliveries to `target` this process's policy lets it
 * lease: none if the endpoint is excluded, rate-limited (its send times are reserved
 * by claims), a listen endpoint (its listener may be on another node) or has anything older due (that goes first, through the claim); else
 * its room under its share.
 */
export function leaseRoom(leasing: Leasing, target: Target, now: number): number {
  const { request } = leasing;
  const { endpoint } = target;
  const olderDue = endpoint.next_due_at !== null && Number(endpoint.next_due_at) <= now;
  if (olderDue || endpoint.rate_limit_per_s !== null || endpoint.kind === "listen") return 0;
  if (request.excludeEndpoints.includes(target.id)) return 0;
  return request.room.get(target.id) ?? capOf(endpoint, request);
}

/**
 * Whether the next delivery to `target` may be leased at once. The first decision
 * for an endpoint in a commit sets its room (`leaseRoom`, or a shared store's
 * narrower figure); once one of its deliveries is left due, the rest are too.
 */
export function takeRoom(leasing: Leasing, target: Target, now: number): boolean {
  const room = leasing.room.get(target.id) ?? leaseRoom(leasing, target, now);
  const take = room > 0 && leasing.left > 0;
  leasing.room.set(target.id, take ? room - 1 : 0);
  if (take) leasing.left--;
  return take;
}

/** The claim for a delivery leased at ingest, built from what ingest already has (no read). */
export function leasedClaim(
  leasing: Leasing,
  target: Target,
  deliveryId: string,
  eventId: string,
  body: string,
  now: number,
) {
  const row = { ...target.endpoint, id: deliveryId, event_id: eventId, endpoint_id: target.id, body };
  leasing.claims.push(
    toClaim({ ...row, scheduled_attempts: 0, next_attempt_at: now, manual: 0 }, leasing.token, now, leasing.until),
  );
}
