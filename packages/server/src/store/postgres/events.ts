import { HooklineError } from "../../errors.ts";
import { newId } from "../../ids.ts";
import {
  eventBody,
  type Leasing,
  leasedClaim,
  leaseRoom,
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
import type { Database, Sql } from "./database.ts";
import { queue, roomOn, TARGET_ORDER } from "./queue.ts";

const FILTERS = `account_id = $1 AND environment = $2 AND id < $3 AND ($4::text IS NULL OR type = $4)
  AND created_at >= $5 AND created_at < $6`;

/**
 * Ingest's read of its target endpoints, each locked KEY SHARE: an endpoint deleted meanwhile
 * waits for this commit, then cancels what it made. `queue_due_at` folds in the endpoint's
 * marks, so leasing sees work other commits left due.
 */
const TARGETS = `SELECT e.*, LEAST(e.next_due_at,
    (SELECT min(m.due_at) FROM endpoint_due_marks m WHERE m.endpoint_id = e.id)) AS queue_due_at
  FROM endpoints e`;

/** A TARGETS row as an endpoint row whose next due time counts its marks. */
function withMarks({ queue_due_at, ...row }: Row): Row {
  return { ...row, next_due_at: queue_due_at ?? null };
}

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

/** A new delivery row: due now (pending), or leased to the ingesting process already (delivering). */
interface NewDelivery {
  id: string;
  event: EventRecord;
  endpointId: string;
  /** Set when leased at ingest. */
  claimToken: string | null;
  dueAt: number;
}

/** One event of a request as it will be answered. */
interface Planned {
  event: EventRecord;
  replayed: boolean;
}

function newEvent(scope: Scope, input: NewEvent, now: number): EventRecord {
  const id = newId("evt", now);
  return {
    id,
    accountId: scope.accountId,
    environment: scope.environment,
    type: input.type,
    body: eventBody(id, input.type, now, scope.environment, input.dataJson),
    idempotencyKey: input.idempotencyKey,
    createdAt: now,
  };
}

const keyOf = (scope: Scope, key: string) => `${scope.accountId}\n${scope.environment}\n${key}`;

export function eventQueries(db: Database) {
  /**
   * Commits many API requests in one transaction (group commit), in a handful of statements
   * whatever their number: each request's targets are read first (a test event to a missing
   * or disabled endpoint fails its request alone, before anything is written), then every
   * new event goes in with one multi-row INSERT and every new delivery with another.
   */
  async function ingest(requests: IngestRequest[], now: number, lease: ClaimRequest | null): Promise<Ingested> {
    return db.transaction(async (tx) => {
      const leasing = startLeasing(lease, now);
      const reach = await targetsOf(tx, requests);
      const byKey = await storedByKey(tx, requests, reach);
      const newEvents: EventRecord[] = [];
      const newDeliveries: NewDelivery[] = [];
      const planned: (Planned[] | HooklineError)[] = [];
      for (const [i, request] of requests.entries()) {
        const targets = reach[i] as Target[] | HooklineError;
        if (targets instanceof HooklineError) {
          planned.push(targets);
          continue;
        }
        const tooMany = tooManyDeliveries(
          request.events,
          targets,
          ({ idempotencyKey }) => idempotencyKey !== null && byKey.has(keyOf(request.scope, idempotencyKey)),
        );
        if (tooMany) {
          planned.push(tooMany);
          continue;
        }
        const events: Planned[] = [];
        for (const input of request.events) {
          const key = input.idempotencyKey === null ? null : keyOf(request.scope, input.idempotencyKey);
          const earlier = key === null ? undefined : byKey.get(key);
          if (earlier) {
            events.push({ event: earlier, replayed: true });
            continue;
          }
          const event = newEvent(request.scope, input, now);
          if (key !== null) byKey.set(key, event);
          newEvents.push(event);
          events.push({ event, replayed: false });
          newDeliveries.push(...(await fanOut(tx, event, targets, leasing, now)));
        }
        planned.push(events);
      }

      // Another commit may have stored one of these idempotency keys since they were read:
      // that event is then a replay of the stored one, and makes no deliveries.
      const winners = await insertEvents(tx, newEvents);
      const kept = newDeliveries.filter((d) => !winners.has(d.event.id));
      if (leasing && winners.size > 0) {
        leasing.claims = leasing.claims.filter((claim) => !winners.has(claim.eventId));
      }
      await insertDeliveries(tx, kept, now);
      const dueTimes = new Map<string, number>();
      const made = new Map<string, number>();
      for (const d of kept) {
        dueTimes.set(d.endpointId, Math.min(d.dueAt, dueTimes.get(d.endpointId) ?? d.dueAt));
        made.set(d.event.id, (made.get(d.event.id) ?? 0) + 1);
      }
      // Marks, not the endpoint rows: ingest never waits for a worker holding an endpoint.
      await queue.markDue(tx, dueTimes, now);

      const results = planned.map((events): IngestResult => {
        if (events instanceof HooklineError) return { ok: false, error: events };
        const answered = events.map(({ event, replayed }) => {
          const winner = winners.get(event.id);
          return winner ? { event: winner, replayed: true } : { event, replayed };
        });
        const deliveries = answered.reduce((sum, e) => sum + (e.replayed ? 0 : (made.get(e.event.id) ?? 0)), 0);
        return { ok: true, events: answered, deliveries };
      });
      return { results, claims: leasing?.claims ?? [] };
    });
  }

  /** The event's new deliveries, one per target that takes its type; leased to the caller where there is room. */
  async function fanOut(tx: Sql, event: EventRecord, targets: Target[], leasing: Leasing | null, now: number) {
    const deliveries: NewDelivery[] = [];
    for (const target of targets) {
      if (target.eventTypes && !target.eventTypes.includes(event.type)) continue;
      if (leasing && !leasing.room.has(target.id))
        leasing.room.set(target.id, await sharedLeaseRoom(tx, leasing, target, now));
      const leased = leasing !== null && takeRoom(leasing, target, now);
      const id = newId("dlv", now);
      deliveries.push({
        id,
        event,
        endpointId: target.id,
        claimToken: leased ? leasing.token : null,
        dueAt: leased ? leasing.until : now,
      });
      if (leased) leasedClaim(leasing, target, id, event.id, event.body, now);
    }
    return deliveries;
  }

  /**
   * Each request's targets: its scope's enabled endpoints, or its test endpoint (or why it has
   * none). One statement per account and environment locks them KEY SHARE, the scopes in order
   * and each one's endpoints in id order: the order (`TARGET_ORDER`) a settle that disables
   * several endpoints locks them FOR UPDATE in, so the two never wait for each other in a cycle.
   */
  async function targetsOf(tx: Sql, requests: IngestRequest[]): Promise<(Target[] | HooklineError)[]> {
    const scopeKey = (accountId: unknown, environment: unknown) => `${accountId}\n${environment}`;
    const scopes = new Map<string, { scope: Scope; all: boolean; testIds: string[] }>();
    for (const { scope, onlyEndpointId } of requests) {
      const key = scopeKey(scope.accountId, scope.environment);
      const entry = scopes.get(key) ?? { scope, all: false, testIds: [] };
      if (onlyEndpointId) entry.testIds.push(onlyEndpointId);
      else entry.all = true;
      scopes.set(key, entry);
    }
    const byScope = new Map<string, Target[]>();
    const byId = new Map<string, Row>();
    for (const [key, { scope, all, testIds }] of [...scopes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const rows = await tx.all(
        `${TARGETS} WHERE e.account_id = $1 AND e.environment = $2 AND (e.enabled = 1 AND $3 OR e.id = ANY($4::text[]))
        ORDER BY ${TARGET_ORDER} FOR KEY SHARE`,
        [scope.accountId, scope.environment, all, testIds],
      );
      const targets: Target[] = [];
      for (const row of rows.map(withMarks)) {
        byId.set(`${key}\n${row.id}`, row);
        if (all && row.enabled === 1) targets.push(toTarget(row));
      }
      byScope.set(key, targets);
    }
    return requests.map(({ scope, onlyEndpointId }) => {
      if (!onlyEndpointId) return byScope.get(scopeKey(scope.accountId, scope.environment)) ?? [];
      try {
        return testTarget(
          byId.get(`${scopeKey(scope.accountId, scope.environment)}\n${onlyEndpointId}`),
          onlyEndpointId,
        );
      } catch (error) {
        if (!(error instanceof HooklineError)) throw error;
        return error;
      }
    });
  }

  /** The stored events with the idempotency keys these requests bring, by scope and key. */
  async function storedByKey(tx: Sql, requests: IngestRequest[], reach: (Target[] | HooklineError)[]) {
    const wanted = requests.flatMap((request, i) =>
      reach[i] instanceof HooklineError
        ? []
        : request.events.flatMap((e) =>
            e.idempotencyKey === null ? [] : [[request.scope, e.idempotencyKey] as const],
          ),
    );
    const byKey = new Map<string, EventRecord>();
    for (const event of await eventsByKey(tx, wanted)) {
      byKey.set(keyOf(event, event.idempotencyKey as string), event);
    }
    return byKey;
  }

  async function eventsByKey(tx: Sql, keys: (readonly [Scope, string])[]): Promise<EventRecord[]> {
    if (keys.length === 0) return [];
    const rows = await tx.all(
      `SELECT * FROM events WHERE idempotency_key IS NOT NULL AND (account_id, environment, idempotency_key) IN
        (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))`,
      [keys.map(([s]) => s.accountId), keys.map(([s]) => s.environment), keys.map(([, key]) => key)],
    );
    return rows.map(toEvent);
  }

  /**
   * Inserts the new events; returns, for each one whose idempotency key another commit
   * stored first (its INSERT waited for that commit, then did nothing), the stored event.
   */
  async function insertEvents(tx: Sql, unordered: EventRecord[]): Promise<Map<string, EventRecord>> {
    const winners = new Map<string, EventRecord>();
    if (unordered.length === 0) return winners;
    // In key order (ORDER BY n keeps it), so two commits waiting on each other's keys take them in the same order.
    const events = unordered
      .map((e) => ({ e, key: e.idempotencyKey === null ? "" : keyOf(e, e.idempotencyKey) }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ e }) => e);
    const inserted = await tx.all(
      `INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at)
      SELECT id, account_id, environment, type, body, idempotency_key, created_at
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[])
        WITH ORDINALITY AS e(id, account_id, environment, type, body, idempotency_key, created_at, n)
      ORDER BY n
      ON CONFLICT (account_id, environment, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id`,
      [
        events.map((e) => e.id),
        events.map((e) => e.accountId),
        events.map((e) => e.environment),
        events.map((e) => e.type),
        events.map((e) => e.body),
        events.map((e) => e.idempotencyKey),
        events.map((e) => e.createdAt),
      ],
    );
    if (inserted.length === events.length) return winners;
    const insertedIds = new Set(inserted.map((row) => String(row.id)));
    const lost = events.filter((e) => !insertedIds.has(e.id));
    const stored = new Map<string, EventRecord>();
    for (const event of await eventsByKey(
      tx,
      lost.map((e) => [e, e.idempotencyKey as string] as const),
    )) {
      stored.set(keyOf(event, event.idempotencyKey as string), event);
    }
    for (const event of lost) {
      const winner = stored.get(keyOf(event, event.idempotencyKey as string));
      // The event that held the key is gone again: the whole commit fails (503) and the caller retries.
      if (!winner) throw new Error("the event with this idempotency key changed during the commit");
      winners.set(event.id, winner);
    }
    return winners;
  }

  async function insertDeliveries(tx: Sql, deliveries: NewDelivery[], now: number) {
    if (deliveries.length === 0) return;
    await tx.run(
      `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status, attempt_count,
        scheduled_attempts, next_attempt_at, due_at, manual, claim_token, created_at, updated_at)
      SELECT d.id, d.event_id, d.endpoint_id, d.account_id, d.environment, d.status, 0, 0, $9, d.due_at, 0,
        d.claim_token, $9, $9
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])
        AS d(id, event_id, endpoint_id, account_id, environment, status, due_at, claim_token)`,
      [
        deliveries.map((d) => d.id),
        deliveries.map((d) => d.event.id),
        deliveries.map((d) => d.endpointId),
        deliveries.map((d) => d.event.accountId),
        deliveries.map((d) => d.event.environment),
        deliveries.map((d) => (d.claimToken === null ? "pending" : "delivering")),
        deliveries.map((d) => d.dueAt),
        deliveries.map((d) => d.claimToken),
        now,
      ],
    );
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
