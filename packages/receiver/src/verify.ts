import { concat, fromBase64, toBase64, utf8 } from "./encoding.ts";
import { WebhookVerificationError } from "./errors.ts";

/** What a Hookline webhook carries: the envelope around the platform's own `data`. */
export interface WebhookEvent<T = unknown> {
  id: string;
  type: string;
  created_at: string;
  environment: "test" | "live";
  data: T;
}

/** Fetch `Headers`, or a plain object as node:http, Express and Fastify give. */
export type HeadersLike = { get(name: string): string | null } | Record<string, string | string[] | undefined>;

export type RawBody = string | Uint8Array | ArrayBuffer;

export interface VerifyOptions {
  /** How far the webhook's timestamp may be from now, in seconds (default 300, as the spec suggests). */
  tolerance?: number;
  /** The clock, in milliseconds (default Date.now); for tests. */
  now?: () => number;
}

const DEFAULT_TOLERANCE_S = 300;

/**
 * Verifies a webhook the Standard Webhooks way and returns its parsed body.
 *
 * - `rawBody` must be the bytes as received, not JSON parsed and stringified again;
 * - `secret` is the endpoint's `whsec_…` signing secret, or several during a rotation
 *   (the webhook passes if any of its signatures matches any of them);
 * - the timestamp must be within `tolerance` seconds of now, which stops replays.
 *
 * Throws WebhookVerificationError with a `code` saying what was wrong.
 */
export async function verifyWebhook<T = unknown>(
  rawBody: RawBody,
  headers: HeadersLike,
  secret: string | readonly string[],
  options: VerifyOptions = {},
): Promise<WebhookEvent<T>> {
  const id = header(headers, "webhook-id");
  const timestampText = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!/^\d{1,15}$/.test(timestampText)) {
    throw new WebhookVerificationError("invalid_header", "webhook-timestamp is not a number of seconds");
  }
  const timestamp = Number(timestampText);
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE_S;
  const nowS = Math.floor((options.now ?? Date.now)() / 1000);
  if (timestamp < nowS - tolerance) {
    throw new WebhookVerificationError("timestamp_too_old", `the webhook's timestamp is more than ${tolerance} s old`);
  }
  if (timestamp > nowS + tolerance) {
    throw new WebhookVerificationError(
      "timestamp_too_new",
      `the webhook's timestamp is more than ${tolerance} s in the future`,
    );
  }

  const body = bytesOf(rawBody);
  const signed = concat([utf8(`${id}.${timestampText}.`), body]);
  const candidates = signatures
    .split(" ")
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => decodeSignature(entry.slice(3)))
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes !== null);
  let matched = false;
  for (const key of await Promise.all(secretsOf(secret).map((s) => importSecret(s)))) {
    for (const candidate of candidates) {
      // subtle.verify compares in constant time.
      if (await crypto.subtle.verify("HMAC", key, candidate, signed)) matched = true;
    }
  }
  if (!matched) {
    throw new WebhookVerificationError("bad_signature", "no webhook-signature matches the secret");
  }

  try {
    return JSON.parse(new TextDecoder().decode(body)) as WebhookEvent<T>;
  } catch {
    throw new WebhookVerificationError("invalid_body", "the signed body is not JSON");
  }
}

/** Signs like a Standard Webhooks sender: for receivers' own tests. Returns the `webhook-signature` value. */
export async function signWebhook(secret: string, id: string, timestamp: number, rawBody: RawBody): Promise<string> {
  const key = await importSecret(secret, ["sign"]);
  const signed = concat([utf8(`${id}.${timestamp}.`), bytesOf(rawBody)]);
  return `v1,${toBase64(new Uint8Array(await crypto.subtle.sign("HMAC", key, signed)))}`;
}

function header(headers: HeadersLike, name: string): string {
  let value: string | string[] | null | undefined;
  if (typeof headers.get === "function") value = (headers as { get(name: string): string | null }).get(name);
  else value = (headers as Record<string, string | string[] | undefined>)[name];
  if (Array.isArray(value)) value = value[0];
  if (value === undefined || value === null || value === "") {
    throw new WebhookVerificationError("missing_header", `the ${name} header is missing`);
  }
  return value;
}

function bytesOf(body: RawBody): Uint8Array<ArrayBuffer> {
  if (typeof body === "string") return utf8(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return new Uint8Array(body);
  throw new WebhookVerificationError(
    "body_already_parsed",
    "the body was parsed before verification; pass the raw bytes (a string, Uint8Array or ArrayBuffer)",
  );
}

function secretsOf(secret: string | readonly string[]): readonly string[] {
  const secrets = typeof secret === "string" ? [secret] : secret;
  if (secrets.length === 0) throw new WebhookVerificationError("invalid_secret", "no signing secret given");
  return secrets;
}

async function importSecret(secret: string, usages: KeyUsage[] = ["verify"]): Promise<CryptoKey> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(secret.startsWith("whsec_") ? secret.slice(6) : secret);
  } catch {
    throw new WebhookVerificationError("invalid_secret", "the signing secret is not whsec_ followed by base64");
  }
  if (bytes.length === 0) throw new WebhookVerificationError("invalid_secret", "the signing secret is empty");
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, usages);
}

function decodeSignature(text: string): Uint8Array<ArrayBuffer> | null {
  try {
    return fromBase64(text);
  } catch {
    return null;
  }
}
