import { themeText, toSession, toTheme } from "../rows.ts";
import type { PortalLink, Session } from "../store.ts";
import type { Database } from "./database.ts";

/** Dashboard sessions and portal links; only hashes of their secrets are stored. */
export function sessionQueries(db: Database) {
  return {
    async createSession(idHash: string, session: Session) {
      await db.transaction(async (tx) => {
        await tx.run("DELETE FROM sessions WHERE expires_at <= $1", [session.createdAt]);
        await tx.run(
          `INSERT INTO sessions (id_hash, kind, account_id, admin_key_hash, csrf_token, theme, created_at, expires_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [
            idHash,
            session.kind,
            session.accountId,
            session.adminKeyHash,
            session.csrfToken,
            themeText(session.theme),
            session.createdAt,
            session.expiresAt,
          ],
        );
      });
    },
    async findSession(idHash: string, now: number): Promise<Session | null> {
      const row = await db.get("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2", [idHash, now]);
      return row ? toSession(row) : null;
    },
    async deleteSession(idHash: string) {
      await db.run("DELETE FROM sessions WHERE id_hash = $1", [idHash]);
    },
    async createPortalLink(tokenHash: string, link: PortalLink, now: number) {
      await db.transaction(async (tx) => {
        await tx.run("DELETE FROM portal_links WHERE expires_at <= $1", [now]);
        await tx.run(
          "INSERT INTO portal_links (token_hash, account_id, theme, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
          [tokenHash, link.accountId, themeText(link.theme), now, link.expiresAt],
        );
      });
    },
    async usePortalLink(tokenHash: string, now: number): Promise<PortalLink | null> {
      const row = await db.get(
        `UPDATE portal_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
        RETURNING account_id, theme, expires_at`,
        [now, tokenHash],
      );
      if (!row) return null;
      return { accountId: String(row.account_id), theme: toTheme(row.theme), expiresAt: Number(row.expires_at) };
    },
  };
}
