import { allPages, api, type Scope } from "./api.ts";
import type { Attempt, Delivery } from "./api-types.ts";

export type TestDeliveryResult =
  | { outcome: "delivered" | "failed"; attempt: Attempt; delivery: Delivery }
  | { outcome: "no-attempt-yet"; delivery: Delivery | null };

const POLL_MS = 1000;
const GIVE_UP_MS = 30_000;

const hasOutcome = (delivery: Delivery) =>
  delivery.status === "succeeded" ||
  delivery.status === "failed" ||
  delivery.status === "cancelled" ||
  (delivery.status === "pending" && delivery.attempt_count > 0);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  });

/**
 * Polls a test event's delivery to `endpointId` every second until its first attempt has an
 * outcome (a failed one leaves it pending, waiting for a retry) or 30 s have passed.
 */
export async function waitForTestDelivery(
  scope: Scope,
  eventId: string,
  endpointId: string,
  signal: AbortSignal,
): Promise<TestDeliveryResult> {
  const deadline = Date.now() + GIVE_UP_MS;
  let delivery: Delivery | null = null;
  while (!signal.aborted) {
    const deliveries = await api.listEventDeliveries(scope, eventId, undefined, signal);
    delivery = deliveries.data.find((candidate) => candidate.endpoint_id === endpointId) ?? null;
    if (delivery && hasOutcome(delivery)) {
      const found = delivery;
      const attempts = await allPages((after) => api.listAttempts(scope, found.id, after, signal));
      const attempt = attempts.at(-1);
      if (attempt) {
        const ok = attempt.status_code !== null && attempt.status_code >= 200 && attempt.status_code < 300;
        return { outcome: ok && !attempt.error ? "delivered" : "failed", attempt, delivery };
      }
    }
    if (Date.now() >= deadline) break;
    await sleep(POLL_MS, signal);
  }
  return { outcome: "no-attempt-yet", delivery };
}
