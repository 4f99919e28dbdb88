import { randomUUID } from "node:crypto";
import { HooklineError, notFound } from "../errors.ts";
import { type Row, toClaim } from "./rows.ts";
import type { Claim, ClaimRequest, Environment } from "./store.ts";

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

/** The exact JSON bytes every attempt of the event sends. */
export function eventBody(id: string, type: string, now: number, environment: Environment, dataJson: string): string {
  const createdAt = new Date(now).toISOString();
  return `{"id":"${id}","type":${JSON.stringify(type)},"created_at":"${createdAt}","environment":"${environment}","data":${dataJson}}`;
}

/**
 * Whether the next delivery to `target` may be leased at once: the endpoint is not
 * excluded, has room under its share, and has nothing older due (that goes first,
 * through the claim). Once one of its deliveries is left due, the rest are too.
 */
export function takeRoom(leasing: Leasing, target: Target, now: number): boolean {
  let room = leasing.room.get(target.id);
  if (room === undefined) {
    const { request } = leasing;
    const nextDue = target.endpoint.next_due_at;
    const cap =
      target.endpoint.max_in_flight === null ? request.defaultMaxInFlight : Number(target.endpoint.max_in_flight);
    const olderDue = nextDue !== null && Number(nextDue) <= now;
    room = olderDue || request.excludeEndpoints.includes(target.id) ? 0 : (request.room.get(target.id) ?? cap);
  }
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

/** A request rolled back: the leases it wrote are gone, so are their claims (its rooms stay used, which is safe). */
export function forgetLeases(leasing: Leasing, keep: number) {
  leasing.left += leasing.claims.length - keep;
  leasing.claims.length = keep;
}
