import { createHmac, createSecretKey, type KeyObject } from "node:crypto";

/**
 * Signs one request the Standard Webhooks way: HMAC-SHA256 over
 * "<msg id>.<unix seconds>.<body>", keyed with the base64 bytes after `whsec_`.
 * Several secrets (during a rotation) give several space-separated signatures.
 */
export function signatureHeader(
  secrets: readonly string[],
  messageId: string,
  timestamp: number,
  body: string,
): string {
  return secrets.map((secret) => `v1,${sign(secret, messageId, timestamp, body)}`).join(" ");
}

export function sign(secret: string, messageId: string, timestamp: number, body: string): string {
  // Fed in parts: joining them first would copy every body once more per attempt.
  return createHmac("sha256", keyOf(secret)).update(`${messageId}.${timestamp}.`).update(body).digest("base64");
}

/** Decoded secrets, kept because making a key object per request showed in profiles. */
const keys = new Map<string, KeyObject>();
const MAX_KEYS = 10_000;

function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64"));
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(secret, key);
  }
  return key;
}
