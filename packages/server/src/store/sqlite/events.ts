import type { DatabaseSync } from "node:sqlite";
import { HooklineError, notFound } from "../../errors.ts";
import { newId } from "../../ids.ts";
import type {
  Environment,
  EventFilter,
  EventRecord,
  IngestRequest,
  IngestResult,
  NewEvent,
  Page,
  Scope,
} from "../store.ts";
import { prepareAll, type Row, transaction } from "./database.ts";
import type { QueueSummary } from "./queue.ts";

interface Target {
  id: string;
  eventTypes: string[] | null;
}

export function eventQueries(db: DatabaseSync, queue: QueueSummary) {
  const sql = prepareAll(db, {
    byIdempotencyKey: "SELECT * FROM events WHERE account_id = ? AND environment = ? AND idempotency_key = ?",
    insertEvent: `INSERT INTO events (id, account_id, environment, type, body, idempotency_key, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?)`,
    targets: "SELECT id, event_types FROM endpoints WHERE account_id = ? AND environment = ? AND enabled = 1",
    target: "SELECT id, enabled FROM endpoints WHERE id = ? AND account_id = ? AND environment = ?",
    insertDelivery: `INSERT INTO deliveries (id, event_id, endpoint_id, account_id, environment, status, attempt_count,
      scheduled_attempts, next_attempt_at, due_at, manual, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, 0, ?, ?)`,
    get: "SELECT * FROM events WHERE id = ? AND account_id = ? AND environment = ?",
    list: `SELECT * FROM events WHERE account_id = $account AND environment = $environment AND id < $before
      AND ($type IS NULL OR type = $type) AND created_at >= $since AND created_at < $until
      ORDER BY id DESC LIMIT $limit`,
  });

  /**
   * Commits many API requests in one transaction (group commit): one fsync for
   * all of them. Each request gets a savepoint, so one bad request fails alone.
   */
  function ingest(requests: IngestRequest[], now: number): IngestResult[] {
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
    return transaction(db, () =>
      requests.map((request) => {
        db.exec("SAVEPOINT request");
        try {
          const targets = request.onlyEndpointId
            ? onlyTarget(request.scope, request.onlyEndpointId)
            : targetsOf(request.scope);
          const reached = new Set<string>();
          const events = request.events.map((event) => ingestOne(request.scope, event, targets, reached, now));
          // Once per endpoint, not per delivery: a batch of 1000 to one endpoint is one update.
          for (const endpointId of reached) queue.dueBy(endpointId, now);
          db.exec("RELEASE request");
          return { ok: true as const, events, deliveries: events.reduce((sum, e) => sum + e.deliveries, 0) };
        } catch (error) {
          db.exec("ROLLBACK TO request");
          db.exec("RELEASE request");
          if (error instanceof HooklineError) return { ok: false as const, error };
          throw error;
        }
      }),
    );
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
    return [{ id: endpointId, eventTypes: null }];
  }

  function ingestOne(scope: Scope, input: NewEvent, targets: Target[], reached: Set<string>, now: number) {
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
      sql.insertDelivery.run(newId("dlv", now), id, target.id, scope.accountId, scope.environment, now, now, now, now);
      reached.add(target.id);
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
    async ingest(requests: IngestRequest[], now: number) {
      return ingest(requests, now);
    },
    async getEvent(scope: Scope, id: string) {
      const row = sql.get.get(id, scope.accountId, scope.environment) as Row | undefined;
      return row ? toEvent(row) : null;
    },
    async listEvents(scope: Scope, filter: EventFilter, page: Page) {
      const rows = sql.list.all({
        account: scope.accountId,
        environment: scope.environment,
        before: page.after ?? "\uffff",
        type: filter.type ?? null,
        since: filter.since ?? 0,
        until: filter.until ?? Number.MAX_SAFE_INTEGER,
        limit: page.limit,
      }) as Row[];
      return rows.map(toEvent);
    },
  };
}

function toTarget(row: Row): Target {
  return { id: String(row.id), eventTypes: row.event_types === null ? null : JSON.parse(String(row.event_types)) };
}

function toEvent(row: Row): EventRecord {
  return {
    id: String(row.id),
    accountId: String(row.account_id),
    environment: row.environment as Environment,
    type: String(row.type),
    body: String(row.body),
    idempotencyKey: row.idempotency_key === null ? null : String(row.idempotency_key),
    createdAt: Number(row.created_at),
  };
}
