import type { DatabaseSync } from "node:sqlite";
import { type Row, themeText, toSession, toTheme } from "../rows.ts";
import type { PortalLink, Session } from "../store.ts";
import { prepareAll, transaction } from "./database.ts";

/** Dashboard sessions and portal links; only hashes of their secrets are stored. */
export function sessionQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    insertSession: `INSERT INTO sessions (id_hash, kind, account_id, admin_key_hash, csrf_token, theme, created_at,
      expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    dropExpiredSessions: "DELETE FROM sessions WHERE expires_at <= ?",
    findSession: "SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?",
    deleteSession: "DELETE FROM sessions WHERE id_hash = ?",
    insertLink: `INSERT INTO portal_links (token_hash, account_id, theme, created_at, expires_at)
      VALUES (?, ?, ?, ?, ?)`,
    dropOldLinks: "DELETE FROM portal_links WHERE expires_at <= ?",
    useLink: `UPDATE portal_links SET used_at = ?1 WHERE token_hash = ?2 AND used_at IS NULL AND expires_at > ?1
      RETURNING account_id, theme, expires_at`,
  });

  return {
    async createSession(idHash: string, session: Session) {
      transaction(db, () => {
        sql.dropExpiredSessions.run(session.createdAt);
        sql.insertSession.run(
          idHash,
          session.kind,
          session.accountId,
          session.adminKeyHash,
          session.csrfToken,
          themeText(session.theme),
          session.createdAt,
          session.expiresAt,
        );
      });
    },
    async findSession(idHash: string, now: number): Promise<Session | null> {
      const row = sql.findSession.get(idHash, now) as Row | undefined;
      return row ? toSession(row) : null;
    },
    async deleteSession(idHash: string) {
      sql.deleteSession.run(idHash);
    },
    async createPortalLink(tokenHash: string, link: PortalLink, now: number) {
      transaction(db, () => {
        sql.dropOldLinks.run(now);
        sql.insertLink.run(tokenHash, link.accountId, themeText(link.theme), now, link.expiresAt);
      });
    },
    async usePortalLink(tokenHash: string, now: number): Promise<PortalLink | null> {
      const row = sql.useLink.get(now, tokenHash) as Row | undefined;
      if (!row) return null;
      return { accountId: String(row.account_id), theme: toTheme(row.theme), expiresAt: Number(row.expires_at) };
    },
  };
}
