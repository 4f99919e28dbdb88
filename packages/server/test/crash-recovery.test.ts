import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { describe, it } from "node:test";
import { hashKey } from "../src/ids.ts";
import { createSqliteStore } from "../src/store/sqlite/sqlite-store.ts";
import type { Claim, ClaimRequest, Outcome, Scope } from "../src/store/store.ts";
import { deliveriesOf } from "./helpers/api.ts";
import { apiClient, eventually } from "./helpers/client.ts";
import { tempDir } from "./helpers/hookline.ts";
import { printedKeys, type ServerProcess, spawnServer } from "./helpers/process.ts";
import { answer, type ReceivedRequest, type Receiver, startReceiver } from "./helpers/receiver.ts";
import { endpointInput } from "./helpers/store-kit.ts";

/**
 * Crash recovery: what survives a kill -9, when leased work comes back, and
 * what a graceful stop (SIGTERM) finishes or gives back.
 */

/** One test's world: a data dir, the servers and receivers it started; `cleanup` stops them all. */
function harness() {
  const dir = tempDir("hookline-crash-");
  const servers: ServerProcess[] = [];
  const receivers: Receiver[] = [];
  const timers = new Set<NodeJS.Timeout>();
  return {
    dir: dir.path,
    async spawn(env: Record<string, string>) {
      const server = await spawnServer(dir.path, env);
      servers.push(server);
      return server;
    },
    async receiver() {
      const receiver = await startReceiver();
      receivers.push(receiver);
      return receiver;
    },
    /** setTimeout that cleanup clears, so no held response outlives the test. */
    later(ms: number, fn: () => void) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        fn();
      }, ms);
      timers.add(timer);
    },
    async cleanup() {
      for (const timer of timers) clearTimeout(timer);
      for (const server of servers) {
        if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
        await server.exited;
      }
      for (const receiver of receivers) await receiver.close();
      dir.remove();
    },
  };
}

/** Resolves like `promise`, or rejects once `ms` have passed, so a hung process cannot hang the test. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function kill9(server: ServerProcess) {
  server.child.kill("SIGKILL");
  assert.equal(await within(server.exited, 10_000, "the killed server to exit"), "SIGKILL");
}

/** Records which requests got a complete 2xx answer (the response left the receiver). */
function answeredTracker() {
  const answered = new Set<ReceivedRequest>();
  return {
    answered,
    track(request: ReceivedRequest, res: ServerResponse) {
      res.on("finish", () => {
        if (res.statusCode >= 200 && res.statusCode < 300) answered.add(request);
      });
    },
  };
}

const webhookId = (request: ReceivedRequest) => String(request.headers["webhook-id"]);

/** Runs `work` over `items` with at most `width` running at once. */
async function inChunks<T, R>(items: T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) {
    results.push(...(await Promise.all(items.slice(i, i + width).map(work))));
  }
  return results;
}

describe("crash recovery", () => {
  it("kill -9 with 500 deliveries in flight: every event is delivered after restart, duplicates bounded and identical", async (t) => {
    const h = harness();
    try {
      const env = {
        HOOKLINE_ATTEMPT_TIMEOUT: "2500ms",
        HOOKLINE_LEASE: "3s",
        HOOKLINE_RETRY_SCHEDULE: "200ms,200ms",
        HOOKLINE_MAX_IN_FLIGHT_PER_ENDPOINT: "600",
        HOOKLINE_CONCURRENCY: "512",
      };
      const receiver = await h.receiver();
      const tracker = answeredTracker();
      // Slow receiver: holds every request ~1.5 s before answering 200.
      receiver.respondWith((request, res) => {
        tracker.track(request, res);
        h.later(1500, () => {
          res.statusCode = 200;
          res.end();
        });
      });

      const first = await h.spawn(env);
      const keys = printedKeys(first.stdout());
      assert.match(keys.test, /^hl_test_/);
      let client = apiClient(first.url, keys.test);
      const endpoint = await client.post("/v1/endpoints", { url: `${receiver.url}/hooks` });
      assert.equal(endpoint.status, 201);

      const N = 500;
      const events = Array.from({ length: N }, (_, i) => ({ type: "transfer.completed", data: { n: i } }));
      const sent = await client.post("/v1/events/batch", { events });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const ids: string[] = sent.body.data.map((e: { id: string }) => e.id);
      assert.equal(new Set(ids).size, N);

      // All 500 requests have reached the receiver, which holds each for 1.5 s: kill -9 with them in flight.
      await receiver.waitFor(N, 15_000);
      const answeredBeforeKill = tracker.answered.size;
      await kill9(first);
      const beforeRestart = receiver.requests.length;
      assert.equal(beforeRestart, N, "no request beyond the 500 was sent before the kill");
      assert.ok(answeredBeforeKill < N, "the kill must interrupt requests still in flight");

      receiver.respondWith((request, res) => {
        tracker.track(request, res);
        answer(204)(request, res);
      });
      const second = await h.spawn(env);
      client = apiClient(second.url, keys.test);

      // Each event gets a 2xx from the receiver...
      await eventually(
        () => {
          const acknowledged = new Set([...tracker.answered].map(webhookId));
          return ids.every((id) => acknowledged.has(id)) ? true : undefined;
        },
        20_000,
        "every event acknowledged by the receiver",
      );
      // ...and the API shows every delivery succeeded.
      await inChunks(ids, 50, (id) =>
        eventually(
          async () => {
            const deliveries = await deliveriesOf(client, id);
            assert.equal(deliveries.length, 1);
            return deliveries[0]?.status === "succeeded" ? true : undefined;
          },
          10_000,
          `delivery of ${id} succeeded`,
        ),
      );

      const requests = receiver.requests;
      assert.ok(requests.length > beforeRestart, "in-flight deliveries were sent again after the restart");
      const known = new Set(ids);
      const byEvent = new Map<string, ReceivedRequest[]>();
      for (const request of requests) {
        const eventId = JSON.parse(request.body).id as string;
        assert.ok(known.has(eventId), `unexpected event ${eventId}`);
        const list = byEvent.get(eventId) ?? [];
        list.push(request);
        byEvent.set(eventId, list);
      }
      assert.equal(byEvent.size, N, "no event missing");
      const duplicates = requests.length - N;
      t.diagnostic(`answered before the kill: ${answeredBeforeKill}, duplicates: ${duplicates}`);
      assert.ok(duplicates <= N, `duplicates (${duplicates}) must not exceed the ${N} requests in flight at the kill`);
      for (const [eventId, list] of byEvent) {
        const [firstRequest] = list as [ReceivedRequest];
        for (const request of list) {
          assert.equal(webhookId(request), eventId, "webhook-id is the event id on every request");
          assert.equal(request.body, firstRequest.body, "every duplicate carries the identical body");
        }
      }
    } finally {
      await h.cleanup();
    }
  });

  it("every 202 survives a kill -9 that follows it", async () => {
    const h = harness();
    try {
      const receiver = await h.receiver();
      const first = await h.spawn({});
      const keys = printedKeys(first.stdout());
      let client = apiClient(first.url, keys.test);
      const endpoint = await client.post("/v1/endpoints", { url: receiver.url });
      assert.equal(endpoint.status, 201);

      const N = 200;
      const responses = await Promise.all(
        Array.from({ length: N }, (_, i) => client.post("/v1/events", { type: "order.paid", data: { i } })),
      );
      await kill9(first);
      for (const response of responses) assert.equal(response.status, 202, JSON.stringify(response.body));
      const accepted = responses.map((r) => r.body as { id: string; type: string; data: { i: number } });
      assert.equal(new Set(accepted.map((e) => e.id)).size, N);

      const second = await h.spawn({});
      client = apiClient(second.url, keys.test);
      await inChunks(accepted, 50, async (event) => {
        const read = await client.get(`/v1/events/${event.id}`);
        assert.equal(read.status, 200, `event ${event.id} acknowledged with 202 was lost`);
        assert.deepEqual(read.body, event);
        // The fan-out was committed with the event.
        const deliveries = await deliveriesOf(client, event.id);
        assert.equal(deliveries.length, 1, `event ${event.id} lost its delivery`);
        assert.equal(deliveries[0]?.endpoint_id, endpoint.body.id);
      });
    } finally {
      await h.cleanup();
    }
  });

  it("a delivery claimed by a process killed mid-request is attempted again only after its lease", async (t) => {
    const h = harness();
    try {
      const leaseMs = 3000;
      const env = { HOOKLINE_ATTEMPT_TIMEOUT: "2s", HOOKLINE_LEASE: `${leaseMs}ms`, HOOKLINE_RETRY_SCHEDULE: "200ms" };
      const receiver = await h.receiver();
      receiver.respondWith(() => {}); // hangs: the attempt is mid-request when the process dies
      const first = await h.spawn(env);
      const keys = printedKeys(first.stdout());
      let client = apiClient(first.url, keys.test);
      const endpoint = await client.post("/v1/endpoints", { url: receiver.url });
      assert.equal(endpoint.status, 201);
      const sent = await client.post("/v1/events", { type: "transfer.completed", data: { amount: 1 } });
      assert.equal(sent.status, 202);

      const [firstRequest] = await receiver.waitFor(1);
      assert.ok(firstRequest);
      await kill9(first);
      receiver.respondWith(answer(204));
      const second = await h.spawn(env);
      client = apiClient(second.url, keys.test);

      const [, again] = await receiver.waitFor(2, leaseMs + 10_000);
      assert.ok(again);
      const gap = again.receivedAt - firstRequest.receivedAt;
      t.diagnostic(`re-attempted ${gap} ms after the first request (lease ${leaseMs} ms)`);
      assert.ok(gap >= leaseMs - 250, `re-attempted ${gap} ms after the first request, before the ${leaseMs} ms lease`);
      assert.ok(gap <= leaseMs + 5000, `re-attempted only ${gap} ms after the first request`);
      assert.equal(webhookId(again), sent.body.id);
      assert.equal(again.body, firstRequest.body);

      const delivery = await eventually(async () => {
        const [d] = await deliveriesOf(client, sent.body.id);
        return d?.status === "succeeded" ? d : undefined;
      });
      // The killed attempt never finished, so it left nothing in the log.
      assert.equal(delivery.attempt_count, 1);
      const attempts = await client.get(`/v1/deliveries/${delivery.id}/attempts`);
      assert.deepEqual(
        attempts.body.data.map((a: { status_code: number | null; error: string | null }) => [a.status_code, a.error]),
        [[204, null]],
      );
      assert.equal(receiver.requests.length, 2);
    } finally {
      await h.cleanup();
    }
  });

  it("an outcome recorded by a worker whose lease was lost is discarded (store level)", async () => {
    const dir = tempDir("hookline-lease-");
    const store = createSqliteStore(dir.path);
    try {
      const t0 = 1_800_000_000_000;
      const account = await store.createAccount(
        "Lease",
        { test: hashKey("hl_test_lease"), live: hashKey("hl_live_lease") },
        t0,
      );
      const scope: Scope = { accountId: account.id, environment: "test" };
      const endpoint = await store.createEndpoint(scope, endpointInput("http://127.0.0.1:9/hooks"), t0);
      const {
        results: [ingested],
      } = await store.ingest(
        [{ scope, events: [{ type: "transfer.completed", dataJson: '{"amount":5}', idempotencyKey: null }] }],
        t0,
      );
      assert.ok(ingested?.ok);
      const eventId = ingested.events[0]?.event.id as string;

      const leaseMs = 1000;
      const claimAt = (now: number): ClaimRequest => ({
        now,
        limit: 10,
        leaseMs,
        excludeEndpoints: [],
        room: new Map(),
        held: new Map(),
        node: "test-node",
        listenersOnly: false,
        defaultMaxInFlight: 20,
      });
      const succeeded = (claim: Claim, startedAt: number): Outcome => ({
        claim,
        attempt: {
          startedAt,
          durationMs: 10,
          statusCode: 200,
          error: null,
          responseSnippet: "",
          requestHeaders: { "webhook-id": claim.eventId },
          trigger: "scheduled",
        },
        status: "succeeded",
        scheduledAttempts: claim.scheduledAttempts + 1,
        nextAttemptAt: null,
        disableEndpoint: null,
        disableIfFailingSince: null,
        keepSnippets: 10,
      });

      // Each worker step is one settle: claim only, or record only.
      const claim = async (request: ReturnType<typeof claimAt>) =>
        (await store.settle([], request, request.now)).claims;
      const record = async (outcomes: Parameters<typeof store.settle>[0], now: number) =>
        (await store.settle(outcomes, null, now)).recorded;

      // Worker A claims the delivery.
      const [stale] = await claim(claimAt(t0 + 10));
      assert.ok(stale);
      assert.equal(stale.eventId, eventId);
      assert.equal(stale.endpointId, endpoint.id);
      // While A's lease holds, nobody else gets it.
      assert.deepEqual(await claim(claimAt(t0 + 10 + leaseMs - 1)), []);
      // A's lease runs out; worker B claims the same delivery.
      const [fresh] = await claim(claimAt(t0 + 10 + leaseMs + 1));
      assert.ok(fresh);
      assert.equal(fresh.deliveryId, stale.deliveryId);
      assert.notEqual(fresh.claimToken, stale.claimToken);

      // A finally finishes: its outcome is discarded, no attempt written, B's lease intact.
      assert.equal(await record([succeeded(stale, t0 + 10)], t0 + 10 + leaseMs + 50), 0);
      assert.deepEqual(await store.listAttempts(scope, stale.deliveryId, { limit: 10 }), []);
      let delivery = await store.getDelivery(scope, stale.deliveryId);
      assert.equal(delivery?.status, "delivering");
      assert.equal(delivery?.attemptCount, 0);
      // A giving its claim back does not release B's.
      await store.releaseClaims([stale], t0 + 10 + leaseMs + 60);
      assert.deepEqual(await claim(claimAt(t0 + 10 + leaseMs + 70)), []);

      // B's outcome counts.
      assert.equal(await record([succeeded(fresh, t0 + 10 + leaseMs + 1)], t0 + 10 + leaseMs + 100), 1);
      delivery = await store.getDelivery(scope, fresh.deliveryId);
      assert.equal(delivery?.status, "succeeded");
      assert.equal(delivery?.attemptCount, 1);
      const attempts = await store.listAttempts(scope, fresh.deliveryId, { limit: 10 });
      assert.equal(attempts.length, 1);
      assert.equal(attempts[0]?.startedAt, t0 + 10 + leaseMs + 1);

      // A late stale outcome after B's is still discarded.
      assert.equal(await record([succeeded(stale, t0 + 10)], t0 + 10 + leaseMs + 200), 0);
      assert.equal((await store.listAttempts(scope, fresh.deliveryId, { limit: 10 })).length, 1);
      assert.equal(await store.nextDueAt(), null);
    } finally {
      await store.close();
      dir.remove();
    }
  });

  it("SIGTERM finishes short attempts, gives hung ones back, and exits 0 within the shutdown timeout", async (t) => {
    const h = harness();
    try {
      const shutdownMs = 2000;
      const env = {
        HOOKLINE_ATTEMPT_TIMEOUT: "10s", // longer than the shutdown timeout: only the stop can end a hung attempt
        HOOKLINE_LEASE: "30s", // a released claim must not wait for this
        HOOKLINE_SHUTDOWN_TIMEOUT: `${shutdownMs}ms`,
        HOOKLINE_RETRY_SCHEDULE: "200ms",
      };
      const slow = await h.receiver();
      const slowTracker = answeredTracker();
      slow.respondWith((request, res) => {
        slowTracker.track(request, res);
        h.later(500, () => {
          res.statusCode = 200;
          res.end("ok");
        });
      });
      const hung = await h.receiver();
      hung.respondWith(() => {});

      const first = await h.spawn(env);
      const keys = printedKeys(first.stdout());
      let client = apiClient(first.url, keys.test);
      const slowEndpoint = await client.post("/v1/endpoints", { url: slow.url });
      const hungEndpoint = await client.post("/v1/endpoints", { url: hung.url });
      assert.equal(slowEndpoint.status, 201);
      assert.equal(hungEndpoint.status, 201);

      const N = 5;
      const sent = await client.post("/v1/events/batch", {
        events: Array.from({ length: N }, (_, i) => ({ type: "transfer.completed", data: { i } })),
      });
      assert.equal(sent.status, 202);
      const ids: string[] = sent.body.data.map((e: { id: string }) => e.id);
      await Promise.all([slow.waitFor(N), hung.waitFor(N)]);

      const termAt = Date.now();
      first.child.kill("SIGTERM");
      assert.ok(slowTracker.answered.size < N, "some short attempts were still in flight at SIGTERM");
      const code = await within(first.exited, shutdownMs + 10_000, "the server to exit after SIGTERM");
      const took = Date.now() - termAt;
      t.diagnostic(`stopped ${took} ms after SIGTERM`);
      assert.equal(code, 0, `exit code; stderr:\n${first.stderr()}`);
      assert.ok(took <= shutdownMs + 1500, `took ${took} ms to stop with a ${shutdownMs} ms shutdown timeout`);
      assert.equal(slowTracker.answered.size, N, "the short attempts were allowed to finish");
      assert.equal(hung.requests.length, N);

      hung.respondWith(answer(204));
      const restartedAt = Date.now();
      const second = await h.spawn(env);
      const listeningAt = Date.now();
      client = apiClient(second.url, keys.test);

      // The short attempts were recorded before exit: succeeded right away, never sent again.
      const byEndpoint = async (id: string, endpointId: string) => {
        const deliveries = await deliveriesOf(client, id);
        const delivery = deliveries.find((d) => d.endpoint_id === endpointId);
        assert.ok(delivery, `no delivery of ${id} to ${endpointId}`);
        return delivery;
      };
      for (const id of ids) {
        const delivery = await byEndpoint(id, slowEndpoint.body.id);
        assert.equal(delivery.status, "succeeded");
        assert.equal(delivery.attempt_count, 1);
      }

      // The hung ones were given back: they go out at once, not after the 30 s lease.
      const resent = await hung.waitFor(2 * N, 10_000);
      const latest = Math.max(...resent.slice(N).map((r) => r.receivedAt)) - listeningAt;
      t.diagnostic(`released attempts resent at most ${latest} ms after the restart listened (lease 30 s)`);
      for (const request of resent.slice(N)) assert.ok(request.receivedAt >= restartedAt);
      assert.ok(latest < 5000, `released attempts went out ${latest} ms after the restart, not at once`);
      assert.deepEqual(new Set(resent.slice(N).map(webhookId)), new Set(ids));

      for (const id of ids) {
        const delivery = await eventually(async () => {
          const d = await byEndpoint(id, hungEndpoint.body.id);
          return d.status === "succeeded" ? d : undefined;
        });
        // The aborted try is not a failed attempt: the log holds only the successful one.
        assert.equal(delivery.attempt_count, 1);
        const attempts = await client.get(`/v1/deliveries/${delivery.id}/attempts`);
        assert.deepEqual(
          attempts.body.data.map((a: { status_code: number | null; error: string | null }) => [a.status_code, a.error]),
          [[204, null]],
        );
      }
      assert.equal(slow.requests.length, N, "a recorded success is not sent again");
      assert.equal(hung.requests.length, 2 * N);
    } finally {
      await h.cleanup();
    }
  });
});
