import { isIP } from "node:net";
import { Agent, buildConnector, type Dispatcher } from "undici";
import type { AttemptError, Claim, Environment } from "../store/store.ts";
import {
  addressRejection,
  createGuardedLookup,
  type EgressPolicy,
  type LookupAll,
  parseAllowList,
} from "./egress-guard.ts";
import type { ListenHub } from "./listen-hub.ts";
import type { AttemptResult } from "./outcome-policy.ts";
import { parseRetryAfter } from "./retry-schedule.ts";
import { signatureHeader } from "./signature.ts";

export interface HttpSenderOptions {
  userAgent: string;
  attemptTimeoutMs: number;
  maxResponseBytes: number;
  allowPrivateInTest: boolean;
  egressAllowCidrs: readonly string[];
  /** Where hostnames' addresses come from; defaults to the system resolver. Tests inject answers here. */
  resolve?: LookupAll | undefined;
}

export interface HttpSender {
  /** Makes one attempt; resolves "aborted" only when `abortAll` (shutdown) cut it short. */
  send(claim: Claim, now: () => number): Promise<AttemptResult | "aborted">;
  /** Ends every attempt in flight at once, each resolving "aborted". */
  abortAll(): void;
  close(): Promise<void>;
}

/** What came back over the wire (or from a listener), before it becomes an attempt result. */
export type Reply =
  | { statusCode: number; body: string; retryAfter: string | undefined }
  | { error: AttemptError }
  | "aborted";

/**
 * Sends webhook requests (and hands listen endpoints' attempts to the listen
 * hub). One keep-alive agent per environment, each with a
 * lookup that refuses addresses its environment may not reach, so a DNS answer
 * that changes after the endpoint was saved (rebinding) is still caught.
 */
export function createHttpSender(options: HttpSenderOptions, listeners: ListenHub): HttpSender {
  const policies: Record<Environment, EgressPolicy> = {
    test: { environment: "test", allowPrivateInTest: options.allowPrivateInTest, allowCidrs: options.egressAllowCidrs },
    live: { environment: "live", allowPrivateInTest: false, allowCidrs: options.egressAllowCidrs },
  };
  // A malformed allow-list is a configuration error: fail at start, not at the first delivery.
  parseAllowList(options.egressAllowCidrs);
  // The connector resolves through the guarded lookup, and the socket connects to the
  // addresses that lookup checked: there is no second resolution to rebind. A lookup does
  // not learn the port, so each port gets its own (for allow-list entries with a port).
  const connectorFor = (environment: Environment): buildConnector.connector => {
    const byPort = new Map<number, buildConnector.connector>();
    return (connectOptions, callback) => {
      const port = Number(connectOptions.port) || (connectOptions.protocol === "https:" ? 443 : 80);
      let connector = byPort.get(port);
      if (!connector) {
        const lookup = createGuardedLookup(policies[environment], options.resolve, port);
        connector = buildConnector({ lookup, timeout: options.attemptTimeoutMs });
        byPort.set(port, connector);
      }
      return connector(connectOptions, callback);
    };
  };
  const agentFor = (environment: Environment) =>
    new Agent({ connect: connectorFor(environment), keepAliveTimeout: 30_000 });
  const agents: Record<Environment, Agent> = { test: agentFor("test"), live: agentFor("live") };
  /**
   * Attempts in flight, each as the function that ends it as aborted, in reused slots of an
   * array. Not a Set or Map: with one add and one delete per attempt, either made every
   * attempt's objects (request, answer, claim) survive into V8's old generation. In S3 that
   * was 2.5 MB promoted per young-generation collection against 0.1 MB with slots, and V8's
   * helper threads spent 15–16 µs per delivery against 7–8 (--trace-gc-nvp, 2026-11-29; a
   * Set alone, without the HTTP client, did not do it, so the cause inside V8 is not known).
   */
  const inFlight: ((() => void) | undefined)[] = [];
  const freeSlots: number[] = [];
  const targets = new Map<string, Target>();

  async function send(claim: Claim, now: () => number): Promise<AttemptResult | "aborted"> {
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

    let reply: Reply;
    if (claim.kind === "listen") {
      reply = await listeners.relay(claim, headers, options.attemptTimeoutMs);
    } else {
      const target = targetOf(claim.url, claim.environment);
      // Node never calls `lookup` for an IP literal, so those are checked here.
      if (target.blockedLiteral) return result({ error: "blocked" });
      reply = await post(agents[claim.environment], target, headers, claim.body);
    }
    if (reply === "aborted") return reply;
    if ("error" in reply) return result({ error: reply.error });
    const retryAfter = reply.statusCode === 429 || reply.statusCode === 503;
    return result({
      statusCode: reply.statusCode,
      responseSnippet: reply.body,
      retryAfterMs: retryAfter ? parseRetryAfter(reply.retryAfter, startedAt) : null,
    });
  }

  /**
   * One POST through undici's handler interface. Settles once: with the status and
   * at most `maxResponseBytes` of body, with an error, at the deadline, or when
   * aborted. A response cut short (size cap, deadline, reset) after its status
   * arrived still counts as that status. Anything after settling is ignored.
   */
  function post(agent: Agent, target: Target, headers: Record<string, string>, body: string): Promise<Reply> {
    return new Promise((resolve) => {
      const slot = freeSlots.pop() ?? inFlight.length;
      let controller: Dispatcher.DispatchController | null = null;
      let settled = false;
      let statusCode = 0;
      let retryAfter: string | undefined;
      const chunks: Buffer[] = [];
      let size = 0;

      const settle = (reply: Reply, reason?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        inFlight[slot] = undefined;
        freeSlots.push(slot);
        // Anything still open is dropped rather than drained.
        if (reason && controller && !controller.aborted) controller.abort(reason);
        resolve(reply);
      };
      // The snippet is the bytes as UTF-8 text, never decompressed (decideOutcome makes it storable).
      const withStatus = (): Reply => ({ statusCode, body: Buffer.concat(chunks).toString("utf8"), retryAfter });
      const end = (error: AttemptError, reason: Error) => settle(statusCode ? withStatus() : { error }, reason);
      const abort = () => settle("aborted", new Error("shutting down"));
      const deadline = setTimeout(() => end("timeout", new Error("attempt deadline")), options.attemptTimeoutMs);
      inFlight[slot] = abort;

      agent.dispatch(
        { origin: target.origin, path: target.path, method: "POST", headers, body },
        {
          onRequestStart(started) {
            controller = started;
            if (settled) started.abort(new Error("attempt already ended"));
          },
          onResponseStart(_controller, status, responseHeaders) {
            statusCode = status;
            const value = responseHeaders["retry-after"];
            retryAfter = Array.isArray(value) ? value[0] : value;
          },
          onResponseData(_controller, chunk) {
            const room = options.maxResponseBytes - size;
            chunks.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
            size += Math.min(chunk.length, room);
            if (size >= options.maxResponseBytes) settle(withStatus(), new Error("response cut at the size cap"));
          },
          // A body read to its end leaves the connection for keep-alive reuse.
          onResponseEnd() {
            settle(withStatus());
          },
          onResponseError(_controller, error) {
            end(classifyError(error), error);
          },
        },
      );
    });
  }

  function targetOf(url: string, environment: Environment): Target {
    const key = `${environment} ${url}`;
    let target = targets.get(key);
    if (!target) {
      const parsed = new URL(url);
      const host = parsed.hostname.replace(/^\[|\]$/g, "");
      const port = Number(parsed.port) || (parsed.protocol === "https:" ? 443 : 80);
      target = {
        origin: parsed.origin,
        path: parsed.pathname + parsed.search,
        blockedLiteral: isIP(host) !== 0 && addressRejection(host, policies[environment], port) !== null,
      };
      if (targets.size >= MAX_TARGETS) targets.clear();
      targets.set(key, target);
    }
    return target;
  }

  return {
    send,
    abortAll() {
      for (const abort of inFlight.slice()) abort?.();
      listeners.abortAll();
    },
    async close() {
      await Promise.all([agents.test.close(), agents.live.close()]);
    },
  };
}

/** A URL taken apart once: parsing it per request showed in profiles. */
interface Target {
  origin: string;
  path: string;
  blockedLiteral: boolean;
}
const MAX_TARGETS = 10_000;

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
