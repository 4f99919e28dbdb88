import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Config } from "./config.ts";
import { HooklineError } from "./errors.ts";
import { createSecretBox, newMasterKey, type SecretBox } from "./store/secret-box.ts";

/** Where the master key comes from: the operator's setting, or a file Hookline made in the data directory. */
export interface MasterKeys {
  current: string;
  old: string[];
  /** The generated key file (embedded store without a configured key), which `rotate-master` may replace. */
  generatedFile: string | null;
}

/**
 * The master keys of this process. Without a configured key, the embedded store keeps
 * one in `<data_dir>/master.key` (made on first start, readable by its owner only);
 * PostgreSQL nodes must be given one, because they all need the same.
 */
export function loadMasterKeys(config: Config): MasterKeys {
  if (config.masterKey === null && config.masterKeyFile === null && config.databaseUrl === null) {
    const file = join(config.dataDir, "master.key");
    try {
      mkdirSync(config.dataDir, { recursive: true });
      if (!existsSync(file)) writeKeyFile(file, newMasterKey());
    } catch (error) {
      throw new HooklineError(
        "store_unavailable",
        `cannot open the data directory ${config.dataDir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  return readMasterKeys(config) as MasterKeys;
}

/**
 * The master keys as loadMasterKeys finds them, without making anything (`hookline doctor`):
 * null when the key Hookline generates in the data directory does not exist yet.
 */
export function readMasterKeys(config: Config): MasterKeys | null {
  if (config.masterKey !== null)
    return { current: config.masterKey, old: [...config.oldMasterKeys], generatedFile: null };
  if (config.masterKeyFile !== null) {
    return { current: readKeyFile(config.masterKeyFile), old: [...config.oldMasterKeys], generatedFile: null };
  }
  if (config.databaseUrl !== null) {
    throw new HooklineError(
      "invalid_config",
      "PostgreSQL nodes need a shared master key to encrypt signing secrets: set HOOKLINE_MASTER_KEY (or master_key_file) on every node; make one with: openssl rand -base64 32",
    );
  }
  const file = join(config.dataDir, "master.key");
  if (!existsSync(file)) return null;
  // A rotation that stopped before replacing the file left the new key beside it.
  const next = `${file}.next`;
  const old = existsSync(next) ? [readKeyFile(next), ...config.oldMasterKeys] : [...config.oldMasterKeys];
  return { current: readKeyFile(file), old, generatedFile: file };
}

export function secretBoxOf(keys: MasterKeys): SecretBox {
  return createSecretBox(keys.current, keys.old);
}

export function readKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (error) {
    throw new HooklineError("invalid_config", `cannot read the master key file ${path}: ${(error as Error).message}`);
  }
  const key = Buffer.from(text, "base64");
  if (key.length !== 32 || key.toString("base64") !== text) {
    throw new HooklineError("invalid_config", `the master key file ${path} must hold base64 of 32 bytes`);
  }
  return text;
}

/** Writes a key file durably, owner-only, replacing `path` atomically. */
export function writeKeyFile(path: string, key: string): void {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    writeSync(fd, `${key}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const dir = openSync(dirname(path), "r");
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
