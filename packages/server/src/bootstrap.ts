import { createAccountWithKeys } from "./api/routes/accounts.ts";
import { hashKey, randomToken } from "./ids.ts";
import type { Store } from "./store/store.ts";

/** Keys that exist in plain text only at first start, to be shown to the operator once. */
export interface FirstStartKeys {
  adminKey: string | null;
  accountId: string;
  testKey: string;
  liveKey: string;
}

/**
 * Finds the admin key's hash, making a key on first start (unless the operator
 * set one) together with a ready "Default" account, so the first curl works.
 * The key is claimed before the account is made: a node that loses the race to
 * another one starting at the same time makes nothing and uses the winner's key.
 */
export async function bootstrap(
  store: Store,
  configuredAdminKey: string | null,
  now: number,
): Promise<{ adminKeyHash: string; firstStart: FirstStartKeys | null }> {
  const stored = await store.getSetting("admin_key_hash");
  if (stored !== null) {
    return { adminKeyHash: configuredAdminKey ? hashKey(configuredAdminKey) : stored, firstStart: null };
  }
  const adminKey = configuredAdminKey ?? `hl_admin_${randomToken(32)}`;
  // Nodes starting together on one new database: only the first makes the key and the Default account.
  if (!(await store.addSetting("admin_key_hash", hashKey(adminKey)))) {
    return bootstrap(store, configuredAdminKey, now);
  }
  const { account, keys } = await createAccountWithKeys(store, "Default", now);
  return {
    adminKeyHash: hashKey(adminKey),
    firstStart: {
      adminKey: configuredAdminKey ? null : adminKey,
      accountId: account.id,
      testKey: keys.test,
      liveKey: keys.live,
    },
  };
}
