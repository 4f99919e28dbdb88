import { createHmac } from "node:crypto";

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
  const key = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  return createHmac("sha256", key).update(`${messageId}.${timestamp}.${body}`).digest("base64");
}
