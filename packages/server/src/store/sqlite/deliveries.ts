import { randomUUID } from "node:crypto";
import type { DatabaseSync } from "node:sqlite";
import { newId } from "../../ids.ts";
import { capOf, RATE_AHEAD_MS, rateSlots } from "../claim-rules.ts";
import { decidedState, failingReason, failureStreaks } from "../outcome-rules.ts";
import { disabledEndpoint, type Row, toAttempt, toClaim, toDelivery } from "../rows.ts";
import type { Claim, ClaimRequest, DeliveryStatus, DisabledEndpoint, Outcome, Page, Scope } from "../store.ts";
import { prepareAll, transaction } from "./database.ts";
import type { EndpointStatsQueries } from "./endpoint-stats.ts";
import type { QueueSummary } from "./queue.ts";

export function deliveryQueries(db: DatabaseSync, queue: QueueSummary, startTally: EndpointStatsQueries["tally"]) {
  const sql = prepareAll(db, {
    get: "SELECT * FROM deliveries WHERE id = ? AND account_id = ? AND environment = ?",
    listByEvent: `SELECT * FROM deliveries WHERE event_id = ? AND account_id = ? AND environment = ? AND id > ?
      ORDER BY id LIMIT +?`,
    attempts: `SELECT a.* FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
      WHERE a.delivery_id = ? AND d.account_id = ? AND d.environment = ? AND a.id > ? ORDER BY a.id LIMIT ?`,
    retryPending: "UPDATE deliveries SET manual = 1, due_at = ?, updated_at = ? WHERE id = ?",
    retryFinal: `UPDATE deliveries SET status = 'pending', manual = 1, due_at = ?, next_attempt_at = NULL, updated_at = ?
      WHERE id = ?`,
    // `LIMIT +?`, not `LIMIT ?`: SQLite plans with a bound LIMIT's value, so binding one makes it
    // prepare the statement again on every run (docs/benchmarks.md, "Changes on 2026-11-29").
    // Endpoints with work due, the longest-waiting first; a rate-limited one only while it has a free
    // send time; a listen endpoint only by the process holding its listener, or by any while none does.
    dueEndpoints: `SELECT id, max_in_flight, rate_limit_per_s, rate_next_at FROM endpoints
      WHERE next_due_at IS NOT NULL AND next_due_at <= ?1 AND enabled = 1
        AND (rate_limit_per_s IS NULL OR rate_next_at IS NULL OR rate_next_at < ?1 + ?4)
        AND id NOT IN (SELECT value FROM json_each(?2))
        AND (kind = 'http' AND NOT ?6
          OR kind = 'listen' AND (listener_node = ?5 AND listener_until > ?1 OR NOT ?6 AND coalesce(listener_until, 0) <= ?1))
      ORDER BY next_due_at LIMIT +?3`,
    reserveRate: "UPDATE endpoints SET rate_next_at = ? WHERE id = ?",
    // One endpoint's oldest due deliveries, straight from the (endpoint_id, due_at) index.
    dueOf:
      "SELECT id FROM deliveries WHERE endpoint_id = ? AND due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT +?",
    // Everything one attempt needs, read only for the deliveries actually claimed, in the order given.
    claimed: `SELECT d.id, d.event_id, d.endpoint_id, d.scheduled_attempts, d.next_attempt_at, d.manual, e.body,
        p.url, p.environment, p.kind, p.secret, p.previous_secret, p.previous_secret_expires_at, p.retry_schedule,
        p.max_in_flight, p.rate_limit_per_s
      FROM json_each(?) AS j
      CROSS JOIN deliveries d ON d.id = j.value
      CROSS JOIN endpoints p ON p.id = d.endpoint_id
      CROSS JOIN events e ON e.id = d.event_id
      ORDER BY j.key`,
    lease: `UPDATE deliveries SET status = 'delivering', due_at = ?1, claim_token = ?2, updated_at = ?3
      WHERE id IN (SELECT value FROM json_each(?4))`,
    // Guarded by the claim token: a worker whose lease was lost writes nothing. The worker's
    // decision applies while the delivery is still delivering, or when this attempt succeeded
    // (?1 = 'succeeded'); otherwise the delivery keeps the state it was given meanwhile.
    complete: `UPDATE deliveries SET attempt_count = attempt_count + 1, claim_token = NULL, last_status_code = ?5,
        updated_at = ?7,
        status = iif(status = 'delivering' OR ?1 = 'succeeded', ?1, status),
        scheduled_attempts = iif(status = 'delivering' OR ?1 = 'succeeded', ?2, scheduled_attempts),
        next_attempt_at = iif(status = 'delivering' OR ?1 = 'succeeded', ?3, next_attempt_at),
        due_at = iif(status = 'delivering' OR ?1 = 'succeeded', ?4, due_at),
        manual = iif(status = 'delivering' OR ?1 = 'succeeded', 0, manual),
        last_error = iif(status = 'delivering' OR ?1 = 'succeeded', ?6, last_error)
      WHERE id = ?8 AND claim_token = ?9`,
    scopeEndpoints: "SELECT id FROM endpoints WHERE account_id = ? AND environment = ?",
    endpointExists: "SELECT 1 FROM endpoints WHERE id = ?",
    endpointEnabled: "SELECT enabled FROM endpoints WHERE id = ?",
    // Through the queue index, endpoint by endpoint: only rows waiting for a later time.
    advance: `UPDATE deliveries SET due_at = ?1, next_attempt_at = ?1, updated_at = ?1
      WHERE endpoint_id = ?2 AND due_at > ?1 AND status = 'pending'`,
    // The log keeps the latest attempts' response snippets; older attempts keep their status and error.
    trimSnippets: `UPDATE attempts SET response_snippet = NULL
      WHERE delivery_id = ?1 AND response_snippet IS NOT NULL
        AND id < (SELECT id FROM attempts WHERE delivery_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`,
    insertAttempt: `INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_snippet,
      request_headers, trigger) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    disableEndpoint: `UPDATE endpoints SET enabled = 0, disabled_reason = ?1, updated_at = ?2, disabled_notice_at = ?2
      WHERE id = ?3 AND enabled = 1`,
    disabledEndpoint: "SELECT id, account_id, environment, url, failing_since FROM endpoints WHERE id = ?",
    streakEnds: "UPDATE endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL",
    streakStarts: "UPDATE endpoints SET failing_since = ?1 WHERE id = ?2 AND failing_since IS NULL",
    streakRestarts: "UPDATE endpoints SET failing_since = ?1 WHERE id = ?2",
    failingTooLong: `SELECT failing_since FROM endpoints
      WHERE id = ? AND enabled = 1 AND kind = 'http' AND failing_since <= ?`,
    // Due again at once if still delivering (its endpoint is then enabled: a disable fails delivering
    // rows, a delete cancels them); a delivery failed or cancelled meanwhile stays so, its claim ended.
    release: `UPDATE deliveries SET claim_token = NULL, updated_at = ?1,
        status = iif(status = 'delivering', 'pending', status), due_at = iif(status = 'delivering', ?1, due_at)
      WHERE id = ?2 AND claim_token = ?3`,
    nextDue: "SELECT min(next_due_at) AS due FROM endpoints WHERE next_due_at IS NOT NULL AND enabled = 1",
  });

  /**
   * Claims up to `limit` due deliveries: endpoint by endpoint, the one waiting
   * longest first, each endpoint's oldest first and never more than its share.
   */
  function claimDue(request: ClaimRequest): Claim[] {
    const { now, limit, leaseMs } = request;
    const claims: Claim[] = [];
    const excluded = JSON.stringify(request.excludeEndpoints);
    const only = request.listenersOnly ? 1 : 0;
    const endpoints = sql.dueEndpoints.all(now, excluded, limit, RATE_AHEAD_MS, request.node, only) as Row[];
    for (const endpoint of endpoints) {
      const endpointId = String(endpoint.id);
      const wanted = Math.min(request.room.get(endpointId) ?? capOf(endpoint, request), limit - claims.length);
      const rate = endpoint.rate_limit_per_s === null ? null : Number(endpoint.rate_limit_per_s);
      const slots = rate === null ? null : rateSlots(rate, endpoint.rate_next_at as number | null, now, wanted);
      const room = slots ? slots.count : wanted;
      if (room <= 0) continue;
      const ids = JSON.stringify((sql.dueOf.all(endpointId, now, room) as Row[]).map((row) => row.id));
      // One token for the claim: a delivery is in it once, and a later claim of it gets another.
      const claimToken = randomUUID();
      sql.lease.run(now + leaseMs, claimToken, now, ids);
      const rows = sql.claimed.all(ids) as Row[];
      for (const [i, row] of rows.entries()) {
        claims.push(toClaim(row, claimToken, now, now + leaseMs, slots?.sendAt(i)));
      }
      if (slots) sql.reserveRate.run(slots.nextFreeAt(rows.length), endpointId);
      queue.refresh([endpointId]);
      if (claims.length === limit) break;
    }
    return claims;
  }

  /** Disables an enabled endpoint and fails its waiting work; adds what the operator is told to `disabled`. */
  function disable(endpointId: string, reason: string, now: number, disabled: DisabledEndpoint[]): void {
    if (!sql.disableEndpoint.run(reason, now, endpointId).changes) return;
    queue.failPending(endpointId, "endpoint_disabled", now);
    disabled.push(disabledEndpoint(sql.disabledEndpoint.get(endpointId) as Row, reason, now));
  }

  /** Keeps each endpoint's failure streak, and disables the ones failing for too long. */
  function trackStreaks(recorded: Outcome[], now: number, disabled: DisabledEndpoint[]): void {
    for (const outcome of recorded) {
      if (outcome.disableEndpoint) disable(outcome.claim.endpointId, outcome.disableEndpoint, now, disabled);
    }
    for (const [endpointId, streak] of failureStreaks(recorded)) {
      if (streak.ok) {
        sql.streakEnds.run(endpointId);
        continue;
      }
      (streak.restarted ? sql.streakRestarts : sql.streakStarts).run(streak.since, endpointId);
      if (streak.disableIfSince === null) continue;
      const row = sql.failingTooLong.get(endpointId, streak.disableIfSince) as Row | undefined;
      if (row) disable(endpointId, failingReason(Number(row.failing_since), now), now, disabled);
    }
  }

  /** Writes attempts and delivery states; an outcome whose claim token no longer holds writes nothing. */
  function recordOutcomes(outcomes: Outcome[], now: number): { recorded: number; disabled: DisabledEndpoint[] } {
    const recordedOutcomes: Outcome[] = [];
    const disabled: DisabledEndpoint[] = [];
    const touched = new Set<string>();
    const tally = startTally(now);
    // Nothing in this loop deletes an endpoint, so one look per endpoint serves the batch.
    const present = new Map<string, boolean>();
    const exists = (endpointId: string) => {
      let found = present.get(endpointId);
      if (found === undefined) {
        found = sql.endpointExists.get(endpointId) !== undefined;
        present.set(endpointId, found);
      }
      return found;
    };
    for (const outcome of outcomes) {
      const { claim, attempt } = outcome;
      const { status, nextAttemptAt, lastError } = decidedState(outcome);
      const changed = sql.complete.run(
        status,
        outcome.scheduledAttempts,
        nextAttemptAt,
        status === "pending" ? nextAttemptAt : null,
        attempt.statusCode,
        lastError,
        now,
        claim.deliveryId,
        claim.claimToken,
      ).changes;
      if (!changed) continue;
      recordedOutcomes.push(outcome);
      touched.add(claim.endpointId);
      // A deleted endpoint's health figures went with it.
      if (exists(claim.endpointId)) tally.count(claim.endpointId, attempt);
      sql.insertAttempt.run(
        newId("att", attempt.startedAt),
        claim.deliveryId,
        attempt.startedAt,
        attempt.durationMs,
        attempt.statusCode,
        attempt.error,
        attempt.responseSnippet,
        JSON.stringify(attempt.requestHeaders),
        attempt.trigger,
      );
      if (outcome.scheduledAttempts >= outcome.keepSnippets || attempt.trigger === "manual") {
        sql.trimSnippets.run(claim.deliveryId, outcome.keepSnippets - 1);
      }
    }
    trackStreaks(recordedOutcomes, now, disabled);
    queue.refresh(touched);
    tally.write();
    return { recorded: recordedOutcomes.length, disabled };
  }

  return {
    async getDelivery(scope: Scope, id: string) {
      const row = sql.get.get(id, scope.accountId, scope.environment) as Row | undefined;
      return row ? toDelivery(row) : null;
    },
    async listDeliveries(scope: Scope, eventId: string, page: Page) {
      return (
        sql.listByEvent.all(eventId, scope.accountId, scope.environment, page.after ?? "", page.limit) as Row[]
      ).map(toDelivery);
    },
    async listAttempts(scope: Scope, deliveryId: string, page: Page) {
      return (
        sql.attempts.all(deliveryId, scope.accountId, scope.environment, page.after ?? "", page.limit) as Row[]
      ).map(toAttempt);
    },
    async requestRetry(scope: Scope, id: string, now: number) {
      return transaction(db, () => {
        const row = sql.get.get(id, scope.accountId, scope.environment) as Row | undefined;
        if (!row) return null;
        const status = row.status as DeliveryStatus;
        if (status === "delivering") return "busy" as const;
        const endpoint = sql.endpointEnabled.get(String(row.endpoint_id)) as Row | undefined;
        if (!endpoint) return "endpoint_deleted" as const;
        // A disabled endpoint is never claimed: the retry would wait, pending, until it is enabled.
        if (endpoint.enabled !== 1) return "endpoint_disabled" as const;
        if (status === "pending") sql.retryPending.run(now, now, id);
        else sql.retryFinal.run(now, now, id);
        queue.dueBy(String(row.endpoint_id), now);
        return toDelivery(sql.get.get(id, scope.accountId, scope.environment) as Row);
      });
    },
    async advancePending(scope: Scope, now: number) {
      return transaction(db, () => {
        let advanced = 0;
        for (const row of sql.scopeEndpoints.all(scope.accountId, scope.environment) as Row[]) {
          const changed = Number(sql.advance.run(now, String(row.id)).changes);
          if (changed) queue.dueBy(String(row.id), now);
          advanced += changed;
        }
        return advanced;
      });
    },
    async settle(outcomes: Outcome[], claim: ClaimRequest | null, now: number) {
      return transaction(db, () => ({
        ...recordOutcomes(outcomes, now),
        claims: claim ? claimDue(claim) : [],
      }));
    },
    async releaseClaims(claims: Claim[], now: number) {
      transaction(db, () => {
        for (const claim of claims) sql.release.run(now, claim.deliveryId, claim.claimToken);
        queue.refresh(new Set(claims.map((claim) => claim.endpointId)));
      });
    },
    async nextDueAt() {
      const row = sql.nextDue.get() as Row;
      return row.due === null ? null : Number(row.due);
    },
  };
}
