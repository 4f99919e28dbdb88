import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { HooklineError, notFound } from "../../errors.ts";
import { newId } from "../../ids.ts";
import { type Row, toClaim, toEvent } from "../rows.ts";
import type {
  Claim,
  ClaimRequest,
  EventFilter,
  EventList,
  EventRecord,
  Ingested,
  IngestRequest,
  IngestResult,
  NewEvent,
  Page,
  Scope,
} from "../store.ts";
import { STATUS_FILTER_SCAN } from "../store.ts";
import { prepareAll, transaction } from "./database.ts";
import type { QueueSummary } from "./queue.ts";

/** An endpoint an event may go to: its row, with the type filter parsed. */
interface Target {
  id: string;
  eventTypes: string[] | null;
  endpoint: Row;
}

/**
 * Leasing new deliveries at ingest: what is left of the claim's limit, the room
 * each endpoint has left, and the lease written on every row leased.
 */
interface Leasing {
  request: ClaimRequest;
  token: string;
  until: number;
  left: number;
  room: Map<string, number>;
  claims: Claim[];
}

export function eventQueries(db: DatabaseSync, queue: QueueSummary) {
  const sql = prepareAll(db, {
    byIdempotencyKey: "SELECT * FROM events WHERE account_id = ? AND environment = ? AND idempotency_key = ?",
    insertEvent: `INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`,
    targets: "SELECT * FROM endpoints WHERE account_id = ? AND environment = ? AND enabled = 1",
    target: "SELECT * FROM endpoints WHERE id = ? AND account_id = ? AND environment = ?",
    // A new delivery is due now (pending), or leased to the ingesting process already (delivering).
    insertDelivery: `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status, attempt_count,
      scheduled_attempts, next_attempt_at, due_at, manual, claim_token, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, 0, ?, ?, ?)`,
    get: "SELECT * FROM events WHERE id = ? AND account_id = ? AND environment = ?",
    list: `SELECT * FROM events WHERE account_id = $account AND environment = $environment AND id < $before
      AND ($type IS NULL OR type = $type) AND created_at >= $since AND created_at < $until
      ORDER BY id DESC LIMIT $limit`,
    // The status filter: first the window of events it may look at (index only), then the matches in it.
    statusWindow: `SELECT min(id) AS floor, count(*) AS n FROM (SELECT id FROM events
      WHERE account_id = $account AND environment = $environment AND id < $before
        AND ($type IS NULL OR type = $type) AND created_at >= $since AND created_at < $until
      ORDER BY id DESC LIMIT $scan)`,
    listWithStatus: `SELECT * FROM events WHERE account_id = $account AND environment = $environment
      AND id < $before AND id >= $floor
      AND ($type IS NULL OR type = $type) AND created_at >= $since AND created_at < $until
      AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = $status)
      ORDER BY id DESC LIMIT $limit`,
  });

  /**
   * Commits many API requests in one transaction (group commit): one fsync for
   * all of them. Each request gets a savepoint, so one bad request fails alone.
   */
  function ingest(requests: IngestRequest[], now: number, lease: ClaimRequest | null): Ingested {
    const targetsByScope = new Map<string, Target[]>();
    const targetsOf = (scope: Scope) => {
      const key = `${scope.accountId}/${scope.environment}`;
      let targets = targetsByScope.get(key);
      if (!targets) {
        targets = (sql.targets.all(scope.accountId, scope.environment) as Row[]).map(toTarget);
        targetsByScope.set(key, targets);
      }
      return targets;
    };
    const leasing: Leasing | null = lease && {
      request: lease,
      token: randomUUID(),
      until: now + lease.leaseMs,
      left: lease.limit,
      room: new Map(),
      claims: [],
    };
    return transaction(db, () => {
      const results = requests.map((request): IngestResult => {
        db.exec("SAVEPOINT request");
        const leasedBefore = leasing?.claims.length ?? 0;
        try {
          const targets = request.onlyEndpointId
            ? onlyTarget(request.scope, request.onlyEndpointId)
            : targetsOf(request.scope);
          const reached = new Map<string, number>();
          const events = request.events.map((event) =>
            ingestOne(request.scope, event, targets, { reached, leasing, now }),
          );
          // Once per endpoint, not per delivery: a batch of 1000 to one endpoint is one update.
          for (const [endpointId, due] of reached) queue.dueBy(endpointId, due);
          db.exec("RELEASE request");
          return { ok: true as const, events, deliveries: events.reduce((sum, e) => sum + e.deliveries, 0) };
        } catch (error) {
          db.exec("ROLLBACK TO request");
          db.exec("RELEASE request");
          if (leasing) forgetLeases(leasing, leasedBefore);
          if (error instanceof HooklineError) return { ok: false as const, error };
          throw error;
        }
      });
      return { results, claims: leasing?.claims ?? [] };
    });
  }

  /** The test-event target: its type filter does not apply, but it must be enabled. */
  function onlyTarget(scope: Scope, endpointId: string): Target[] {
    const row = sql.target.get(endpointId, scope.accountId, scope.environment) as Row | undefined;
    if (!row) throw notFound("endpoint", endpointId);
    if (row.enabled !== 1) {
      throw new HooklineError(
        "endpoint_disabled",
        `endpoint ${endpointId} is disabled; enable it to send a test event`,
        {
          status: 409,
        },
      );
    }
    return [{ ...toTarget(row), eventTypes: null }];
  }

  function ingestOne(
    scope: Scope,
    input: NewEvent,
    targets: Target[],
    { reached, leasing, now }: { reached: Map<string, number>; leasing: Leasing | null; now: number },
  ) {
    if (input.idempotencyKey !== null) {
      const existing = sql.byIdempotencyKey.get(scope.accountId, scope.environment, input.idempotencyKey) as
        | Row
        | undefined;
      if (existing) return { event: toEvent(existing), replayed: true, deliveries: 0 };
    }
    const id = newId("evt", now);
    const createdAt = new Date(now).toISOString();
    const body = `{"id":"${id}","type":${JSON.stringify(input.type)},"created_at":"${createdAt}","environment":"${scope.environment}","data":${input.dataJson}}`;
    sql.insertEvent.run(id, scope.accountId, scope.environment, input.type, body, input.idempotencyKey, now);
    let deliveries = 0;
    for (const target of targets) {
      if (target.eventTypes && !target.eventTypes.includes(input.type)) continue;
      const deliveryId = newId("dlv", now);
      const leased = leasing !== null && takeRoom(leasing, target, now);
      const due = leased ? leasing.until : now;
      const status = leased ? "delivering" : "pending";
      const token = leased ? leasing.token : null;
      sql.insertDelivery.run(
        deliveryId,
        id,
        target.id,
        scope.accountId,
        scope.environment,
        status,
        now,
        due,
        token,
        now,
        now,
      );
      if (leased) {
        const row = { ...target.endpoint, id: deliveryId, event_id: id, endpoint_id: target.id, body };
        leasing.claims.push(
          toClaim({ ...row, scheduled_attempts: 0, next_attempt_at: now, manual: 0 }, leasing.token, now, due),
        );
      }
      reached.set(target.id, Math.min(due, reached.get(target.id) ?? due));
      deliveries++;
    }
    const event: EventRecord = {
      id,
      accountId: scope.accountId,
      environment: scope.environment,
      type: input.type,
      body,
      idempotencyKey: input.idempotencyKey,
      createdAt: now,
    };
    return { event, replayed: false, deliveries };
  }

  return {
    async ingest(requests: IngestRequest[], now: number, lease?: ClaimRequest | null) {
      return ingest(requests, now, lease ?? null);
    },
    async getEvent(scope: Scope, id: string) {
      const row = sql.get.get(id, scope.accountId, scope.environment) as Row | undefined;
      return row ? toEvent(row) : null;
    },
    async listEvents(scope: Scope, filter: EventFilter, page: Page): Promise<EventList> {
      const params = {
        account: scope.accountId,
        environment: scope.environment,
        before: page.after ?? "\uffff",
        type: filter.type ?? null,
        since: filter.since ?? 0,
        until: filter.until ?? Number.MAX_SAFE_INTEGER,
        limit: page.limit,
      };
      if (!filter.deliveryStatus) {
        return { events: (sql.list.all(params) as Row[]).map(toEvent), resumeBefore: null };
      }
      const { limit: _, ...windowParams } = params;
      const window = sql.statusWindow.get({ ...windowParams, scan: STATUS_FILTER_SCAN }) as Row;
      if (window.floor === null) return { events: [], resumeBefore: null };
      const floor = String(window.floor);
      const rows = sql.listWithStatus.all({ ...params, floor, status: filter.deliveryStatus }) as Row[];
      const windowFull = Number(window.n) === STATUS_FILTER_SCAN;
      return {
        events: rows.map(toEvent),
        resumeBefore: windowFull && rows.length < page.limit ? floor : null,
      };
    },
  };
}

function toTarget(row: Row): Target {
  const eventTypes = row.event_types === null ? null : JSON.parse(String(row.event_types));
  return { id: String(row.id), eventTypes, endpoint: row };
}

/**
 * Whether the next delivery to `target` may be leased at once: the endpoint is not
 * excluded, has room under its share, and has nothing older due (that goes first,
 * through the claim). Once one of its deliveries is left due, the rest are too.
 */
function takeRoom(leasing: Leasing, target: Target, now: number): boolean {
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

/** A request rolled back: the leases it wrote are gone, so are their claims (its rooms stay used, which is safe). */
function forgetLeases(leasing: Leasing, keep: number) {
  leasing.left += leasing.claims.length - keep;
  leasing.claims.length = keep;
}
