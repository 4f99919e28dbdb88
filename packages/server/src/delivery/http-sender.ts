import { isIP } from "node:net";
import { Agent, request } from "undici";
import type { AttemptError, Claim, Environment } from "../store/store.ts";
import { addressRejection, createGuardedLookup, type EgressPolicy } from "./egress-guard.ts";
import type { AttemptResult } from "./outcome-policy.ts";
import { parseRetryAfter } from "./retry-schedule.ts";
import { signatureHeader } from "./signature.ts";

export interface HttpSenderOptions {
  userAgent: string;
  attemptTimeoutMs: number;
  maxResponseBytes: number;
  allowPrivateInTest: boolean;
  egressAllowCidrs: readonly string[];
}

export interface HttpSender {
  /** Makes one attempt; resolves "aborted" only when `signal` (shutdown) cut it short. */
  send(claim: Claim, signal: AbortSignal, now: () => number): Promise<AttemptResult | "aborted">;
  close(): Promise<void>;
}

/**
 * Sends webhook requests. One keep-alive agent per environment, each with a
 * lookup that refuses addresses its environment may not reach, so a DNS answer
 * that changes after the endpoint was saved (rebinding) is still caught.
 */
export function createHttpSender(options: HttpSenderOptions): HttpSender {
  const policies: Record<Environment, EgressPolicy> = {
    test: { environment: "test", allowPrivateInTest: options.allowPrivateInTest, allowCidrs: options.egressAllowCidrs },
    live: { environment: "live", allowPrivateInTest: false, allowCidrs: options.egressAllowCidrs },
  };
  const agentFor = (environment: Environment) =>
    new Agent({
      connect: { lookup: createGuardedLookup(policies[environment]), timeout: options.attemptTimeoutMs },
      keepAliveTimeout: 30_000,
    });
  const agents: Record<Environment, Agent> = { test: agentFor("test"), live: agentFor("live") };

  async function send(claim: Claim, shutdown: AbortSignal, now: () => number): Promise<AttemptResult | "aborted"> {
    const startedAt = now();
    const timestamp = Math.floor(startedAt / 1000);
    const headers = {
      "content-type": "application/json",
      "user-agent": options.userAgent,
      "webhook-id": claim.eventId,
      "webhook-timestamp": String(timestamp),
      "webhook-signature": signatureHeader(claim.secrets, claim.eventId, timestamp, claim.body),
    };
    const result = (fields: Partial<AttemptResult>): AttemptResult => ({
      startedAt,
      durationMs: now() - startedAt,
      statusCode: null,
      error: null,
      responseSnippet: null,
      requestHeaders: headers,
      retryAfterMs: null,
      ...fields,
    });

    // Node never calls `lookup` for an IP literal, so those are checked here.
    const host = new URL(claim.url).hostname.replace(/^\[|\]$/g, "");
    if (isIP(host) && addressRejection(host, policies[claim.environment]) !== null) {
      return result({ error: "blocked" });
    }

    const deadline = AbortSignal.timeout(options.attemptTimeoutMs);
    const signal = AbortSignal.any([shutdown, deadline]);
    try {
      const response = await request(claim.url, {
        method: "POST",
        headers,
        body: claim.body,
        dispatcher: agents[claim.environment],
        signal,
      });
      const snippet = await readCapped(response.body, options.maxResponseBytes);
      const retryAfter = response.statusCode === 429 || response.statusCode === 503;
      return result({
        statusCode: response.statusCode,
        responseSnippet: snippet,
        retryAfterMs: retryAfter ? parseRetryAfter(headerValue(response.headers["retry-after"]), startedAt) : null,
      });
    } catch (error) {
      if (shutdown.aborted) return "aborted";
      return result({ error: deadline.aborted ? "timeout" : classifyError(error) });
    }
  }

  return {
    send,
    async close() {
      await Promise.all([agents.test.close(), agents.live.close()]);
    },
  };
}

/**
 * Reads at most `limit` bytes of a response, then drops the connection rather
 * than drain a huge body. The status is already known, so a body cut short by
 * the deadline or a reset still leaves the attempt's outcome as the status says.
 */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let complete = false;
  try {
    for await (const chunk of body) {
      const room = limit - size;
      chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      size += Math.min(chunk.length, room);
      if (size >= limit) break;
    }
    complete = size < limit;
  } catch {
    // Keep what arrived.
  }
  // A body read to its end leaves the connection for keep-alive reuse.
  if (!complete) body.destroy();
  return Buffer.concat(chunks).toString("utf8");
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const ERROR_KINDS: [RegExp, AttemptError][] = [
  [/^EGRESS_BLOCKED$/, "blocked"],
  [/^(ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NODATA)$/, "dns"],
  [/^(UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|ETIMEDOUT)$/, "timeout"],
  [/^(UND_ERR_HEADERS_OVERFLOW|UND_ERR_RES_EXCEEDED_MAX_SIZE)$/, "too_large"],
  [/^(ERR_TLS|ERR_SSL|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_)/, "tls"],
  [/^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/, "reset"],
];

/** Maps a transport error to the attempt's error kind; anything unknown counts as a connect failure. */
export function classifyError(error: unknown): AttemptError {
  let current: unknown = error;
  while (current instanceof Error) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code) {
      for (const [pattern, kind] of ERROR_KINDS) if (pattern.test(code)) return kind;
    }
    current = current.cause;
  }
  return "connect";
}
