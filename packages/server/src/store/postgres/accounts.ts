import { newId } from "../../ids.ts";
import { type Row, toAccount } from "../rows.ts";
import type { Account, Environment, Page, Scope } from "../store.ts";
import type { Database } from "./database.ts";

export function accountQueries(db: Database) {
  return {
    async getSetting(key: string) {
      const row = await db.get("SELECT value FROM settings WHERE key = $1", [key]);
      return row ? String(row.value) : null;
    },
    async addSetting(key: string, value: string) {
      return (
        (await db.run("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, value])) >
        0
      );
    },
    async createAccount(name: string, keyHashes: Record<Environment, string>, now: number) {
      const account: Account = { id: newId("acct", now), name, createdAt: now };
      await db.transaction(async (tx) => {
        await tx.run("INSERT INTO accounts (id, name, created_at) VALUES ($1, $2, $3)", [account.id, name, now]);
        for (const [environment, hash] of Object.entries(keyHashes)) {
          await tx.run("INSERT INTO api_keys (key_hash, account_id, environment, created_at) VALUES ($1, $2, $3, $4)", [
            hash,
            account.id,
            environment,
            now,
          ]);
        }
      });
      return account;
    },
    async listAccounts(page: Page) {
      const rows = await db.all("SELECT * FROM accounts WHERE id > $1 ORDER BY id LIMIT $2", [
        page.after ?? "",
        page.limit,
      ]);
      return rows.map(toAccount);
    },
    async getAccount(id: string) {
      const row = await db.get("SELECT * FROM accounts WHERE id = $1", [id]);
      return row ? toAccount(row) : null;
    },
    async findKey(keyHash: string): Promise<Scope | null> {
      const row: Row | undefined = await db.get("SELECT account_id, environment FROM api_keys WHERE key_hash = $1", [
        keyHash,
      ]);
      return row ? { accountId: String(row.account_id), environment: row.environment as Environment } : null;
    },
  };
}
