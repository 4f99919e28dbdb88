import { Agent, request } from "undici";
import { notify, serveRpc } from "./ipc.ts";
import { batchJson, deliveryLike, eventJson } from "./payloads.ts";
import { type LatencySummary, round, summarize } from "./stats.ts";

/**
 * The load-generator process: closed-loop HTTP clients over undici, one
 * in-flight request per connection. run.ts drives it over IPC (LoadApi).
 */

export interface RunParams {
  /** Names the run in progress notices, e.g. "ingest/hookline". */
  label: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
  /** Events per request: 1 posts eventJson bodies, more posts batchJson bodies. */
  eventsPerRequest: number;
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** The status that counts as accepted. */
  expectStatus: number;
}

export interface RunResult {
  label: string;
  connections: number;
  windowMs: number;
  requests: number;
  events: number;
  eventsPerS: number;
  requestsPerS: number;
  /** Non-accepted outcomes during the window: "http_<status>" or an error code, with counts. */
  errors: Record<string, number>;
  latency: LatencySummary | null;
}

export interface PublishParams {
  origin: string;
  key: string;
  count: number;
  batchSize: number;
  connections: number;
}

export interface DeliverParams {
  origin: string;
  path: string;
  ids: string[];
  connections: number;
}

export interface DeliverResult {
  requests: number;
  elapsedMs: number;
  errors: Record<string, number>;
  latency: LatencySummary | null;
}

export interface LoadApi {
  /** Fixed-duration closed-loop load (ingest scenarios and their ceiling). */
  run(params: RunParams): Promise<RunResult>;
  /** Publishes `count` events through POST /v1/events/batch and returns their ids. */
  publish(params: PublishParams): Promise<{ ids: string[]; elapsedMs: number }>;
  /**
   * POSTs one delivery-like request per id straight to a receiver (the delivery
   * ceiling). Latency counts only requests sent after the first answer.
   */
  deliver(params: DeliverParams): Promise<DeliverResult>;
}

const PROGRESS_EVERY_MS = 1000;

let nextSeq = 0;

async function run(params: RunParams): Promise<RunResult> {
  const dispatcher = new Agent({ connections: params.connections, keepAliveTimeout: 30_000 });
  const url = params.origin + params.path;
  const headers = { "content-type": "application/json", ...params.headers };
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let measuring = false;
  let stopping = false;
  let windowStart = 0;
  let windowEnd = 0;
  let requests = 0;

  const startedAt = performance.now();
  const progress = setInterval(() => {
    const elapsed = performance.now() - (measuring ? windowStart : startedAt);
    notify("progress", {
      label: params.label,
      phase: measuring ? "measure" : "warmup",
      elapsedMs: elapsed,
      totalMs: measuring ? params.durationMs : params.warmupMs,
      events: requests * params.eventsPerRequest,
    });
  }, PROGRESS_EVERY_MS);
  const warmup = setTimeout(() => {
    measuring = true;
    windowStart = performance.now();
    notify("window", { label: params.label, edge: "start" });
  }, params.warmupMs);
  const end = setTimeout(() => {
    stopping = true;
    windowEnd = performance.now();
    notify("window", { label: params.label, edge: "end" });
  }, params.warmupMs + params.durationMs);

  async function client() {
    while (!stopping) {
      const seq = nextSeq;
      nextSeq += params.eventsPerRequest;
      const body = params.eventsPerRequest === 1 ? eventJson(seq) : batchJson(seq, params.eventsPerRequest);
      const sentAt = performance.now();
      let outcome: string;
      try {
        const response = await request(url, { method: "POST", headers, body, dispatcher });
        await response.body.text();
        outcome = response.statusCode === params.expectStatus ? "ok" : `http_${response.statusCode}`;
      } catch (error) {
        outcome = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
      }
      // Only requests that finish inside the window count, so warm-up and the tail are left out.
      const counted = measuring && !stopping;
      if (outcome === "ok") {
        if (counted) {
          requests++;
          latencies.push(performance.now() - sentAt);
        }
      } else {
        if (counted) errors[outcome] = (errors[outcome] ?? 0) + 1;
        // A refused or broken connection fails at once; do not spin on it.
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: params.connections }, client));
  } finally {
    clearInterval(progress);
    clearTimeout(warmup);
    clearTimeout(end);
    await dispatcher.close();
  }
  const windowMs = windowEnd - windowStart;
  return {
    label: params.label,
    connections: params.connections,
    windowMs: round(windowMs, 1),
    requests,
    events: requests * params.eventsPerRequest,
    eventsPerS: round((requests * params.eventsPerRequest * 1000) / windowMs, 1),
    requestsPerS: round((requests * 1000) / windowMs, 1),
    errors,
    latency: summarize(latencies),
  };
}

async function publish(params: PublishParams): Promise<{ ids: string[]; elapsedMs: number }> {
  const dispatcher = new Agent({ connections: params.connections, keepAliveTimeout: 30_000 });
  const headers = { "content-type": "application/json", authorization: `Bearer ${params.key}` };
  const ids: string[] = [];
  let remaining = params.count;
  const startedAt = performance.now();

  async function client() {
    while (remaining > 0) {
      const count = Math.min(params.batchSize, remaining);
      remaining -= count;
      const body = batchJson(nextSeq, count);
      nextSeq += count;
      const response = await request(`${params.origin}/v1/events/batch`, { method: "POST", headers, body, dispatcher });
      const text = await response.body.text();
      if (response.statusCode !== 202) throw new Error(`publishing a batch got ${response.statusCode}: ${text}`);
      for (const event of (JSON.parse(text) as { data: { id: string }[] }).data) ids.push(event.id);
    }
  }

  try {
    await Promise.all(Array.from({ length: params.connections }, client));
  } finally {
    await dispatcher.close();
  }
  return { ids, elapsedMs: round(performance.now() - startedAt, 1) };
}

async function deliver(params: DeliverParams): Promise<DeliverResult> {
  // The same client shape as Hookline's dispatcher: undici.request over a keep-alive Agent.
  const dispatcher = new Agent({ connections: params.connections, keepAliveTimeout: 30_000 });
  const url = params.origin + params.path;
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  let requests = 0;
  const startedAt = performance.now();
  // The receiver may hold the first requests until the drain starts; their wait is not latency.
  let firstAnswerAt = Number.POSITIVE_INFINITY;

  async function client() {
    while (next < params.ids.length) {
      const seq = next++;
      const { body, headers } = deliveryLike(params.ids[seq] as string, seq);
      const sentAt = performance.now();
      try {
        const response = await request(url, { method: "POST", headers, body, dispatcher });
        await response.body.text();
        const answeredAt = performance.now();
        firstAnswerAt = Math.min(firstAnswerAt, answeredAt);
        if (response.statusCode >= 200 && response.statusCode < 300) {
          requests++;
          if (sentAt >= firstAnswerAt) latencies.push(answeredAt - sentAt);
        } else {
          errors[`http_${response.statusCode}`] = (errors[`http_${response.statusCode}`] ?? 0) + 1;
        }
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: params.connections }, client));
  } finally {
    await dispatcher.close();
  }
  return { requests, elapsedMs: round(performance.now() - startedAt, 1), errors, latency: summarize(latencies) };
}

serveRpc<LoadApi>({ run, publish, deliver });
notify("ready");
