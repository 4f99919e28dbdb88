import WebSocket from "ws";
import { REPLACED_CLOSE_CODE } from "../delivery/listen-hub.ts";
import { HooklineError } from "../errors.ts";

export interface ListenOptions {
  apiUrl: string;
  apiKey: string | undefined;
  /** `PATTERN=URL` rules, first match wins; `*` in a pattern matches anything. */
  forward: string[];
  /** Only these event types (comma-separated), or every type. */
  events: string | undefined;
}

export interface ListenIo {
  print(line: string): void;
  /** Calls `stop` on Ctrl-C (or SIGTERM). */
  onInterrupt(stop: () => void): void;
}

interface Route {
  pattern: RegExp;
  url: string;
}

/** How long the local server has to answer; the server's own deadline is the outer bound. */
const LOCAL_TIMEOUT_MS = 10_000;
const SNIPPET_BYTES = 4096;
const BACKOFF_MS = [1000, 2000, 5000, 10_000, 30_000];

/**
 * `hookline listen`: relays the account's TEST events to local URLs over a
 * WebSocket, no tunnel needed. Each local answer goes back to Hookline as the
 * attempt's outcome. Reconnects with backoff; resolves when interrupted.
 */
export async function listen(options: ListenOptions, io: ListenIo): Promise<void> {
  if (!options.apiKey) {
    throw new HooklineError("missing_api_key", "no API key: pass --api-key or set HOOKLINE_API_KEY (a TEST key)");
  }
  const routes = options.forward.map(parseRoute);
  if (routes.length === 0) {
    throw new HooklineError("invalid_argument", "say where events go: --forward-to <url> or --forward <type>=<url>");
  }
  const endpoint = new URL("/v1/listen", options.apiUrl);
  endpoint.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";
  if (options.events) endpoint.searchParams.set("events", options.events);

  let stopping = false;
  let socket: WebSocket | null = null;
  let retry: NodeJS.Timeout | null = null;
  let failures = 0;

  return new Promise<void>((resolve, reject) => {
    io.onInterrupt(() => {
      stopping = true;
      if (retry) clearTimeout(retry);
      if (socket && socket.readyState !== WebSocket.CLOSED) socket.close(1000, "hookline listen stopped");
      else resolve();
      io.print("Stopped.");
    });

    const connect = () => {
      const ws = new WebSocket(endpoint, { headers: { authorization: `Bearer ${options.apiKey}` } });
      socket = ws;
      let fatal: HooklineError | null = null;
      ws.on("unexpected-response", (_request, response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk;
        });
        response.on("end", () => {
          const status = response.statusCode ?? 0;
          const message = errorMessage(text) ?? `HTTP ${status}`;
          // A refused key or request will not get better by retrying.
          if (status >= 400 && status < 500) fatal = new HooklineError("listen_refused", message, { status });
          else io.print(`The server answered ${status}: ${message}`);
          ws.terminate();
        });
      });
      ws.on("open", () => {
        failures = 0;
      });
      ws.on("message", (data) => void handle(ws, String(data)));
      ws.on("error", () => {
        // The close that follows says what to do.
      });
      ws.on("close", (code, reason) => {
        if (fatal) return reject(fatal);
        // Pushed out by newer sessions of the same account: reconnecting would push out another.
        if (code === REPLACED_CLOSE_CODE) return reject(new HooklineError("listen_replaced", String(reason)));
        if (stopping) return resolve();
        const delay = BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)] as number;
        io.print(`Not connected to ${options.apiUrl}; trying again in ${delay / 1000} s…`);
        retry = setTimeout(connect, delay);
      });
    };
    connect();
  });

  async function handle(ws: WebSocket, text: string) {
    let message: { type?: string; [key: string]: unknown };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "ready") {
      const types = Array.isArray(message.events) ? (message.events as string[]).join(", ") : "all event types";
      io.print(`Ready: TEST events (${types}) are forwarded to ${routes.map((r) => r.url).join(", ")}.`);
      io.print(`Your webhook signing secret is ${message.secret} (it stays the same across restarts).`);
      return;
    }
    if (message.type !== "attempt" || typeof message.attempt_id !== "string") return;
    const headers = (message.headers ?? {}) as Record<string, string>;
    const body = typeof message.body === "string" ? message.body : "";
    const event = eventOf(body);
    const route = routes.find((r) => r.pattern.test(event.type));
    const started = performance.now();
    const result = route ? await post(route.url, headers, body) : { error: "no_route" as const };
    const ms = Math.round(performance.now() - started);
    const time = new Date().toTimeString().slice(0, 8);
    if ("status" in result) {
      io.print(`${time}  ${event.type}  ${event.id}  → ${result.status}  ${ms} ms  ${route?.url}`);
      send(ws, { type: "result", attempt_id: message.attempt_id, status: result.status, body: result.body });
    } else if (result.error === "no_route") {
      io.print(`${time}  ${event.type}  ${event.id}  → no --forward rule matches; answered 404`);
      send(ws, { type: "result", attempt_id: message.attempt_id, status: 404, body: "no --forward rule matches" });
    } else {
      io.print(`${time}  ${event.type}  ${event.id}  → ${result.error}: ${result.detail}  ${route?.url}`);
      send(ws, { type: "result", attempt_id: message.attempt_id, error: result.error });
    }
  }
}

function send(ws: WebSocket, message: unknown) {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

/** POSTs to the local server; its status and the start of its answer, or why it could not be reached. */
async function post(url: string, headers: Record<string, string>, body: string) {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(LOCAL_TIMEOUT_MS),
    });
    const text = (await response.text()).slice(0, SNIPPET_BYTES);
    return { status: response.status, body: text };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if ((error as Error).name === "TimeoutError") return { error: "timeout" as const, detail: "no answer in 10 s" };
    return { error: "connect" as const, detail: cause?.code ?? (error as Error).message };
  }
}

function eventOf(body: string): { id: string; type: string } {
  try {
    const parsed = JSON.parse(body) as { id?: unknown; type?: unknown };
    return { id: String(parsed.id), type: String(parsed.type) };
  } catch {
    return { id: "?", type: "?" };
  }
}

/** `transfer.*=http://localhost:3000/a`, or a bare URL for every event. */
export function parseRoute(rule: string): Route {
  const at = rule.indexOf("=");
  const [pattern, url] =
    at > 0 && !rule.slice(0, at).includes("/") ? [rule.slice(0, at), rule.slice(at + 1)] : ["*", rule];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HooklineError("invalid_argument", `--forward ${rule}: ${url} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new HooklineError("invalid_argument", `--forward ${rule}: only http and https URLs`);
  }
  const source = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return { pattern: new RegExp(`^${source}$`), url };
}

function errorMessage(text: string): string | null {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? null;
  } catch {
    return null;
  }
}
