import { randomUUID } from "node:crypto";
import { newId } from "../../ids.ts";
import { RATE_AHEAD_MS, rateSlots } from "../claim-rules.ts";
import { decidedState, failingReason, failureStreaks } from "../outcome-rules.ts";
import { disabledEndpoint, toAttempt, toClaim, toDelivery } from "../rows.ts";
import type { Claim, ClaimRequest, DeliveryStatus, DisabledEndpoint, Outcome, Page, Scope } from "../store.ts";
import { type Database, PLANNED_EACH_RUN, type Sql } from "./database.ts";
import { newStatsShard, tally } from "./endpoint-stats.ts";
import { DUE_ENDPOINTS, queue, roomOn, TARGET_ORDER } from "./queue.ts";

// Everything one attempt needs, read only for the deliveries actually claimed.
const CLAIMED = `${PLANNED_EACH_RUN}SELECT d.id, d.event_id, d.endpoint_id, d.scheduled_attempts, d.next_attempt_at, d.manual, e.body,
    p.url, p.environment, p.kind, p.secret, p.previous_secret, p.previous_secret_expires_at, p.retry_schedule,
    p.max_in_flight, p.rate_limit_per_s
  FROM deliveries d JOIN endpoints p ON p.id = d.endpoint_id JOIN events e ON e.id = d.event_id
  WHERE d.id = ANY($1::text[])`;

const GET = "SELECT * FROM deliveries WHERE id = $1 AND account_id = $2 AND environment = $3";
/** The longest a disable after outcomes waits for the endpoints' locks (ingests hold them for milliseconds). */
const DISABLE_LOCK_TIMEOUT_MS = 1_000;

/** What a settle's outcomes wrote, for the disables that follow its commit. */
interface Recorded {
  recorded: Outcome[];
  /** Their endpoints that still exist. */
  present: Set<string>;
  /** Those the outcomes may disable (read before the commit; decided after it, under the lock). */
  candidates: Set<string>;
  /** `failing_since` before this settle, of the endpoints that answered 410. */
  failingBefore: Map<string, number | null>;
}

export function deliveryQueries(db: Database) {
  const statsShard = newStatsShard();
  /**
   * Claims up to `limit` due deliveries: endpoint by endpoint, the one waiting longest
   * first, each endpoint's oldest first and never more than its share. Each endpoint's
   * row is locked first (NO KEY UPDATE: ingest's target reads go on), so this node sees
   * every other node's claims on it and the in-flight cap and the rate limit hold across
   * nodes. A listen endpoint's deliveries go to the node holding its listener (its socket),
   * or to any node while none does. A claim never waits for a lock (SKIP LOCKED), so claims cannot deadlock: an
   * endpoint locked by another node's claim is that node's to serve now, and one locked
   * by an ingest wakes every worker when that ingest commits.
   */
  async function claimDue(tx: Sql, request: ClaimRequest): Promise<Claim[]> {
    const { now, limit, leaseMs } = request;
    const claims: Claim[] = [];
    // More candidates than claims wanted: some may be locked, or full with other nodes' claims.
    const endpoints = await tx.all(
      `SELECT e.id FROM (${DUE_ENDPOINTS}) due JOIN endpoints e ON e.id = due.id
      WHERE e.enabled = 1 AND NOT (e.id = ANY($2::text[]))
        AND (e.rate_limit_per_s IS NULL OR e.rate_next_at IS NULL OR e.rate_next_at < $1 + $4)
        AND (e.kind = 'http' AND NOT $6
          OR e.kind = 'listen' AND (e.listener_node = $5 AND e.listener_until > $1
            OR NOT $6 AND COALESCE(e.listener_until, 0) <= $1))
      ORDER BY due.due_at LIMIT $3`,
      [now, request.excludeEndpoints, limit * 4, RATE_AHEAD_MS, request.node, request.listenersOnly],
    );
    for (const { id } of endpoints) {
      const endpointId = String(id);
      const endpoint = await tx.get(
        `SELECT max_in_flight, rate_limit_per_s, rate_next_at FROM endpoints WHERE id = $1 AND enabled = 1
        FOR NO KEY UPDATE SKIP LOCKED`,
        [endpointId],
      );
      if (!endpoint) continue;
      const wanted = Math.min(await roomOn(tx, endpoint, endpointId, request), limit - claims.length);
      const rate = endpoint.rate_limit_per_s === null ? null : Number(endpoint.rate_limit_per_s);
      const slots = rate === null ? null : rateSlots(rate, endpoint.rate_next_at as number | null, now, wanted);
      const room = slots ? slots.count : wanted;
      if (room <= 0) continue;
      const due = await tx.all(
        `SELECT id FROM deliveries WHERE endpoint_id = $1 AND due_at IS NOT NULL AND due_at <= $2
        ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED`,
        [endpointId, now, room],
      );
      const ids = due.map(({ id }) => String(id));
      const tokens = ids.map(() => randomUUID());
      if (ids.length > 0) {
        await tx.run(
          `${PLANNED_EACH_RUN}UPDATE deliveries d SET status = 'delivering', due_at = $1, claim_token = c.token, updated_at = $2
          FROM unnest($3::text[], $4::text[]) AS c(id, token) WHERE d.id = c.id`,
          [now + leaseMs, now, ids, tokens],
        );
        const rows = new Map((await tx.all(CLAIMED, [ids])).map((row) => [String(row.id), row]));
        for (const [i, id] of ids.entries()) {
          const row = rows.get(id);
          if (row) claims.push(toClaim(row, tokens[i] as string, now, now + leaseMs, slots?.sendAt(i)));
        }
      }
      if (slots) {
        await tx.run("UPDATE endpoints SET rate_next_at = $1 WHERE id = $2", [
          slots.nextFreeAt(due.length),
          endpointId,
        ]);
      }
      await queue.refresh(tx, [endpointId]);
      if (claims.length === limit) break;
    }
    return claims;
  }

  /** The reason each endpoint that answered 410 gives, and the failure streaks that may disable theirs. */
  function disableReasons(recorded: Outcome[]) {
    const gone = new Map<string, string>();
    for (const outcome of recorded) {
      if (outcome.disableEndpoint) gone.set(outcome.claim.endpointId, outcome.disableEndpoint);
    }
    const checked = [...failureStreaks(recorded)].filter(([, s]) => !s.ok && s.disableIfSince !== null);
    return { gone, checked };
  }

  /**
   * The endpoints the outcomes may disable (a 410 Gone, or failing since the outcome's cutoff or
   * earlier), and the failure streaks that the 410s' endpoints had before this settle. Read
   * before the streaks are written.
   */
  async function disableCandidates(tx: Sql, recorded: Outcome[]) {
    const { gone, checked } = disableReasons(recorded);
    const candidates = new Set(gone.keys());
    const failingBefore = new Map<string, number | null>();
    if (gone.size > 0) {
      const rows = await tx.all("SELECT id, failing_since FROM endpoints WHERE id = ANY($1::text[])", [
        [...gone.keys()],
      ]);
      for (const row of rows) {
        failingBefore.set(String(row.id), row.failing_since === null ? null : Number(row.failing_since));
      }
    }
    if (checked.length > 0) {
      const tooLong = await tx.all(
        `SELECT e.id FROM endpoints e
        JOIN unnest($1::text[], $2::bigint[], $3::boolean[], $4::bigint[]) AS f(id, since, restarted, cutoff)
          ON e.id = f.id
        WHERE e.enabled = 1 AND e.kind = 'http'
          AND CASE WHEN f.restarted THEN f.since ELSE coalesce(e.failing_since, f.since) END <= f.cutoff`,
        [
          checked.map(([id]) => id),
          checked.map(([, s]) => s.since),
          checked.map(([, s]) => s.restarted),
          checked.map(([, s]) => s.disableIfSince),
        ],
      );
      for (const row of tooLong) candidates.add(String(row.id));
    }
    return { candidates, failingBefore };
  }

  /**
   * Disables the candidates that still call for it. Its own transaction, after the outcomes'
   * commit: the candidates are locked, in `TARGET_ORDER`, FOR UPDATE, with nothing else held.
   * That waits for ingests reading them as targets and for other workers recording outcomes (KEY
   * SHARE), whose new deliveries are then failed with the rest; two workers disabling the same
   * endpoint wait for each other instead of deadlocking, as they would upgrading their outcomes'
   * KEY SHARE.
   */
  async function disableWhereDue(
    { recorded, candidates, failingBefore }: Recorded,
    now: number,
  ): Promise<DisabledEndpoint[]> {
    if (candidates.size === 0) return [];
    const { gone, checked } = disableReasons(recorded);
    const streaks = new Map(checked);
    return db.transaction(async (tx) => {
      // Ingests keep taking KEY SHARE while FOR UPDATE waits, so a steady stream of them could hold
      // the disable, and with it this worker's deliveries, for good. Past the timeout the disable
      // gives up: the next attempt that gets the same answer tries again.
      await tx.run(`SET LOCAL lock_timeout = ${DISABLE_LOCK_TIMEOUT_MS}`);
      const rows = await tx.all(
        `SELECT id, account_id, environment, url, failing_since, enabled FROM endpoints
        WHERE id = ANY($1::text[]) ORDER BY ${TARGET_ORDER} FOR UPDATE`,
        [[...candidates]],
      );
      const disabled: DisabledEndpoint[] = [];
      for (const row of rows) {
        if (row.enabled !== 1) continue;
        const id = String(row.id);
        let reason = gone.get(id);
        const streak = streaks.get(id);
        // A 410 disables as it comes, as on the embedded store: the streak it began is not reported.
        const before = failingBefore.get(id);
        if (reason !== undefined && before !== undefined) row.failing_since = before;
        if (reason === undefined && streak) {
          const since = streak.restarted || row.failing_since === null ? streak.since : Number(row.failing_since);
          if (since > (streak.disableIfSince as number)) continue;
          reason = failingReason(since, now);
          row.failing_since = since;
        }
        if (reason === undefined) continue;
        await tx.run(
          "UPDATE endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2, disabled_notice_at = $2 WHERE id = $3",
          [reason, now, id],
        );
        await queue.failPending(tx, id, "endpoint_disabled", now);
        disabled.push(disabledEndpoint(row, reason, now));
      }
      return disabled;
    });
  }

  /**
   * Keeps each endpoint's failure streak, writing only the rows whose streak changes (a healthy
   * endpoint's row is not written). Those are locked first, in `TARGET_ORDER` as a disable takes
   * them, so two workers' streak changes never wait for each other in a cycle.
   */
  async function trackStreaks(tx: Sql, recorded: Outcome[]) {
    const streaks = [...failureStreaks(recorded)];
    if (streaks.length === 0) return;
    const changing = await tx.all(
      `SELECT id FROM endpoints WHERE id IN (
        SELECT e.id FROM endpoints e JOIN unnest($1::text[], $2::boolean[], $3::boolean[]) AS f(endpoint_id, ok, restarted)
          ON e.id = f.endpoint_id
        WHERE CASE WHEN f.ok THEN e.failing_since IS NOT NULL ELSE e.failing_since IS NULL OR f.restarted END)
      ORDER BY ${TARGET_ORDER} FOR NO KEY UPDATE`,
      [streaks.map(([id]) => id), streaks.map(([, s]) => s.ok), streaks.map(([, s]) => s.restarted)],
    );
    if (changing.length === 0) return;
    const locked = new Set(changing.map((row) => String(row.id)));
    const ended = streaks.filter(([id, s]) => s.ok && locked.has(id)).map(([id]) => id);
    if (ended.length > 0) {
      await tx.run(
        "UPDATE endpoints SET failing_since = NULL WHERE id = ANY($1::text[]) AND failing_since IS NOT NULL",
        [ended],
      );
    }
    const failing = streaks.filter(([id, s]) => !s.ok && locked.has(id));
    if (failing.length === 0) return;
    await tx.run(
      `UPDATE endpoints e SET failing_since = f.since
      FROM unnest($1::text[], $2::bigint[], $3::boolean[]) AS f(id, since, restarted)
      WHERE e.id = f.id AND (e.failing_since IS NULL OR f.restarted)`,
      [failing.map(([id]) => id), failing.map(([, s]) => s.since), failing.map(([, s]) => s.restarted)],
    );
  }

  /**
   * Outcomes refresh only the endpoints whose rows are free (`queue.refreshFree`): on one held by
   * another worker the summary stays as it was. That is never late, since the delivery was due
   * at its lease's end, which the summary covers; a succeeded or failed delivery only makes it
   * early (the next claim there finds nothing and refreshes it). A retry due before the lease's
   * end would be missed until then, so every retry adds a mark.
   */
  async function markRetries(tx: Sql, recorded: Outcome[], present: Set<string>, now: number) {
    const dueTimes = new Map<string, number>();
    for (const outcome of recorded) {
      const { status, nextAttemptAt } = decidedState(outcome);
      const id = outcome.claim.endpointId;
      if (status !== "pending" || nextAttemptAt === null || !present.has(id)) continue;
      dueTimes.set(id, Math.min(nextAttemptAt, dueTimes.get(id) ?? nextAttemptAt));
    }
    await queue.markDue(tx, dueTimes, now);
  }

  /**
   * Writes attempts and delivery states, and returns the outcomes recorded (one whose claim token
   * no longer holds writes nothing) with the failure streaks that 410s' endpoints had before.
   */
  async function recordOutcomes(tx: Sql, outcomes: Outcome[], now: number): Promise<Recorded> {
    // One outcome per claim: a second one for the same claim would find its token gone, as in sequence.
    // A stale claim of the same delivery (its lease ran out and it was claimed again) is another claim.
    const claimKey = (deliveryId: string, token: string) => `${deliveryId}\n${token}`;
    const claimed = new Set<string>();
    const unique = outcomes.filter(({ claim }) => {
      const key = claimKey(claim.deliveryId, claim.claimToken);
      return !claimed.has(key) && claimed.add(key);
    });
    if (unique.length === 0)
      return { recorded: [], present: new Set(), candidates: new Set(), failingBefore: new Map() };
    // Before any delivery: a delete of one of these endpoints waits for this commit, then cancels what is left.
    // KEY SHARE, not the row itself: another worker's outcomes and claims on the same endpoints go on meanwhile.
    const present = await queue.share(
      tx,
      unique.map(({ claim }) => claim.endpointId),
    );
    const states = unique.map((outcome) => decidedState(outcome));
    // The worker's decision applies while the delivery is still delivering, or when this attempt
    // succeeded; otherwise the delivery keeps the state it was given meanwhile (failed, cancelled, queued again).
    const updated = await tx.all(
      `${PLANNED_EACH_RUN}UPDATE deliveries d SET attempt_count = d.attempt_count + 1, claim_token = NULL,
        last_status_code = o.status_code, updated_at = $1,
        status = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN o.status ELSE d.status END,
        scheduled_attempts = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN o.scheduled_attempts ELSE d.scheduled_attempts END,
        next_attempt_at = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN o.next_attempt_at ELSE d.next_attempt_at END,
        due_at = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN o.due_at ELSE d.due_at END,
        manual = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN 0 ELSE d.manual END,
        last_error = CASE WHEN d.status = 'delivering' OR o.status = 'succeeded' THEN o.last_error ELSE d.last_error END
      FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::int[], $9::text[])
        AS o(id, token, status, scheduled_attempts, next_attempt_at, due_at, status_code, last_error)
      WHERE d.id = o.id AND d.claim_token = o.token
      RETURNING d.id, o.token`,
      [
        now,
        unique.map(({ claim }) => claim.deliveryId),
        unique.map(({ claim }) => claim.claimToken),
        states.map((state) => state.status),
        unique.map((outcome) => outcome.scheduledAttempts),
        states.map((state) => state.nextAttemptAt),
        states.map((state) => (state.status === "pending" ? state.nextAttemptAt : null)),
        unique.map(({ attempt }) => attempt.statusCode),
        states.map((state) => state.lastError),
      ],
    );
    const changed = new Set(updated.map((row) => claimKey(String(row.id), String(row.token))));
    // An outcome whose claim token no longer holds (its lease ran out and another took it) writes nothing.
    const recordedOutcomes = unique.filter(({ claim }) => changed.has(claimKey(claim.deliveryId, claim.claimToken)));
    const stats = tally(now, statsShard);
    for (const { claim, attempt } of recordedOutcomes) {
      // A deleted endpoint's health figures went with it.
      if (present.has(claim.endpointId)) stats.count(claim.endpointId, attempt);
    }
    if (recordedOutcomes.length > 0) {
      await tx.run(
        `INSERT INTO attempts (id, delivery_id, started_at, duration_ms, status_code, error, response_snippet,
          request_headers, trigger)
        SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::int[], $6::text[], $7::text[],
          $8::text[], $9::text[])`,
        [
          recordedOutcomes.map(({ attempt }) => newId("att", attempt.startedAt)),
          recordedOutcomes.map(({ claim }) => claim.deliveryId),
          recordedOutcomes.map(({ attempt }) => attempt.startedAt),
          recordedOutcomes.map(({ attempt }) => attempt.durationMs),
          recordedOutcomes.map(({ attempt }) => attempt.statusCode),
          recordedOutcomes.map(({ attempt }) => attempt.error),
          recordedOutcomes.map(({ attempt }) => attempt.responseSnippet),
          recordedOutcomes.map(({ attempt }) => JSON.stringify(attempt.requestHeaders)),
          recordedOutcomes.map(({ attempt }) => attempt.trigger),
        ],
      );
    }
    // The log keeps the latest attempts' response snippets; older attempts keep their status and error.
    for (const { claim, attempt, scheduledAttempts, keepSnippets } of recordedOutcomes) {
      if (scheduledAttempts < keepSnippets && attempt.trigger !== "manual") continue;
      await tx.run(
        `UPDATE attempts SET response_snippet = NULL
        WHERE delivery_id = $1 AND response_snippet IS NOT NULL
          AND id < (SELECT id FROM attempts WHERE delivery_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
        [claim.deliveryId, keepSnippets - 1],
      );
    }
    await markRetries(tx, recordedOutcomes, present, now);
    const { candidates, failingBefore } = await disableCandidates(tx, recordedOutcomes);
    await trackStreaks(tx, recordedOutcomes);
    await stats.write(tx);
    return { recorded: recordedOutcomes, present, candidates, failingBefore };
  }

  return {
    async getDelivery(scope: Scope, id: string) {
      const row = await db.get(GET, [id, scope.accountId, scope.environment]);
      return row ? toDelivery(row) : null;
    },
    async listDeliveries(scope: Scope, eventId: string, page: Page) {
      const rows = await db.all(
        `SELECT * FROM deliveries WHERE event_id = $1 AND account_id = $2 AND environment = $3 AND id > $4
        ORDER BY id LIMIT $5`,
        [eventId, scope.accountId, scope.environment, page.after ?? "", page.limit],
      );
      return rows.map(toDelivery);
    },
    async listAttempts(scope: Scope, deliveryId: string, page: Page) {
      const rows = await db.all(
        `SELECT a.* FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
        WHERE a.delivery_id = $1 AND d.account_id = $2 AND d.environment = $3 AND a.id > $4 ORDER BY a.id LIMIT $5`,
        [deliveryId, scope.accountId, scope.environment, page.after ?? "", page.limit],
      );
      return rows.map(toAttempt);
    },
    async requestRetry(scope: Scope, id: string, now: number) {
      return db.transaction(async (tx) => {
        // The endpoint first, then the delivery: the order deleting or disabling the endpoint, or
        // recording an outcome, takes them in. NO KEY UPDATE: a disable waits for this retry. An
        // outcome of the delivery's attempt landing right now, with its endpoint's failure streak
        // changing, can deadlock with it; PostgreSQL breaks that and the loser runs again.
        const endpoint = await tx.get(
          `SELECT enabled FROM endpoints WHERE id = (SELECT endpoint_id FROM deliveries
            WHERE id = $1 AND account_id = $2 AND environment = $3) FOR NO KEY UPDATE`,
          [id, scope.accountId, scope.environment],
        );
        const row = await tx.get(`${GET} FOR UPDATE`, [id, scope.accountId, scope.environment]);
        if (!row) return null;
        const status = row.status as DeliveryStatus;
        if (status === "delivering") return "busy" as const;
        if (!endpoint) return "endpoint_deleted" as const;
        // A disabled endpoint is never claimed: the retry would wait, pending, until it is enabled.
        if (endpoint.enabled !== 1) return "endpoint_disabled" as const;
        if (status === "pending") {
          await tx.run("UPDATE deliveries SET manual = 1, due_at = $1, updated_at = $1 WHERE id = $2", [now, id]);
        } else {
          await tx.run(
            `UPDATE deliveries SET status = 'pending', manual = 1, due_at = $1, next_attempt_at = NULL, updated_at = $1
            WHERE id = $2`,
            [now, id],
          );
        }
        await queue.refresh(tx, [String(row.endpoint_id)]);
        tx.notifyDue();
        return toDelivery((await tx.get(GET, [id, scope.accountId, scope.environment])) as NonNullable<typeof row>);
      });
    },
    async advancePending(scope: Scope, now: number) {
      return db.transaction(async (tx) => {
        let advanced = 0;
        const advancedEndpoints = new Map<string, number>();
        // KEY SHARE: a delete of one of them waits for this commit, then cancels what it advanced.
        // In TARGET_ORDER, as ingest takes them: a settle disabling several never waits for this in a cycle.
        const endpoints = await tx.all(
          `SELECT id FROM endpoints WHERE account_id = $1 AND environment = $2 ORDER BY ${TARGET_ORDER} FOR KEY SHARE`,
          [scope.accountId, scope.environment],
        );
        for (const { id } of endpoints) {
          // Through the queue index, endpoint by endpoint: only rows waiting for a later time.
          const changed = await tx.run(
            `UPDATE deliveries SET due_at = $1, next_attempt_at = $1, updated_at = $1
            WHERE endpoint_id = $2 AND due_at > $1 AND status = 'pending'`,
            [now, id],
          );
          if (changed) advancedEndpoints.set(String(id), now);
          advanced += changed;
        }
        await queue.markDue(tx, advancedEndpoints, now);
        return advanced;
      });
    },
    async settle(outcomes: Outcome[], claim: ClaimRequest | null, now: number) {
      const { recorded, claims } = await db.transaction(async (tx) => {
        const recorded = await recordOutcomes(tx, outcomes, now);
        const claims = claim ? await claimDue(tx, claim) : [];
        // Last, so the rows are held only for the commit: a claim refreshed its own endpoints already.
        const claimed = new Set(claims.map((c) => c.endpointId));
        await queue.refreshFree(
          tx,
          [...recorded.present].filter((id) => !claimed.has(id)),
        );
        return { recorded, claims };
      });
      // Committed: from here on nothing may throw, or the caller would send the outcomes again (they
      // would write nothing) and drop the claims. A disable that fails (a lost connection) is made
      // by the next attempt that gets the same answer, as when the process stops between the two.
      let disabled: DisabledEndpoint[] = [];
      try {
        disabled = await disableWhereDue(recorded, now);
      } catch {}
      return { recorded: recorded.recorded.length, claims, disabled };
    },
    async releaseClaims(claims: Claim[], now: number) {
      await db.transaction(async (tx) => {
        await queue.lock(
          tx,
          claims.map((claim) => claim.endpointId),
        );
        // Due again at once if still delivering (its endpoint is then enabled: a disable fails delivering
        // rows, a delete cancels them); a delivery failed or cancelled meanwhile stays so, its claim ended.
        await tx.run(
          `UPDATE deliveries d SET claim_token = NULL, updated_at = $1::bigint,
            status = CASE WHEN d.status = 'delivering' THEN 'pending' ELSE d.status END,
            due_at = CASE WHEN d.status = 'delivering' THEN $1 ELSE d.due_at END
          FROM unnest($2::text[], $3::text[]) AS c(id, token) WHERE d.id = c.id AND d.claim_token = c.token`,
          [now, claims.map((claim) => claim.deliveryId), claims.map((claim) => claim.claimToken)],
        );
        await queue.refresh(tx, new Set(claims.map((claim) => claim.endpointId)));
        if (claims.length > 0) tx.notifyDue();
      });
    },
    async nextDueAt() {
      const row = await db.get(
        `SELECT LEAST(
          (SELECT min(next_due_at) FROM endpoints WHERE next_due_at IS NOT NULL AND enabled = 1),
          (SELECT min(m.due_at) FROM endpoint_due_marks m JOIN endpoints e ON e.id = m.endpoint_id WHERE e.enabled = 1)
        ) AS due`,
      );
      return row?.due === null || row?.due === undefined ? null : Number(row.due);
    },
  };
}
