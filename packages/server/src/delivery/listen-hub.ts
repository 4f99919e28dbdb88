import type { AttemptError, Claim } from "../store/store.ts";
import type { Reply } from "./http-sender.ts";

/** What the hub needs of a WebSocket. */
export interface ListenerSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
}

export interface ListenerSession {
  /** A message from the CLI (the result of an attempt). */
  receive(text: string): void;
  /** The socket closed: attempts waiting on it end as `reset`. */
  detach(): void;
}

export interface ListenHub {
  /** A `hookline listen` session for this listen endpoint; the newest one gets the attempts. */
  attach(endpointId: string, socket: ListenerSocket): ListenerSession;
  /** Sends one attempt to the endpoint's listener and waits for the local server's answer. */
  relay(claim: Claim, headers: Record<string, string>, timeoutMs: number): Promise<Reply>;
  /** The listen endpoints with a session on this process. */
  endpointIds(): string[];
  /** Ends every relayed attempt at once as aborted (shutdown). */
  abortAll(): void;
  /** The server is stopping: sockets closing from now on hand their attempts back (aborted), not failed. */
  shutdown(): void;
}

const ATTEMPT_ERRORS = new Set<string>(["timeout", "connect", "dns", "blocked", "tls", "reset", "too_large"]);
/**
 * Sessions kept per listen endpoint: only the newest gets attempts, so older ones are only kept
 * for a moment's overlap (a restarted `hookline listen`); past this many the oldest is closed.
 */
export const MAX_SESSIONS_PER_ENDPOINT = 5;
/** The close code a session gets when a newer one pushes it out. */
export const REPLACED_CLOSE_CODE = 4001;

/**
 * Delivery to listen endpoints: instead of an HTTP POST, the attempt goes over
 * the WebSocket of a connected `hookline listen`, which POSTs it to the
 * developer's local server and sends back the status. From the dispatcher's
 * side it is an attempt like any other: same deadline, outcome and retries.
 */
export function createListenHub(options: { maxResponseBytes: number }): ListenHub {
  interface Waiting {
    socket: ListenerSocket;
    settle(reply: Reply): void;
  }
  const sockets = new Map<string, ListenerSocket[]>();
  const waiting = new Map<string, Waiting>();
  let nextAttempt = 1;
  let stopping = false;

  return {
    attach(endpointId, socket) {
      const attached = [...(sockets.get(endpointId) ?? []), socket];
      const kept = attached.slice(-MAX_SESSIONS_PER_ENDPOINT);
      sockets.set(endpointId, kept);
      // Out of the list at once; their close handlers then detach them (ending attempts still on them).
      for (const oldest of attached.slice(0, -MAX_SESSIONS_PER_ENDPOINT)) {
        oldest.close(REPLACED_CLOSE_CODE, "a newer hookline listen session for this account replaced this one");
      }
      return {
        receive(text) {
          const message = parse(text);
          const entry = message && waiting.get(message.attemptId);
          if (!message || !entry || entry.socket !== socket) return;
          entry.settle(message.reply);
        },
        detach() {
          const left = (sockets.get(endpointId) ?? []).filter((s) => s !== socket);
          if (left.length) sockets.set(endpointId, left);
          else sockets.delete(endpointId);
          const ended: Reply = stopping ? "aborted" : { error: "reset" };
          for (const entry of [...waiting.values()]) if (entry.socket === socket) entry.settle(ended);
        },
      };
    },

    endpointIds: () => [...sockets.keys()],

    relay(claim, headers, timeoutMs) {
      const socket = sockets.get(claim.endpointId)?.at(-1);
      if (!socket) return Promise.resolve({ error: "listener_offline" });
      const attemptId = `${claim.deliveryId}.${nextAttempt++}`;
      return new Promise<Reply>((resolve) => {
        const timer = setTimeout(() => settle({ error: "timeout" }), timeoutMs);
        const settle = (reply: Reply) => {
          if (!waiting.delete(attemptId)) return;
          clearTimeout(timer);
          resolve(reply);
        };
        waiting.set(attemptId, { socket, settle });
        socket.send(JSON.stringify({ type: "attempt", attempt_id: attemptId, headers, body: claim.body }));
      });
    },

    abortAll() {
      for (const entry of [...waiting.values()]) entry.settle("aborted");
    },

    shutdown() {
      stopping = true;
    },
  };

  /** A result from the CLI: `{type: "result", attempt_id, status}` or `{…, error}`; anything else is ignored. */
  function parse(text: string): { attemptId: string; reply: Reply } | null {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text);
    } catch {
      return null;
    }
    if (message?.type !== "result" || typeof message.attempt_id !== "string") return null;
    const status = message.status;
    if (typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 599) {
      const body = typeof message.body === "string" ? message.body.slice(0, options.maxResponseBytes) : "";
      return { attemptId: message.attempt_id, reply: { statusCode: status, body, retryAfter: undefined } };
    }
    const error = typeof message.error === "string" && ATTEMPT_ERRORS.has(message.error) ? message.error : "connect";
    return { attemptId: message.attempt_id, reply: { error: error as AttemptError } };
  }
}
