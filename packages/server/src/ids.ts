import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * A ULID-shaped id with a prefix: 48 bits of milliseconds then 80 random bits,
 * Crockford base32. Within one millisecond the random part counts up, so ids
 * sort in creation order, which keyset pagination relies on.
 */
export function newId(prefix: "evt" | "dlv" | "att" | "ep" | "acct" | "node", now = Date.now()): string {
  if (now > lastTime) {
    lastTime = now;
    lastRandom.set(randomBytes(10));
  } else {
    // Same (or an earlier) millisecond: keep the last time and count up.
    for (let i = lastRandom.length - 1; i >= 0 && ++lastRandom[i]! === 256; i--) lastRandom[i] = 0;
  }
  const time = encodeTime(lastTime);
  let rand = "";
  // 80 bits → 16 base32 digits, 5 bits at a time.
  let acc = 0;
  let bits = 0;
  for (const byte of lastRandom) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      rand += CROCKFORD[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return `${prefix}_${time}${rand}`;
}

/** The smallest id made at `time`: every id of that prefix made earlier sorts before it. */
export function firstIdAt(prefix: "evt", time: number): string {
  return `${prefix}_${encodeTime(time)}${"0".repeat(16)}`;
}

/** 48 bits of milliseconds as 10 Crockford base32 digits. */
function encodeTime(ms: number): string {
  let time = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/** A random token in base62, for API keys (unbiased by rejection sampling). */
export function randomToken(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

const REQUEST_ID_PREFIX = randomToken(8);
let requestCount = 0;

/**
 * An id for one API request, for logs and the `x-request-id` header: unique, not secret.
 * A random per-process prefix and a counter, because a random token per request showed
 * as 5% of the HTTP thread in ingest profiles.
 */
export function newRequestId(): string {
  let n = ++requestCount;
  let count = "";
  for (let i = 0; i < 8; i++) {
    count = BASE62[n % 62] + count;
    n = Math.floor(n / 62);
  }
  return `req_${REQUEST_ID_PREFIX}${count}`;
}

/** Keys are stored as SHA-256 digests: they are long random tokens, so a fast hash is enough. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}
