import { Agent, request } from "undici";
import { notify, serveRpc } from "./ipc.ts";
import { batchJson, deliveryLike, eventJson, timedEventJson } from "./payloads.ts";
import { type LatencySummary, monoMs, round, summarize } from "./stats.ts";

/**
 * The load-generator process: closed-loop HTTP clients over undici, one
 * in-flight request per connection (S1, S2), an open-loop sender on a fixed
 * schedule (S4, S5), and raw deliveries straight to the receiver (the delivery
 * ceilings of S3 and S7). run.ts drives it over IPC (LoadApi).
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
  /** One path for every id, or one per id. */
  path: string | string[];
  ids: string[];
  connections: number;
  /**
   * Stamp each body with a send time (sched_ms), so the receiver measures latency:
   * "each" its own request's, "start" the moment the call began (a fan-out of one event).
   */
  stamp?: "each" | "start";
}

export interface OpenLoopParams {
  label: string;
  origin: string;
  key: string;
  /** Events per second, all together, after the warm-up: a fixed schedule, one event every 1/rate s. */
  rate: number;
  /**
   * Before the measured part, the rate ramps up from a tenth to `rate` over this
   * long (connections, JIT), so the measurement starts warm and without a
   * queue left by a cold start. Those events count in the ledger, not in latency.
   */
  warmupMs: number;
  durationMs: number;
  /** Event i has type types[i % types.length] (each endpoint subscribes to one type). */
  types: string[];
  connections: number;
  /** Give up waiting for answers this long after the last scheduled send. */
  answerTimeoutMs: number;
}

export interface OpenLoopResult {
  label: string;
  rate: number;
  scheduled: number;
  /** Events answered 202, with the index of their type. */
  accepted: number;
  ids: string[];
  typeIndex: number[];
  /** Non-202 outcomes: "http_<status>" or an error code, with counts. */
  errors: Record<string, number>;
  /** Scheduled events with no answer by the answer timeout. */
  unanswered: number;
  /** Monotonic ms (stats.monoMs) of the first scheduled send, the first one after the warm-up, and the last. */
  startMono: number;
  measureFromMono: number;
  endMono: number;
  /** Scheduled send time → 202, ms. */
  ingestLatency: LatencySummary | null;
  /** How late the generator itself issued a request after its scheduled time (its own lag, not the server's). */
  sendLag: LatencySummary | null;
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
  /**
   * Open loop: POST /v1/events on a fixed schedule whatever the answers, each
   * event stamped with its scheduled send time; waits for every answer.
   */
  openLoop(params: OpenLoopParams): Promise<OpenLoopResult>;
  /** One POST /v1/events stamped with its send time; resolves with the event id once accepted. */
  sendOne(params: {
    origin: string;
    key: string;
    type: string;
  }): Promise<{ id: string; schedMs: number; acceptedMs: number }>;
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
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  let requests = 0;
  const startedAt = performance.now();
  const startMono = monoMs();
  // The receiver may hold the first requests until the drain starts; their wait is not latency.
  let firstAnswerAt = Number.POSITIVE_INFINITY;

  async function client() {
    while (next < params.ids.length) {
      const seq = next++;
      const stamp = params.stamp === "each" ? monoMs() : params.stamp === "start" ? startMono : undefined;
      const { body, headers } = deliveryLike(params.ids[seq] as string, seq, stamp);
      const url = params.origin + (typeof params.path === "string" ? params.path : params.path[seq]);
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

const ID_PATTERN = /"id":"([^"]+)"/;

async function openLoop(params: OpenLoopParams): Promise<OpenLoopResult> {
  // As many connections as the server may need; beyond them, requests queue here and
  // that wait counts too, since latency runs from the scheduled time.
  const dispatcher = new Agent({ connections: params.connections, keepAliveTimeout: 30_000 });
  const url = `${params.origin}/v1/events`;
  const headers = { "content-type": "application/json", authorization: `Bearer ${params.key}` };
  const interval = 1000 / params.rate;
  // The schedule, as offsets from the start: the ramp, then the fixed rate.
  const offsets: number[] = [];
  for (let t = 0; t < params.warmupMs; ) {
    offsets.push(t);
    t += interval / (0.1 + (0.9 * t) / params.warmupMs);
  }
  const measured = Math.max(1, Math.round((params.rate * params.durationMs) / 1000));
  for (let i = 0; i < measured; i++) offsets.push(params.warmupMs + i * interval);
  const total = offsets.length;
  const startMono = monoMs() + 20;
  const schedule = (i: number) => startMono + (offsets[i] as number);
  const ids: string[] = [];
  const typeIndex: number[] = [];
  const ingestLatency: number[] = [];
  const sendLag: number[] = [];
  const errors: Record<string, number> = {};
  let answered = 0;
  let next = 0;
  const endMono = schedule(total - 1);
  const measureFromMono = startMono + params.warmupMs;

  let allAnswered: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allAnswered = resolve;
  });

  async function send(seq: number, sched: number) {
    const type = seq % params.types.length;
    const body = timedEventJson(params.types[type] as string, seq, sched);
    if (sched >= measureFromMono) sendLag.push(monoMs() - sched);
    try {
      const response = await request(url, { method: "POST", headers, body, dispatcher });
      const text = await response.body.text();
      if (response.statusCode === 202) {
        if (sched >= measureFromMono) ingestLatency.push(monoMs() - sched);
        ids.push(ID_PATTERN.exec(text)?.[1] ?? "?");
        typeIndex.push(type);
      } else {
        errors[`http_${response.statusCode}`] = (errors[`http_${response.statusCode}`] ?? 0) + 1;
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).name;
      errors[code] = (errors[code] ?? 0) + 1;
    }
    if (++answered === total) allAnswered();
  }

  // Every millisecond (or as soon as the loop is free), send everything that is due by now.
  const tick = () => {
    const now = monoMs();
    while (next < total && schedule(next) <= now) {
      void send(next, schedule(next));
      next++;
    }
    if (next < total) setTimeout(tick, Math.max(0, Math.min(1, schedule(next) - monoMs())));
  };
  const progress = setInterval(() => {
    const elapsed = Math.max(0, monoMs() - startMono);
    notify("progress", {
      label: params.label,
      phase: next < total ? "send" : "answers",
      elapsedMs: elapsed,
      totalMs: params.warmupMs + params.durationMs,
      events: next,
      answered,
    });
  }, PROGRESS_EVERY_MS);
  setTimeout(tick, 20);

  const waitLimit = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (next === total && monoMs() > endMono + params.answerTimeoutMs) {
        clearInterval(timer);
        resolve();
      }
    }, 100);
    void done.then(() => {
      clearInterval(timer);
      resolve();
    });
  });
  await waitLimit;
  clearInterval(progress);
  // Whatever is still waiting now counts as unanswered, not as the errors its cancellation raises.
  const unanswered = total - answered;
  const errorsAtLimit = { ...errors };
  await dispatcher.destroy();
  return {
    label: params.label,
    rate: params.rate,
    scheduled: total,
    accepted: ids.length,
    ids,
    typeIndex,
    errors: errorsAtLimit,
    unanswered,
    startMono,
    measureFromMono,
    endMono,
    ingestLatency: summarize(ingestLatency),
    sendLag: summarize(sendLag),
  };
}

async function sendOne(params: { origin: string; key: string; type: string }) {
  const schedMs = monoMs();
  const response = await request(`${params.origin}/v1/events`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${params.key}` },
    body: timedEventJson(params.type, nextSeq++, schedMs),
  });
  const text = await response.body.text();
  if (response.statusCode !== 202) throw new Error(`POST /v1/events got ${response.statusCode}: ${text}`);
  return { id: ID_PATTERN.exec(text)?.[1] ?? "?", schedMs, acceptedMs: monoMs() };
}

serveRpc<LoadApi>({ run, publish, deliver, openLoop, sendOne });
notify("ready");
