import { chmodSync, copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Config } from "./config.ts";
import { lockDataDir, ownLikeDataDir } from "./data-dir-lock.ts";
import { HooklineError } from "./errors.ts";
import { readKeyFile, readMasterKeys, writeKeyFile } from "./master-key.ts";
import { formatCount } from "./store/migrate-data/progress.ts";
import { createSecretBox, masterKeyId, newMasterKey, type SecretBox } from "./store/secret-box.ts";
import { discardStaged, installStaged, type StoreSummary, snapshotStore, stageRestore } from "./store/sqlite/backup.ts";
import { MIGRATIONS } from "./store/sqlite/migrations.ts";

/**
 * `hookline backup` and `hookline restore` for the embedded store.
 *
 * The backup is the database only. The master key that encrypts the signing secrets in it
 * stays out of it (a backup that carries its own key is not encrypted at rest): `backup`
 * names the key id the copy needs, and `--with-key` writes the key to a separate
 * `<file>.master.key` (owner-only) for operators who store the two apart. `restore` refuses
 * a backup whose secrets do not open with the key the restored Hookline will have.
 */
export interface BackupOptions {
  /** Also write the master key to `<file>.master.key`. */
  withKey: boolean;
}

export interface RestoreOptions {
  /** Install `<file>.master.key` as `<data_dir>/master.key`. */
  withKey: boolean;
  /** Replace a store already in the data directory. */
  replace: boolean;
}

type Print = (text: string) => void;

export function backupStore(config: Config, file: string, options: BackupOptions, print: Print): void {
  refusePostgres(config, "backup");
  const target = resolve(file);
  const keyFile = `${target}.master.key`;
  if (options.withKey && existsSync(keyFile)) {
    throw new HooklineError("backup_exists", `${keyFile} already exists: choose another name, or remove it first`);
  }
  const started = performance.now();
  const summary = snapshotStore(config.dataDir, target);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  print(
    `Backed up ${join(config.dataDir, "hookline.db")} to ${target} in ${seconds} s (${megabytes(summary.bytes)}, schema version ${summary.schemaVersion}).`,
  );
  print(`It holds ${contents(summary)}.`);
  const needed = keyIdsOf(summary.secrets);
  if (needed.length === 0) {
    print("It holds no encrypted signing secret: it restores with any master key.");
    return;
  }
  const keys = availableKeys(config);
  const names = needed.join(", ");
  if (!options.withKey) {
    const have = keys?.keys.find((key) => needed.includes(masterKeyId(key)));
    print(
      have && keys
        ? `Its signing secrets are encrypted with master key ${names}, which is NOT in the backup: keep ${keys.from} safe, apart from it (or use --with-key).`
        : `Its signing secrets are encrypted with master key ${names}, which is NOT in the backup, and this Hookline has no key with that id: find it before you need the backup.`,
    );
    return;
  }
  if (needed.length > 1) {
    throw new HooklineError(
      "master_key_ambiguous",
      `the backup is written, but its signing secrets are under ${needed.length} master keys (${names}; a rotation is not finished), so no key file was written: finish \`hookline keys rotate-master\` and back up again`,
    );
  }
  const key = keys?.keys.find((candidate) => masterKeyId(candidate) === needed[0]);
  if (!key) {
    throw new HooklineError(
      "master_key_missing",
      `the backup is written, but its signing secrets are encrypted with master key ${names}, which this Hookline does not have, so no key file was written`,
    );
  }
  writeKeyFile(keyFile, key);
  print(`Master key ${names} is in ${keyFile} (owner-only): store it apart from the backup.`);
}

export function restoreStore(config: Config, file: string, options: RestoreOptions, print: Print): void {
  refusePostgres(config, "restore");
  const source = resolve(file);
  if (!existsSync(source)) throw new HooklineError("backup_not_found", `there is no backup file ${source}`);
  // Held until the new store is in place: no server starts on a half-restored directory.
  const release = lockDataDir(config.dataDir);
  try {
    const target = join(config.dataDir, "hookline.db");
    if (existsSync(target) && !options.replace) {
      throw new HooklineError(
        "data_dir_not_empty",
        `${config.dataDir} already has a store (hookline.db): add --replace to replace it with the backup (what it holds now is lost), or restore into another --data-dir`,
      );
    }
    const key = keyForRestore(config, source, options.withKey);
    const keyFile = join(config.dataDir, "master.key");
    // The backup's key waits beside the present one until the store is in place: a restore that
    // fails (the old store busy, a full disk) leaves the directory's store and key as they were.
    const incoming = `${keyFile}.restoring`;
    const { staged, summary } = stageRestore(source, config.dataDir);
    let replaced: boolean;
    try {
      checkSecrets(summary.secrets, key);
      if (options.withKey && key) {
        writeKeyFile(incoming, key.value);
        ownLikeDataDir(incoming, config.dataDir);
      }
      ownLikeDataDir(staged, config.dataDir);
      replaced = installStaged(staged, config.dataDir);
    } catch (error) {
      rmSync(incoming, { force: true });
      throw error;
    } finally {
      discardStaged(staged);
    }
    const retired = options.withKey && key ? installKey(incoming, keyFile) : null;
    print(`Restored ${source} into ${target} (${megabytes(summary.bytes)}, schema version ${summary.schemaVersion}).`);
    if (retired) print(`The master key that was there is kept as ${retired}: backups of the replaced store need it.`);
    print(`It holds ${contents(summary)}.`);
    if (summary.unfinished > 0) {
      print(
        `${formatCount(summary.unfinished)} of its deliveries were not finished: Hookline resumes them when it starts.`,
      );
    }
    if (replaced) print("The store that was there before is replaced.");
    const sealedWith = keyIdsOf(summary.secrets);
    if (sealedWith.length > 0 && key)
      print(`Its signing secrets open with master key ${sealedWith.join(", ")} (${key.from}).`);
    if (summary.schemaVersion < MIGRATIONS.length) {
      print("It was made by an older Hookline: `hookline serve` (or `hookline migrate`) upgrades it.");
    }
  } finally {
    release();
  }
}

/**
 * Puts the restored store's key in place as `master.key`. A different key that was there is
 * kept as `master.key.<id>` (its backups still need it), never overwritten; returns that name.
 */
function installKey(incoming: string, keyFile: string): string | null {
  let retired: string | null = null;
  if (existsSync(keyFile)) {
    let present: string | null;
    try {
      present = readKeyFile(keyFile);
    } catch {
      present = null; // damaged: kept as it is, under a name of its own
    }
    if (present !== readKeyFile(incoming)) {
      retired = `${keyFile}.${present === null ? `unreadable-${Date.now()}` : masterKeyId(present)}`;
      // A copy, then one rename over master.key: there is a master.key at every moment.
      copyFileSync(keyFile, retired);
      chmodSync(retired, 0o600);
      ownLikeDataDir(retired, dirname(keyFile));
    }
  }
  renameSync(incoming, keyFile);
  return retired;
}

/** Where master keys come from, read without making one (unlike starting a server). */
function availableKeys(config: Config): { keys: string[]; from: string } | null {
  const found = readMasterKeys(config);
  if (!found) return null;
  const from =
    config.masterKey !== null
      ? "the configured master_key (HOOKLINE_MASTER_KEY)"
      : (config.masterKeyFile ?? (found.generatedFile as string));
  return { keys: [found.current, ...found.old], from };
}

interface RestoreKey {
  box: SecretBox;
  /** The key to install (with --with-key). */
  value: string;
  from: string;
}

function keyForRestore(config: Config, source: string, withKey: boolean): RestoreKey | null {
  if (withKey) {
    if (config.masterKey !== null || config.masterKeyFile !== null) {
      throw new HooklineError(
        "master_key_configured",
        `--with-key installs ${join(config.dataDir, "master.key")}, but this Hookline is configured with a master key (master_key or master_key_file) and would not read it: configure the key from ${source}.master.key instead, and restore without --with-key`,
      );
    }
    const file = `${source}.master.key`;
    if (!existsSync(file)) {
      throw new HooklineError(
        "master_key_missing",
        `--with-key needs the key file ${file} (written by backup --with-key)`,
      );
    }
    const value = readKeyFile(file);
    return { box: createSecretBox(value), value, from: file };
  }
  const keys = availableKeys(config);
  if (!keys) return null;
  const [current, ...old] = keys.keys as [string, ...string[]];
  return { box: createSecretBox(current, old), value: current, from: keys.from };
}

/** Refuses, before anything changes, a backup whose secrets the restored Hookline could not open. */
function checkSecrets(secrets: readonly string[], key: RestoreKey | null): void {
  const needed = keyIdsOf(secrets);
  if (needed.length === 0) return;
  const names = needed.join(", ");
  if (!key) {
    throw new HooklineError(
      "master_key_missing",
      `the backup's signing secrets are encrypted with master key ${names}, and this data directory has no master key: restore with --with-key (reads <file>.master.key), or configure that key (master_key / HOOKLINE_MASTER_KEY, or master_key_file). Nothing was changed`,
    );
  }
  const unknown = keyIdsOf(secrets.filter((value) => !key.box.canOpen(value)));
  if (unknown.length > 0) {
    throw new HooklineError(
      "master_key_missing",
      `the backup's signing secrets are encrypted with master key ${unknown.join(", ")}, but this Hookline has ${key.box.currentKeyId} (${key.from}): restore with --with-key, or configure the key the backup needs. Nothing was changed`,
    );
  }
  for (const value of secrets) {
    try {
      key.box.open(value);
    } catch (error) {
      throw new HooklineError("secret_corrupt", `${(error as Error).message}. Nothing was changed`, { cause: error });
    }
  }
}

/** The master key ids the sealed values name (plain values, from before encryption, need none). */
function keyIdsOf(secrets: readonly string[]): string[] {
  // Reading a value's key id needs no particular key.
  const box = createSecretBox(newMasterKey());
  const ids = new Set<string>();
  for (const value of secrets) {
    const id = box.keyIdOf(value);
    if (id !== null) ids.add(id);
  }
  return [...ids].sort();
}

function refusePostgres(config: Config, command: "backup" | "restore"): void {
  if (config.databaseUrl === null) return;
  throw new HooklineError(
    "postgres_backup",
    `hookline ${command} is for the embedded store; this Hookline uses PostgreSQL (DATABASE_URL): ${command === "backup" ? "back it up with pg_dump" : "restore it with pg_restore"} (see docs/deploy.md)`,
  );
}

function contents(summary: StoreSummary): string {
  const n = (count: number, one: string, many: string) => `${formatCount(count)} ${count === 1 ? one : many}`;
  return [
    n(summary.accounts, "account", "accounts"),
    n(summary.endpoints, "endpoint", "endpoints"),
    n(summary.events, "event", "events"),
    n(summary.deliveries, "delivery", "deliveries"),
    n(summary.attempts, "attempt", "attempts"),
  ].join(", ");
}

function megabytes(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}
