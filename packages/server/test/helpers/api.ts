import assert from "node:assert/strict";
import { type ApiClient, apiClient, eventually, type Response } from "./client.ts";
import type { TestHookline } from "./hookline.ts";

/** Shared pieces for the end-to-end tests that talk to the HTTP API: its JSON shapes, assertions and pollers. */

/** An event as the API returns it. */
export interface EventJson {
  id: string;
  type: string;
  created_at: string;
  environment: string;
  data: Record<string, unknown>;
}

/** A delivery as the API returns it. */
export interface DeliveryJson {
  id: string;
  event_id: string;
  endpoint_id: string;
  status: string;
  attempt_count: number;
  scheduled_attempts: number;
  max_scheduled_attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
}

/** One entry of a delivery's attempt log. */
export interface AttemptJson {
  id: string;
  started_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_snippet: string | null;
}

/** Every error the API sends has this shape, with a machine code and a human message. */
export function assertError(response: Response, status: number, code?: string) {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  assert.deepEqual(Object.keys(response.body), ["error"]);
  assert.ok(typeof response.body.error.code === "string" && response.body.error.code.length > 0);
  assert.ok(typeof response.body.error.message === "string" && response.body.error.message.length > 0);
  if (code) assert.equal(response.body.error.code, code);
}

/**
 * Creates a fresh account with the admin client and returns its id and clients
 * for its TEST and LIVE keys. A fresh account per test keeps one test's
 * endpoints and fan-out away from the others.
 */
export async function newAccount(h: TestHookline, name: string) {
  const created = await h.admin.post("/v1/accounts", { name });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return {
    id: created.body.id as string,
    keys: created.body.keys as { test: string; live: string },
    test: apiClient(h.url, created.body.keys.test),
    live: apiClient(h.url, created.body.keys.live),
  };
}

/** The deliveries of one event (GET /v1/events/{id}/deliveries, first page). */
export async function deliveriesOf(client: ApiClient, eventId: string): Promise<DeliveryJson[]> {
  const list = await client.get(`/v1/events/${eventId}/deliveries`);
  assert.equal(list.status, 200, `deliveries of ${eventId}: ${JSON.stringify(list.body)}`);
  return list.body.data;
}

/** The attempt log of one delivery (GET /v1/deliveries/{id}/attempts, first page). */
export async function attemptsOf(client: ApiClient, deliveryId: string): Promise<AttemptJson[]> {
  const list = await client.get(`/v1/deliveries/${deliveryId}/attempts`);
  assert.equal(list.status, 200);
  return list.body.data;
}

/** Polls one delivery by id until `done` holds, and returns it. */
export function deliveryWhen(
  client: ApiClient,
  id: string,
  done: (d: DeliveryJson) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<DeliveryJson> {
  return eventually(
    async () => {
      const response = await client.get(`/v1/deliveries/${id}`);
      assert.equal(response.status, 200);
      return done(response.body) ? (response.body as DeliveryJson) : undefined;
    },
    timeoutMs,
    what,
  );
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

/** Waits until the event's delivery to `endpointId` is final (succeeded, failed or cancelled), and returns it. */
export function finalDelivery(
  client: ApiClient,
  eventId: string,
  endpointId: string,
  timeoutMs = 10_000,
): Promise<DeliveryJson> {
  return eventually(
    async () => {
      const found = (await deliveriesOf(client, eventId)).find((d) => d.endpoint_id === endpointId);
      return found && FINAL.has(found.status) ? found : undefined;
    },
    timeoutMs,
    `the delivery of ${eventId} to ${endpointId} to be final`,
  );
}
