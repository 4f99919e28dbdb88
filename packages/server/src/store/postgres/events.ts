import { HooklineError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import {
  eventBody,
  forgetLeases,
  type Leasing,
  leasedClaim,
  leaseMark,
  leaseRoom,
  startLeasing,
  type Target,
  takeRoom,
  testTarget,
  toTarget,
} from "../ingest-plan.ts";
import { toEvent } from "../rows.ts";
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
import type { Database, Sql } from "./database.ts";
import { queue, roomOn } from "./queue.ts";

const FILTERS = `account_id = $1 AND environment = $2 AND id < $3 AND ($4::text IS NULL OR type = $4)
  AND created_at >= $5 AND created_at < $6`;

/**
 * The room this commit may lease on `target`: the process's policy, narrowed by other
 * nodes' claims, counted under the endpoint's row lock (skipped if another node holds it).
 */
async function sharedLeaseRoom(tx: Sql, leasing: Leasing, target: Target, now: number): Promise<number> {
  if (leaseRoom(leasing, target, now) <= 0) return 0;
  const endpoint = await tx.get("SELECT max_in_flight FROM endpoints WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED", [
    target.id,
  ]);
  // Held counts are from when the lease was offered, before this commit: any unexpired claim counts as another's.
  return endpoint ? roomOn(tx, endpoint, target.id, { ...leasing.request, held: new Map() }) : 0;
}

export function eventQueries(db: Database) {
  /**
   * Commits many API requests in one transaction (group commit). Each request gets
   * a savepoint, so one bad request fails alone.
   */
  async function ingest(requests: IngestRequest[], now: number, lease: ClaimRequest | null): Promise<Ingested> {
    return db.transaction(async (tx) => {
      const leasing = startLeasing(lease, now);
      const targetsByScope = new Map<string, Target[]>();
      const targetsOf = async (scope: Scope) => {
        const key = `${scope.accountId}/${scope.environment}`;
        let targets = targetsByScope.get(key);
        if (!targets) {
          // KEY SHARE: an endpoint deleted meanwhile waits for this commit, then cancels what it made.
          // Its next due time counts its marks, so leasing sees work other commits left due.
          const rows = await tx.all(
            `SELECT e.*, LEAST(e.next_due_at,
                (SELECT min(m.due_at) FROM endpoint_due_marks m WHERE m.endpoint_id = e.id)) AS queue_due_at
            FROM endpoints e WHERE e.account_id = $1 AND e.environment = $2 AND e.enabled = 1 FOR KEY SHARE`,
            [scope.accountId, scope.environment],
          );
          targets = rows.map(({ queue_due_at, ...row }) => toTarget({ ...row, next_due_at: queue_due_at ?? null }));
          targetsByScope.set(key, targets);
        }
        return targets;
      };
      const results: IngestResult[] = [];
      // The earliest new due time per endpoint, over the requests that committed.
      const dueTimes = new Map<string, number>();
      for (const request of requests) {
        await tx.run("SAVEPOINT request");
        const mark = leaseMark(leasing);
        try {
          const targets = request.onlyEndpointId
            ? testTarget(
                await tx.get("SELECT * FROM endpoints WHERE id = $1 AND account_id = $2 AND environment = $3", [
                  request.onlyEndpointId,
                  request.scope.accountId,
                  request.scope.environment,
                ]),
                request.onlyEndpointId,
              )
            : await targetsOf(request.scope);
          const reached = new Map<string, number>();
          const events = [];
          for (const event of request.events) {
            events.push(await ingestOne(tx, request.scope, event, targets, { reached, leasing, now }));
          }
          await tx.run("RELEASE SAVEPOINT request");
          for (const [endpointId, due] of reached)
            dueTimes.set(endpointId, Math.min(due, dueTimes.get(endpointId) ?? due));
          results.push({ ok: true, events, deliveries: events.reduce((sum, e) => sum + e.deliveries, 0) });
        } catch (error) {
          await tx.run("ROLLBACK TO SAVEPOINT request");
          forgetLeases(leasing, mark);
          if (!(error instanceof HooklineError)) throw error;
          results.push({ ok: false, error });
        }
      }
      // Marks, not the endpoint rows: ingest never waits for a worker holding an endpoint.
      await queue.markDue(tx, dueTimes, now);
      return { results, claims: leasing?.claims ?? [] };
    });
  }

  async function ingestOne(
    tx: Sql,
    scope: Scope,
    input: NewEvent,
    targets: Target[],
    { reached, leasing, now }: { reached: Map<string, number>; leasing: Leasing | null; now: number },
  ) {
    if (input.idempotencyKey !== null) {
      const existing = await tx.get(
        "SELECT * FROM events WHERE account_id = $1 AND environment = $2 AND idempotency_key = $3",
        [scope.accountId, scope.environment, input.idempotencyKey],
      );
      if (existing) return { event: toEvent(existing), replayed: true, deliveries: 0 };
    }
    const id = newId("evt", now);
    const body = eventBody(id, input.type, now, scope.environment, input.dataJson);
    // Two nodes (or two commits) with the same new key: the second waits for the first, then replays it.
    const inserted = await tx.get(
      `INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at)
      VALUES ($1, $2, $3, $4, $5, $6, $7)
      ON CONFLICT (account_id, environment, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id`,
      [id, scope.accountId, scope.environment, input.type, body, input.idempotencyKey, now],
    );
    if (!inserted) {
      const first = await tx.get(
        "SELECT * FROM events WHERE account_id = $1 AND environment = $2 AND idempotency_key = $3",
        [scope.accountId, scope.environment, input.idempotencyKey],
      );
      if (first) return { event: toEvent(first), replayed: true, deliveries: 0 };
      // The event that held the key is gone again: the whole commit fails (503) and the caller retries.
      throw new Error("the event with this idempotency key changed during the commit");
    }
    let deliveries = 0;
    for (const target of targets) {
      if (target.eventTypes && !target.eventTypes.includes(input.type)) continue;
      const deliveryId = newId("dlv", now);
      if (leasing && !leasing.room.has(target.id))
        leasing.room.set(target.id, await sharedLeaseRoom(tx, leasing, target, now));
      const leased = leasing !== null && takeRoom(leasing, target, now);
      const due = leased ? leasing.until : now;
      // A new delivery is due now (pending), or leased to the ingesting process already (delivering).
      await tx.run(
        `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status, attempt_count,
          scheduled_attempts, next_attempt_at, due_at, manual, claim_token, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8, 0, $9, $7, $7)`,
        [
          deliveryId,
          id,
          target.id,
          scope.accountId,
          scope.environment,
          leased ? "delivering" : "pending",
          now,
          due,
          leased ? leasing.token : null,
        ],
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
    ingest(requests: IngestRequest[], now: number, lease?: ClaimRequest | null) {
      return ingest(requests, now, lease ?? null);
    },
    async getEvent(scope: Scope, id: string) {
      const row = await db.get("SELECT * FROM events WHERE id = $1 AND account_id = $2 AND environment = $3", [
        id,
        scope.accountId,
        scope.environment,
      ]);
      return row ? toEvent(row) : null;
    },
    async listEvents(scope: Scope, filter: EventFilter, page: Page): Promise<EventList> {
      const params = [
        scope.accountId,
        scope.environment,
        page.after ?? "\uffff",
        filter.type ?? null,
        filter.since ?? 0,
        filter.until ?? Number.MAX_SAFE_INTEGER,
      ];
      if (!filter.deliveryStatus) {
        const rows = await db.all(`SELECT * FROM events WHERE ${FILTERS} ORDER BY id DESC LIMIT $7`, [
          ...params,
          page.limit,
        ]);
        return { events: rows.map(toEvent), resumeBefore: null };
      }
      // Looks at a bounded window of events (index only), then at the matches in it.
      const window = (await db.get(
        `SELECT min(id) AS floor, count(*) AS n FROM (SELECT id FROM events WHERE ${FILTERS} ORDER BY id DESC LIMIT $7) w`,
        [...params, STATUS_FILTER_SCAN],
      )) as { floor: string | null; n: number };
      if (window.floor === null) return { events: [], resumeBefore: null };
      const rows = await db.all(
        `SELECT * FROM events WHERE ${FILTERS} AND id >= $7
          AND EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id AND d.status = $8)
        ORDER BY id DESC LIMIT $9`,
        [...params, window.floor, filter.deliveryStatus, page.limit],
      );
      const windowFull = Number(window.n) === STATUS_FILTER_SCAN;
      return { events: rows.map(toEvent), resumeBefore: windowFull && rows.length < page.limit ? window.floor : null };
    },
  };
}
