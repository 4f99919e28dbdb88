import type { DatabaseSync } from "node:sqlite";
import { newId } from "../../ids.ts";
import { json, type Row, sealedPrefix, toDisabledNotice, toEndpoint, toEndpointSecrets } from "../rows.ts";
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
import { prepareAll, transaction } from "./database.ts";
import type { QueueSummary } from "./queue.ts";

export function endpointQueries(db: DatabaseSync, queue: QueueSummary, forgetStats: (endpointId: string) => void) {
  const sql = prepareAll(db, {
    insert: `INSERT INTO endpoints (id, account_id, environment, kind, url, description, event_types, enabled,
      disabled_reason, secret, rate_limit_per_s, max_in_flight, retry_schedule, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    listener: "SELECT * FROM endpoints WHERE account_id = ? AND environment = ? AND kind = 'listen'",
    openListener: `UPDATE endpoints SET event_types = ?, enabled = 1, disabled_reason = NULL, listener_node = ?,
        listener_until = ?, updated_at = ?
      WHERE id = ?`,
    holdListener: `UPDATE endpoints SET listener_node = ?1, listener_until = ?2
      WHERE id = ?3 AND (listener_node = ?1 OR listener_node IS NULL OR listener_until <= ?4)`,
    releaseListener:
      "UPDATE endpoints SET listener_node = NULL, listener_until = NULL WHERE id = ? AND listener_node = ?",
    // What waited for a listener that was away goes out as soon as one is back.
    dueNow: `UPDATE deliveries SET due_at = ?1, next_attempt_at = ?1, updated_at = ?1
      WHERE endpoint_id = ?2 AND due_at > ?1 AND status = 'pending'`,
    get: "SELECT * FROM endpoints WHERE id = ? AND account_id = ? AND environment = ?",
    list: "SELECT * FROM endpoints WHERE account_id = ? AND environment = ? AND id > ? ORDER BY id LIMIT ?",
    count: "SELECT count(*) AS n FROM endpoints WHERE account_id = ? AND environment = ? AND kind = 'http'",
    update: `UPDATE endpoints SET url = ?, description = ?, event_types = ?, enabled = ?, disabled_reason = ?,
      rate_limit_per_s = ?, max_in_flight = ?, retry_schedule = ?, updated_at = ? WHERE id = ?`,
    delete: "DELETE FROM endpoints WHERE id = ? AND account_id = ? AND environment = ?",
    // A claimed delivery keeps its claim token, so the outcome of an attempt in flight is still recorded.
    cancelDeliveries: `UPDATE deliveries SET status = 'cancelled', due_at = NULL, next_attempt_at = NULL,
      claim_token = iif(status = 'delivering', claim_token, NULL), last_error = 'endpoint_deleted', updated_at = ?
      WHERE endpoint_id = ? AND due_at IS NOT NULL AND status IN ('pending', 'delivering')`,
    rotate: `UPDATE endpoints SET previous_secret = secret, previous_secret_expires_at = ?, secret = ?, updated_at = ?
      WHERE id = ? AND account_id = ? AND environment = ?`,
    streakReset: "UPDATE endpoints SET failing_since = NULL WHERE id = ?",
    secrets: `SELECT id, secret, previous_secret FROM endpoints
      WHERE id > ?1 AND (secret NOT LIKE ?2 OR coalesce(previous_secret NOT LIKE ?2, 0)) ORDER BY id LIMIT ?3`,
    pendingNotices: `SELECT id, account_id, environment, url, failing_since, disabled_reason, disabled_notice_at
      FROM endpoints WHERE disabled_notice_at IS NOT NULL ORDER BY disabled_notice_at LIMIT ?`,
    clearNotice: "UPDATE endpoints SET disabled_notice_at = NULL WHERE id = ? AND disabled_notice_at = ?",
    replaceSecrets: `UPDATE endpoints SET secret = ?, previous_secret = ?
      WHERE id = ? AND secret = ? AND previous_secret IS ?`,
    recover: `UPDATE deliveries SET status = 'pending', due_at = ?, next_attempt_at = ?, scheduled_attempts = 0,
      manual = 0, updated_at = ?
      WHERE endpoint_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ?`,
  });

  const get = (scope: Scope, id: string) => {
    const row = sql.get.get(id, scope.accountId, scope.environment) as Row | undefined;
    return row ? toEndpoint(row) : null;
  };

  return {
    async createEndpoint(scope: Scope, input: NewEndpoint, now: number) {
      const id = newId("ep", now);
      sql.insert.run(
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
        now,
      );
      return get(scope, id) as Endpoint;
    },
    async getEndpoint(scope: Scope, id: string) {
      return get(scope, id);
    },
    async countEndpoints(scope: Scope) {
      return Number((sql.count.get(scope.accountId, scope.environment) as Row).n);
    },
    async listEndpoints(scope: Scope, page: Page) {
      return (sql.list.all(scope.accountId, scope.environment, page.after ?? "", page.limit) as Row[]).map(toEndpoint);
    },
    async updateEndpoint(scope: Scope, id: string, patch: EndpointPatch, now: number) {
      return transaction(db, () => {
        const current = get(scope, id);
        if (!current) return null;
        const next = { ...current, ...patch };
        const disabling = current.enabled && !next.enabled;
        const reason = next.enabled ? null : disabling ? DISABLED_BY_REQUEST : current.disabledReason;
        sql.update.run(
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
        );
        if (disabling) queue.failPending(id, "endpoint_disabled", now);
        // Re-enabled or moved: its failures so far do not count towards disabling it again.
        if ((!current.enabled && next.enabled) || next.url !== current.url) sql.streakReset.run(id);
        return get(scope, id);
      });
    },
    async deleteEndpoint(scope: Scope, id: string, now: number) {
      return transaction(db, () => {
        const deleted = sql.delete.run(id, scope.accountId, scope.environment).changes > 0;
        if (deleted) {
          sql.cancelDeliveries.run(now, id);
          forgetStats(id);
        }
        return deleted;
      });
    },
    async rotateSecret(scope: Scope, id: string, secret: string, previousExpiresAt: number, now: number) {
      const changed = sql.rotate.run(previousExpiresAt, secret, now, id, scope.accountId, scope.environment).changes;
      return changed ? get(scope, id) : null;
    },
    async openListener(scope: Scope, eventTypes: string[] | null, secret: string, hold: ListenerHold, now: number) {
      return transaction(db, () => {
        let row = sql.listener.get(scope.accountId, scope.environment) as Row | undefined;
        if (!row) {
          const id = newId("ep", now);
          sql.insert.run(
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
            now,
          );
          row = { id };
        }
        const id = String(row.id);
        sql.openListener.run(json(eventTypes), hold.node, hold.until, now, id);
        sql.dueNow.run(now, id);
        queue.refresh([id]);
        return get(scope, id) as Endpoint;
      });
    },
    async holdListeners(endpointIds: string[], hold: ListenerHold, now: number) {
      transaction(db, () => {
        for (const id of endpointIds) sql.holdListener.run(hold.node, hold.until, id, now);
      });
    },
    async releaseListener(endpointId: string, node: string) {
      sql.releaseListener.run(endpointId, node);
    },
    async pendingDisabledNotices(limit: number) {
      return (sql.pendingNotices.all(limit) as Row[]).map(toDisabledNotice);
    },
    async clearDisabledNotices(notices: Pick<DisabledEndpoint, "endpointId" | "at">[]) {
      transaction(db, () => {
        for (const { endpointId, at } of notices) sql.clearNotice.run(endpointId, at);
      });
    },
    async listEndpointSecrets(after: string | null, limit: number, notSealedWith: string) {
      return (sql.secrets.all(after ?? "", sealedPrefix(notSealedWith), limit) as Row[]).map(toEndpointSecrets);
    },
    async replaceEndpointSecrets(changes: { from: EndpointSecrets; to: EndpointSecrets }[]) {
      return transaction(db, () => {
        let applied = 0;
        for (const { from, to } of changes) {
          applied += Number(
            sql.replaceSecrets.run(to.secret, to.previousSecret, from.id, from.secret, from.previousSecret).changes,
          );
        }
        return applied;
      });
    },
    async recoverEndpoint(scope: Scope, id: string, since: number, until: number, now: number) {
      return transaction(db, () => {
        const endpoint = get(scope, id);
        if (!endpoint) return null;
        if (!endpoint.enabled) return "endpoint_disabled" as const;
        const recovered = Number(sql.recover.run(now, now, now, id, since, until).changes);
        queue.refresh([id]);
        return recovered;
      });
    },
  };
}
