import { newId } from "../../ids.ts";
import { json, sealedPrefix, toDisabledNotice, toEndpoint, toEndpointSecrets } from "../rows.ts";
import type {
  DisabledEndpoint,
  Endpoint,
  EndpointPatch,
  EndpointSecrets,
  ListenerHold,
  NewEndpoint,
  Page,
  Scope,
} from "../store.ts";
import { DISABLED_BY_REQUEST, LISTEN_URL } from "../store.ts";
import type { Database, Sql } from "./database.ts";
import { queue } from "./queue.ts";

const INSERT = `INSERT INTO endpoints (id, account_id, environment, kind, url, description, event_types, enabled,
  disabled_reason, secret, rate_limit_per_s, max_in_flight, retry_schedule, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`;

export function endpointQueries(db: Database) {
  const get = async (sql: Sql, scope: Scope, id: string, lock = "") => {
    const row = await sql.get(
      `SELECT * FROM endpoints WHERE id = $1 AND account_id = $2 AND environment = $3 ${lock}`,
      [id, scope.accountId, scope.environment],
    );
    return row ? toEndpoint(row) : null;
  };

  return {
    async createEndpoint(scope: Scope, input: NewEndpoint, now: number) {
      const id = newId("ep", now);
      await db.run(INSERT, [
        id,
        scope.accountId,
        scope.environment,
        "http",
        input.url,
        input.description,
        json(input.eventTypes),
        input.enabled === false ? 0 : 1,
        input.enabled === false ? DISABLED_BY_REQUEST : null,
        input.secret,
        input.rateLimitPerS,
        input.maxInFlight,
        json(input.retrySchedule),
        now,
      ]);
      return (await get(db, scope, id)) as Endpoint;
    },
    async getEndpoint(scope: Scope, id: string) {
      return get(db, scope, id);
    },
    async countEndpoints(scope: Scope) {
      const row = await db.get(
        "SELECT count(*)::int AS n FROM endpoints WHERE account_id = $1 AND environment = $2 AND kind = 'http'",
        [scope.accountId, scope.environment],
      );
      return Number(row?.n ?? 0);
    },
    async listEndpoints(scope: Scope, page: Page) {
      const rows = await db.all(
        "SELECT * FROM endpoints WHERE account_id = $1 AND environment = $2 AND id > $3 ORDER BY id LIMIT $4",
        [scope.accountId, scope.environment, page.after ?? "", page.limit],
      );
      return rows.map(toEndpoint);
    },
    async updateEndpoint(scope: Scope, id: string, patch: EndpointPatch, now: number) {
      return db.transaction(async (tx) => {
        // Locked: two patches to one endpoint apply one after the other, neither undoes the other.
        const current = await get(tx, scope, id, "FOR UPDATE");
        if (!current) return null;
        const next = { ...current, ...patch };
        const disabling = current.enabled && !next.enabled;
        const reason = next.enabled ? null : disabling ? DISABLED_BY_REQUEST : current.disabledReason;
        await tx.run(
          `UPDATE endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, disabled_reason = $5,
            rate_limit_per_s = $6, max_in_flight = $7, retry_schedule = $8, updated_at = $9 WHERE id = $10`,
          [
            next.url,
            next.description,
            json(next.eventTypes),
            next.enabled ? 1 : 0,
            reason,
            next.rateLimitPerS,
            next.maxInFlight,
            json(next.retrySchedule),
            now,
            id,
          ],
        );
        if (disabling) await queue.failPending(tx, id, "endpoint_disabled", now);
        // Re-enabled or moved: its failures so far do not count towards disabling it again.
        if ((!current.enabled && next.enabled) || next.url !== current.url) {
          await tx.run("UPDATE endpoints SET failing_since = NULL WHERE id = $1", [id]);
        }
        return get(tx, scope, id);
      });
    },
    async deleteEndpoint(scope: Scope, id: string, now: number) {
      return db.transaction(async (tx) => {
        const deleted =
          (await tx.run("DELETE FROM endpoints WHERE id = $1 AND account_id = $2 AND environment = $3", [
            id,
            scope.accountId,
            scope.environment,
          ])) > 0;
        if (deleted) {
          await tx.run(
            // A claimed delivery keeps its claim token, so the outcome of an attempt in flight is still recorded.
            `UPDATE deliveries SET status = 'cancelled', due_at = NULL, next_attempt_at = NULL,
              claim_token = CASE WHEN status = 'delivering' THEN claim_token END,
              last_error = 'endpoint_deleted', updated_at = $1
            WHERE endpoint_id = $2 AND due_at IS NOT NULL AND status IN ('pending', 'delivering')`,
            [now, id],
          );
          await tx.run("DELETE FROM endpoint_stats WHERE endpoint_id = $1", [id]);
        }
        return deleted;
      });
    },
    async rotateSecret(scope: Scope, id: string, secret: string, previousExpiresAt: number, now: number) {
      const changed = await db.run(
        `UPDATE endpoints SET previous_secret = secret, previous_secret_expires_at = $1, secret = $2, updated_at = $3
        WHERE id = $4 AND account_id = $5 AND environment = $6`,
        [previousExpiresAt, secret, now, id, scope.accountId, scope.environment],
      );
      return changed ? get(db, scope, id) : null;
    },
    async pendingDisabledNotices(limit: number) {
      const rows = await db.all(
        `SELECT id, account_id, environment, url, failing_since, disabled_reason, disabled_notice_at
        FROM endpoints WHERE disabled_notice_at IS NOT NULL ORDER BY disabled_notice_at LIMIT $1`,
        [limit],
      );
      return rows.map(toDisabledNotice);
    },
    async clearDisabledNotices(notices: Pick<DisabledEndpoint, "endpointId" | "at">[]) {
      if (notices.length === 0) return;
      await db.run(
        `UPDATE endpoints e SET disabled_notice_at = NULL FROM unnest($1::text[], $2::bigint[]) AS n(id, at)
        WHERE e.id = n.id AND e.disabled_notice_at = n.at`,
        [notices.map((n) => n.endpointId), notices.map((n) => n.at)],
      );
    },
    async listEndpointSecrets(after: string | null, limit: number, notSealedWith: string) {
      const rows = await db.all(
        `SELECT id, secret, previous_secret FROM endpoints
        WHERE id > $1 AND (secret NOT LIKE $2 OR coalesce(previous_secret NOT LIKE $2, false)) ORDER BY id LIMIT $3`,
        [after ?? "", sealedPrefix(notSealedWith), limit],
      );
      return rows.map(toEndpointSecrets);
    },
    async replaceEndpointSecrets(changes: { from: EndpointSecrets; to: EndpointSecrets }[]) {
      return db.transaction(async (tx) => {
        let applied = 0;
        for (const { from, to } of changes) {
          applied += await tx.run(
            `UPDATE endpoints SET secret = $1, previous_secret = $2
            WHERE id = $3 AND secret = $4 AND previous_secret IS NOT DISTINCT FROM $5::text`,
            [to.secret, to.previousSecret, from.id, from.secret, from.previousSecret],
          );
        }
        return applied;
      });
    },
    async openListener(scope: Scope, eventTypes: string[] | null, secret: string, hold: ListenerHold, now: number) {
      return db.transaction(async (tx) => {
        // One listen endpoint per scope, even when two sessions connect at once.
        await tx.run("SELECT pg_advisory_xact_lock(hashtext($1))", [`listen ${scope.accountId} ${scope.environment}`]);
        // Locked: a delete of it in progress finishes first, and a new one is made.
        const row = await tx.get(
          "SELECT id FROM endpoints WHERE account_id = $1 AND environment = $2 AND kind = 'listen' FOR NO KEY UPDATE",
          [scope.accountId, scope.environment],
        );
        const id = row ? String(row.id) : newId("ep", now);
        if (!row) {
          await tx.run(INSERT, [
            id,
            scope.accountId,
            scope.environment,
            "listen",
            LISTEN_URL,
            "hookline listen: events relayed to a developer's machine",
            null,
            1,
            null,
            secret,
            null,
            null,
            null,
            now,
          ]);
        }
        await tx.run(
          `UPDATE endpoints SET event_types = $1, enabled = 1, disabled_reason = NULL, listener_node = $2,
            listener_until = $3, updated_at = $4 WHERE id = $5`,
          [json(eventTypes), hold.node, hold.until, now, id],
        );
        // What waited for a listener that was away goes out as soon as one is back.
        await tx.run(
          `UPDATE deliveries SET due_at = $1, next_attempt_at = $1, updated_at = $1
          WHERE endpoint_id = $2 AND due_at > $1 AND status = 'pending'`,
          [now, id],
        );
        await queue.refresh(tx, [id]);
        tx.notifyDue();
        return (await get(tx, scope, id)) as Endpoint;
      });
    },
    async holdListeners(endpointIds: string[], hold: ListenerHold, now: number) {
      await db.run(
        `UPDATE endpoints SET listener_node = $1, listener_until = $2 WHERE id = ANY($3::text[])
          AND (listener_node = $1 OR listener_node IS NULL OR listener_until <= $4)`,
        [hold.node, hold.until, endpointIds, now],
      );
    },
    async releaseListener(endpointId: string, node: string) {
      await db.run(
        "UPDATE endpoints SET listener_node = NULL, listener_until = NULL WHERE id = $1 AND listener_node = $2",
        [endpointId, node],
      );
    },
    async recoverEndpoint(scope: Scope, id: string, since: number, until: number, now: number) {
      return db.transaction(async (tx) => {
        // Locked: a delete waits for this commit and cancels what it made pending, or came first.
        const endpoint = await get(tx, scope, id, "FOR NO KEY UPDATE");
        if (!endpoint) return null;
        // Locked too against a disable, which waits for this commit and fails what it made pending.
        if (!endpoint.enabled) return "endpoint_disabled" as const;
        const recovered = await tx.run(
          `UPDATE deliveries SET status = 'pending', due_at = $1, next_attempt_at = $1, scheduled_attempts = 0,
            manual = 0, updated_at = $1
          WHERE endpoint_id = $2 AND status = 'failed' AND created_at >= $3 AND created_at < $4`,
          [now, id, since, until],
        );
        await queue.refresh(tx, [id]);
        if (recovered) tx.notifyDue();
        return recovered;
      });
    },
  };
}
