import type { DatabaseSync } from "node:sqlite";
import { HooklineError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import {
  eventBody,
  type Leasing,
  leasedClaim,
  startLeasing,
  type Target,
  takeRoom,
  testTarget,
  tooManyDeliveries,
  toTarget,
} from "../ingest-plan.ts";
import { type Row, toEvent } from "../rows.ts";
import type {
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
   * all of them. A request fails alone only while its targets are looked up,
   * before it writes anything (a test event's endpoint missing or disabled), so
   * no request needs a savepoint of its own; any later error fails the commit.
   */
  function ingest(requests: IngestRequest[], now: number, lease: ClaimRequest | null): Ingested {
    const targetsByScope = new Map<string, Target[]>();
    const targetsOf = (request: IngestRequest) => {
      const { scope } = request;
      if (request.onlyEndpointId) return onlyTarget(scope, request.onlyEndpointId);
      const key = `${scope.accountId}/${scope.environment}`;
      let targets = targetsByScope.get(key);
      if (!targets) {
        targets = (sql.targets.all(scope.accountId, scope.environment) as Row[]).map(toTarget);
        targetsByScope.set(key, targets);
      }
      return targets;
    };
    const leasing = startLeasing(lease, now);
    return transaction(db, () => {
      const results = requests.map((request): IngestResult => {
        let targets: Target[];
        try {
          targets = targetsOf(request);
        } catch (error) {
          if (error instanceof HooklineError) return { ok: false as const, error };
          throw error;
        }
        const { accountId, environment } = request.scope;
        const tooMany = tooManyDeliveries(
          request.events,
          targets,
          ({ idempotencyKey }) =>
            idempotencyKey !== null && sql.byIdempotencyKey.get(accountId, environment, idempotencyKey) !== undefined,
        );
        if (tooMany) return { ok: false as const, error: tooMany };
        const reached = new Map<string, number>();
        const events = request.events.map((event) =>
          ingestOne(request.scope, event, targets, { reached, leasing, now }),
        );
        // Once per endpoint, not per delivery: a batch of 1000 to one endpoint is one update.
        for (const [endpointId, due] of reached) queue.dueBy(endpointId, due);
        return { ok: true as const, events, deliveries: events.reduce((sum, e) => sum + e.deliveries, 0) };
      });
      return { results, claims: leasing?.claims ?? [] };
    });
  }

  function onlyTarget(scope: Scope, endpointId: string): Target[] {
    return testTarget(sql.target.get(endpointId, scope.accountId, scope.environment) as Row | undefined, endpointId);
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
    const body = eventBody(id, input.type, now, scope.environment, input.dataJson);
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
      if (leased) leasedClaim(leasing, target, deliveryId, id, body, now);
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
