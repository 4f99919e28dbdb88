import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { HooklineError } from "../errors.ts";

/**
 * Endpoint signing secrets at rest: AES-256-GCM under the operator's master key.
 * A sealed secret is `hlenc:v1:<key id>:<base64url(iv ‖ ciphertext ‖ tag)>`; the key id
 * names the master key that sealed it, so a rotation can tell old rows from new ones
 * and a node with the wrong key says so instead of signing with garbage.
 */
export interface SecretBox {
  /** The id of the key new secrets are sealed with. */
  readonly currentKeyId: string;
  seal(secret: string): string;
  /** The plain secret; a value not sealed (written before encryption existed) is returned as it is. */
  open(value: string): string;
  /** The key id a value is sealed with, or null for a plain value. */
  keyIdOf(value: string): string | null;
  /** Whether this box holds the key a value needs (plain values need none). */
  canOpen(value: string): boolean;
}

const PREFIX = "hlenc:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const CACHE_SIZE = 10_000;

/** A short, stable name for a master key that reveals nothing useful about it. */
export function masterKeyId(key: string): string {
  return createHash("sha256")
    .update("hookline master key id\0")
    .update(Buffer.from(key, "base64"))
    .digest("hex")
    .slice(0, 8);
}

/** A new master key: base64 of 32 random bytes. */
export function newMasterKey(): string {
  return randomBytes(32).toString("base64");
}

/**
 * @param currentKey seals new secrets (base64 of 32 bytes)
 * @param oldKeys only open secrets sealed before a rotation
 */
export function createSecretBox(currentKey: string, oldKeys: readonly string[] = []): SecretBox {
  const keys = new Map<string, Buffer>();
  for (const key of [currentKey, ...oldKeys]) keys.set(masterKeyId(key), Buffer.from(key, "base64"));
  const currentKeyId = masterKeyId(currentKey);
  const current = keys.get(currentKeyId) as Buffer;
  // Opening runs for every claimed delivery; the same few secrets come back again and again.
  const opened = new Map<string, string>();

  const keyIdOf = (value: string) => (value.startsWith(PREFIX) ? value.slice(PREFIX.length, PREFIX.length + 8) : null);

  return {
    currentKeyId,
    keyIdOf,
    canOpen(value) {
      const id = keyIdOf(value);
      return id === null || keys.has(id);
    },
    seal(secret) {
      const iv = randomBytes(IV_BYTES);
      const header = `${PREFIX}${currentKeyId}:`;
      const cipher = createCipheriv("aes-256-gcm", current, iv);
      cipher.setAAD(Buffer.from(header));
      const sealed = Buffer.concat([iv, cipher.update(secret, "utf8"), cipher.final(), cipher.getAuthTag()]);
      return `${header}${sealed.toString("base64url")}`;
    },
    open(value) {
      const id = keyIdOf(value);
      if (id === null) return value;
      let secret = opened.get(value);
      if (secret !== undefined) return secret;
      const key = keys.get(id);
      if (!key) {
        throw new HooklineError(
          "master_key_missing",
          `a signing secret is encrypted with master key ${id}, which this process does not have (configured: ${[...keys.keys()].join(", ")}); set master_key / HOOKLINE_MASTER_KEY (or the old one in old_master_keys)`,
        );
      }
      const header = value.slice(0, PREFIX.length + 9);
      const sealed = Buffer.from(value.slice(header.length), "base64url");
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(header));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        secret = Buffer.concat([
          decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
          decipher.final(),
        ]).toString("utf8");
      } catch {
        throw new HooklineError(
          "secret_corrupt",
          `a signing secret sealed with master key ${id} does not decrypt: it was altered`,
        );
      }
      if (opened.size >= CACHE_SIZE) opened.clear();
      opened.set(value, secret);
      return secret;
    },
  };
}
