import { existsSync, unlinkSync } from "node:fs";
import type { Config } from "./config.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { loadMasterKeys, readKeyFile, secretBoxOf, writeKeyFile } from "./master-key.ts";
import { createPostgresStore } from "./store/postgres/postgres-store.ts";
import { resealSecrets } from "./store/sealed-store.ts";
import { createSecretBox, masterKeyId, newMasterKey } from "./store/secret-box.ts";
import { createSqliteStore } from "./store/sqlite/sqlite-store.ts";

/**
 * `hookline keys rotate-master`: re-encrypts every endpoint's signing secrets under a new
 * master key. With the key Hookline generated (`<data_dir>/master.key`), it makes the new
 * key itself: written beside the old one first, the secrets re-encrypted, then it replaces
 * the old file, so a run cut short is finished by running it again. With a configured key
 * it re-encrypts under that key whatever was sealed with one of `old_master_keys`.
 */
export async function rotateMasterKey(config: Config, print: (text: string) => void): Promise<void> {
  // The embedded store must not be in use: a running server would keep writing with the old key.
  const releaseDataDir = config.databaseUrl ? () => {} : lockDataDir(config.dataDir);
  try {
    await rotate(config, print);
  } finally {
    releaseDataDir();
  }
}

async function rotate(config: Config, print: (text: string) => void): Promise<void> {
  const keys = loadMasterKeys(config);
  const store = config.databaseUrl
    ? await createPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: 2 })
    : createSqliteStore(config.dataDir);
  try {
    if (keys.generatedFile === null) {
      const box = secretBoxOf(keys);
      const result = await resealSecrets(store, box, true);
      print(describe(result, box.currentKeyId));
      if (result.remaining > 0) print("Some endpoints changed while this ran: run it again.");
      else print("The keys in old_master_keys (HOOKLINE_OLD_MASTER_KEYS) are no longer needed.");
      return;
    }
    const next = `${keys.generatedFile}.next`;
    if (!existsSync(next)) writeKeyFile(next, newMasterKey());
    const newKey = readKeyFile(next);
    const box = createSecretBox(newKey, [keys.current, ...keys.old]);
    const result = await resealSecrets(store, box, true);
    if (result.remaining > 0) throw new Error("endpoints changed while re-encrypting: stop Hookline and run it again");
    // Backups made until now are under the old key: it is kept, never just overwritten.
    const retired = `${keys.generatedFile}.${masterKeyId(keys.current)}`;
    if (keys.current !== newKey && !existsSync(retired)) writeKeyFile(retired, keys.current);
    writeKeyFile(keys.generatedFile, newKey);
    unlinkSync(next);
    print(describe(result, box.currentKeyId));
    print(`${keys.generatedFile} now holds the new key; start Hookline again.`);
    if (existsSync(retired)) {
      print(
        `The old key is kept as ${retired}: backups made before now need it (restore them with it as <backup>.master.key); delete it once they are gone.`,
      );
    }
  } finally {
    await store.close();
  }
}

function describe(result: { rewritten: number }, keyId: string): string {
  const endpoints = result.rewritten === 1 ? "1 endpoint" : `${result.rewritten} endpoints`;
  return `Re-encrypted the signing secrets of ${endpoints}: all are now under master key ${keyId}.`;
}
