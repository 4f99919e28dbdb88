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
export function deliveryLike(webhookId: string, seq: number): { body: string; headers: Record<string, string> } {
  const event = eventJson(seq);
  const data = event.slice(event.indexOf(`"data":`) + 7, -1);
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
