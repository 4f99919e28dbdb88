/** The request bodies the benchmark sends, shared by the load generator and the ceiling processes. */

/** Size of one event as the producer sends it: `{"type":…,"data":{…}}`. */
export const EVENT_BYTES = 1024;

export const EVENT_TYPE = "bench.event";

/** One event of exactly EVENT_BYTES bytes (ASCII), unique by `seq`. */
export function eventJson(seq: number): string {
  const head = `{"type":"${EVENT_TYPE}","data":{"seq":${seq},"pad":"`;
  const tail = `"}}`;
  return head + "x".repeat(Math.max(0, EVENT_BYTES - head.length - tail.length)) + tail;
}

/**
 * One event of exactly EVENT_BYTES bytes whose data carries its scheduled send
 * time (`sched_ms`, see stats.monoMs), which Hookline passes through untouched,
 * so the receiver can measure latency from the schedule, not from the send.
 */
export function timedEventJson(type: string, seq: number, schedMs: number): string {
  const head = `{"type":"${type}","data":{"sched_ms":${schedMs.toFixed(4)},"seq":${seq},"pad":"`;
  const tail = `"}}`;
  return head + "x".repeat(Math.max(0, EVENT_BYTES - head.length - tail.length)) + tail;
}

/** The `sched_ms` a delivered body carries, or NaN (receiver side; no JSON.parse). */
export function schedOf(body: string): number {
  const at = body.indexOf(`"sched_ms":`);
  return at < 0 ? Number.NaN : Number.parseFloat(body.slice(at + 11, at + 40));
}

/** The `data` part of an event body made by eventJson or timedEventJson, as JSON text. */
export function dataOf(event: string): string {
  return event.slice(event.indexOf(`"data":`) + 7, -1);
}

/** The body of POST /v1/events/batch with `count` events starting at `firstSeq`. */
export function batchJson(firstSeq: number, count: number): string {
  const events: string[] = [];
  for (let i = 0; i < count; i++) events.push(eventJson(firstSeq + i));
  return `{"events":[${events.join(",")}]}`;
}

/**
 * A body shaped and sized like the one Hookline delivers for an `eventJson`
 * event, with the headers a delivery carries (the signature is a fixed
 * placeholder of the real length: the ceiling measures transport, not HMAC).
 */
export function deliveryLike(
  webhookId: string,
  seq: number,
  schedMs?: number,
): { body: string; headers: Record<string, string> } {
  const event = schedMs === undefined ? eventJson(seq) : timedEventJson(EVENT_TYPE, seq, schedMs);
  const data = dataOf(event);
  const body = `{"id":"${webhookId}","type":"${EVENT_TYPE}","created_at":"${new Date().toISOString()}","environment":"test","data":${data}}`;
  return {
    body,
    headers: {
      "content-type": "application/json",
      "user-agent": "Hookline-bench-ceiling/0",
      "webhook-id": webhookId,
      "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
      "webhook-signature": `v1,${"A".repeat(43)}=`,
    },
  };
}

/** Requests to receiver paths starting with this are read, recorded and never answered (receiver.ts). */
export const HANG_PREFIX = "/hang/";

/**
 * How the receiver's ledger knows a delivery: its path and webhook-id (one event
 * fanned out to many endpoints arrives with the same webhook-id on each path).
 */
export function deliveryKey(path: string, webhookId: string): string {
  return `${path} ${webhookId}`;
}
