import type { DatabaseSync } from "node:sqlite";
import { newId } from "../../ids.ts";
import { type Row, toAccount } from "../rows.ts";
import type { Account, Environment, Page, Scope } from "../store.ts";
import { prepareAll, transaction } from "./database.ts";

export function accountQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    getSetting: "SELECT value FROM settings WHERE key = ?",
    addSetting: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
    insertAccount: "INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)",
    insertKey: "INSERT INTO api_keys (key_hash, account_id, environment, created_at) VALUES (?, ?, ?, ?)",
    listAccounts: "SELECT * FROM accounts WHERE id > ? ORDER BY id LIMIT ?",
    getAccount: "SELECT * FROM accounts WHERE id = ?",
    findKey: "SELECT account_id, environment FROM api_keys WHERE key_hash = ?",
  });

  return {
    async getSetting(key: string) {
      const row = sql.getSetting.get(key) as Row | undefined;
      return row ? String(row.value) : null;
    },
    async addSetting(key: string, value: string) {
      return sql.addSetting.run(key, value).changes > 0;
    },
    async createAccount(name: string, keyHashes: Record<Environment, string>, now: number) {
      const account: Account = { id: newId("acct", now), name, createdAt: now };
      transaction(db, () => {
        sql.insertAccount.run(account.id, name, now);
        for (const [environment, hash] of Object.entries(keyHashes))
          sql.insertKey.run(hash, account.id, environment, now);
      });
      return account;
    },
    async listAccounts(page: Page) {
      return (sql.listAccounts.all(page.after ?? "", page.limit) as Row[]).map(toAccount);
    },
    async getAccount(id: string) {
      const row = sql.getAccount.get(id) as Row | undefined;
      return row ? toAccount(row) : null;
    },
    async findKey(keyHash: string): Promise<Scope | null> {
      const row = sql.findKey.get(keyHash) as Row | undefined;
      return row ? { accountId: String(row.account_id), environment: row.environment as Environment } : null;
    },
  };
}
