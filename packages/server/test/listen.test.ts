import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import WebSocket from "ws";
import { verifyWebhook, type WebhookEvent } from "../../receiver/src/index.ts";
import { loadConfig } from "../src/config.ts";
import { MAX_SESSIONS_PER_ENDPOINT, REPLACED_CLOSE_CODE } from "../src/delivery/listen-hub.ts";
import { startHookline } from "../src/hookline.ts";
import { attemptsOf, deliveriesOf, deliveryWhen } from "./helpers/api.ts";
import { apiClient, eventually } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";
import { startListen } from "./helpers/process.ts";
import { type Receiver, startReceiver } from "./helpers/receiver.ts";

describe("hookline listen", () => {
  let h: TestHookline;
  let local: Receiver;

  before(async () => {
    h = await startTestHookline();
    local = await startReceiver((request, res) => {
      res.statusCode = request.url === "/fail" ? 500 : 200;
      res.end(request.url === "/fail" ? "boom" : "ok");
    });
  });
  after(async () => {
    await local.close();
    await h.stop();
  });

  const send = async (type: string) => {
    const sent = await h.test.post("/v1/events", { type, data: { at: Date.now() } });
    assert.equal(sent.status, 202);
    return sent.body.id as string;
  };

  it("relays TEST events to local URLs by type, signed, and records the local status as the attempt's", async () => {
    const listen = startListen([
      "--api-url",
      h.url,
      "--api-key",
      h.keys.test,
      "--forward",
      `fail.*=${local.url}/fail`,
      "--forward-to",
      `${local.url}/ok`,
    ]);
    try {
      const secret = await listen.secret();
      const okId = await send("order.created");
      const failId = await send("fail.now");
      const [first, second] = await local.waitFor(2, 10_000);
      assert.ok(first && second);
      const byPath = new Map([first, second].map((r) => [r.url, r]));
      const ok = byPath.get("/ok");
      assert.ok(ok && byPath.get("/fail"));

      // What arrived is verifiable with the secret `hookline listen` printed, as any webhook.
      const event = (await verifyWebhook(ok.body, ok.headers, secret)) as WebhookEvent;
      assert.equal(event.id, okId);
      assert.equal(ok.headers["webhook-id"], okId);

      // The local answers are the attempts' outcomes.
      const [okDelivery] = await deliveriesOf(h.test, okId);
      assert.ok(okDelivery);
      const succeeded = await deliveryWhen(h.test, okDelivery.id, (d) => d.status === "succeeded", "ok delivered");
      assert.equal(succeeded.last_status_code, 200);
      const [failDelivery] = await deliveriesOf(h.test, failId);
      assert.ok(failDelivery);
      const failed = await deliveryWhen(h.test, failDelivery.id, (d) => d.attempt_count === 1, "fail attempted");
      assert.equal(failed.status, "pending", "a 500 is retried on the schedule like any endpoint's");
      assert.equal(failed.last_status_code, 500);
      const [attempt] = await attemptsOf(h.test, failDelivery.id);
      assert.equal(attempt?.response_snippet, "boom");

      // One line per event in the terminal.
      await eventually(() => (/order\.created .*→ 200/.test(listen.stdout()) ? true : undefined), 5000, "ok line");
      assert.match(listen.stdout(), /fail\.now .*→ 500/);
    } finally {
      assert.equal(await listen.stop(), 0, listen.stderr());
    }
    // The listen endpoint is listed, with its kind.
    const endpoints = await h.test.get("/v1/endpoints");
    assert.ok(endpoints.body.data.some((e: { kind: string }) => e.kind === "listen"));
  });

  it("keeps its secret across restarts; a disconnected listener's deliveries fail, then go out on reconnect", async () => {
    const args = ["--api-url", h.url, "--api-key", h.keys.test, "--forward-to", `${local.url}/ok`];
    const first = startListen(args);
    const secret = await first.secret();
    assert.equal(await first.stop(), 0);

    const eventId = await send("while.away");
    const [delivery] = await deliveriesOf(h.test, eventId);
    assert.ok(delivery);
    const missed = await deliveryWhen(h.test, delivery.id, (d) => d.attempt_count === 1, "an attempt while away");
    assert.equal(missed.status, "pending");
    assert.equal(missed.last_error, "listener_offline");

    const second = startListen(args);
    try {
      assert.equal(await second.secret(), secret, "the same secret after a restart");
      const delivered = await deliveryWhen(
        h.test,
        delivery.id,
        (d) => d.status === "succeeded",
        "delivered on reconnect",
      );
      assert.equal(delivered.attempt_count, 2);
      // Everything pending came forward on reconnect (also the earlier test's 500), this one exactly once.
      assert.equal(local.requests.filter((r) => r.headers["webhook-id"] === eventId).length, 1);
    } finally {
      await second.stop();
    }
  });

  it("--events limits what is relayed: other types make no delivery to the listener", async () => {
    const listen = startListen([
      "--api-url",
      h.url,
      "--api-key",
      h.keys.test,
      "--events",
      "only.this",
      "--forward-to",
      `${local.url}/ok`,
    ]);
    try {
      await listen.secret();
      assert.match(listen.stdout(), /TEST events \(only\.this\)/);
      const wanted = await send("only.this");
      const other = await send("not.this");
      const listener = (await h.test.get("/v1/endpoints")).body.data.find((e: { kind: string }) => e.kind === "listen");
      const [delivery] = (await deliveriesOf(h.test, wanted)).filter((d) => d.endpoint_id === listener.id);
      assert.ok(delivery, "the wanted type is relayed");
      await deliveryWhen(h.test, delivery.id, (d) => d.status === "succeeded", "the wanted event delivered");
      assert.deepEqual(
        (await deliveriesOf(h.test, other)).filter((d) => d.endpoint_id === listener.id),
        [],
      );
    } finally {
      await listen.stop();
    }
  });

  it("after the local server answered 410 (which disables the endpoint), a new listen session delivers again", async () => {
    const gone = await startReceiver((_request, res) => {
      res.statusCode = 410;
      res.end();
    });
    const args = (url: string) => ["--api-url", h.url, "--api-key", h.keys.test, "--forward-to", url];
    const first = startListen(args(`${gone.url}/gone`));
    try {
      await first.secret();
      const goneId = await send("gone.test");
      await gone.waitFor(1);
      const listener = (await h.test.get("/v1/endpoints")).body.data.find((e: { kind: string }) => e.kind === "listen");
      await eventually(
        async () => ((await h.test.get(`/v1/endpoints/${listener.id}`)).body.enabled === false ? true : undefined),
        5000,
        "the 410 to disable the listen endpoint",
      );
      assert.ok(goneId);
    } finally {
      await first.stop();
      await gone.close();
    }
    const second = startListen(args(`${local.url}/ok`));
    try {
      await second.secret();
      const id = await send("back.again");
      const listener = (await h.test.get("/v1/endpoints")).body.data.find((e: { kind: string }) => e.kind === "listen");
      assert.equal(listener.enabled, true);
      const [delivery] = (await deliveriesOf(h.test, id)).filter((d) => d.endpoint_id === listener.id);
      assert.ok(delivery);
      await deliveryWhen(h.test, delivery.id, (d) => d.status === "succeeded", "delivered after re-enabling");
    } finally {
      await second.stop();
    }
  });

  it("refuses a LIVE key with a clear message", async () => {
    const live = startListen(["--api-url", h.url, "--api-key", h.keys.live, "--forward-to", `${local.url}/ok`]);
    assert.equal(await live.exited, 1);
    assert.match(live.stderr(), /only a TEST key can listen/);
  });

  it("keeps a few sessions per account: a newer one closes the oldest past the limit, with the reason", async () => {
    const url = `${h.url.replace(/^http/, "ws")}/v1/listen`;
    const open = () =>
      new Promise<{ socket: WebSocket; closed: Promise<{ code: number; reason: string }> }>((resolve, reject) => {
        const socket = new WebSocket(url, { headers: { authorization: `Bearer ${h.keys.test}` } });
        const closed = new Promise<{ code: number; reason: string }>((done) =>
          socket.on("close", (code, reason) => done({ code, reason: String(reason) })),
        );
        socket.on("message", (data) => {
          if (JSON.parse(String(data)).type === "ready") resolve({ socket, closed });
        });
        socket.on("error", reject);
      });
    const sessions = [];
    for (let i = 0; i < MAX_SESSIONS_PER_ENDPOINT; i++) sessions.push(await open());
    const newest = await open();
    try {
      const oldest = await sessions[0]?.closed;
      assert.equal(oldest?.code, REPLACED_CLOSE_CODE);
      assert.match(oldest?.reason ?? "", /newer hookline listen session/);
      for (const session of sessions.slice(1)) assert.equal(session.socket.readyState, WebSocket.OPEN);
    } finally {
      for (const { socket } of [...sessions, newest]) socket.close();
    }
  });
});

describe("hookline listen when the server goes away", () => {
  it("says so, reconnects with backoff once the server is back, and delivers again", async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const dir = tempDir();
    const config = loadConfig({
      env: { HOOKLINE_PORT: String(port), HOOKLINE_DATA_DIR: dir.path, HOOKLINE_SHUTDOWN_TIMEOUT: "1s" },
    });
    const logger = pino({ level: "silent" });
    let hang = true;
    const local = await startReceiver((_request, res) => {
      if (!hang) res.end();
    });
    let server = await startHookline(config, logger);
    const key = server.firstStart?.testKey as string;
    const listen = startListen(["--api-url", server.url, "--api-key", key, "--forward-to", `${local.url}/in`]);
    try {
      await listen.secret();
      // An attempt in flight through the listener when the server stops is handed back, not failed.
      const client = apiClient(server.url, key);
      const inFlight = (await client.post("/v1/events", { type: "during.stop", data: {} })).body.id as string;
      await local.waitFor(1, 5000);
      await server.stop();
      await eventually(() => (/trying again in/.test(listen.stdout()) ? true : undefined), 5000, "a reconnect notice");

      hang = false;
      server = await startHookline(config, logger);
      const [handedBack] = await deliveriesOf(apiClient(server.url, key), inFlight);
      assert.ok(handedBack);
      const delivered = await deliveryWhen(
        apiClient(server.url, key),
        handedBack.id,
        (d) => d.status === "succeeded",
        "the handed-back delivery to go out after the restart",
      );
      // The interrupted attempt left no trace; at most a try before the listener was back.
      const errors = (await attemptsOf(apiClient(server.url, key), delivered.id)).map((a) => a.error);
      assert.deepEqual(
        errors.filter((e) => e !== null && e !== "listener_offline"),
        [],
        JSON.stringify(errors),
      );
      await eventually(
        () => ((listen.stdout().match(/signing secret is/g) ?? []).length === 2 ? true : undefined),
        10_000,
        "the listener to reconnect",
      );
      const sent = await apiClient(server.url, key).post("/v1/events", { type: "after.restart", data: {} });
      assert.equal(sent.status, 202);
      const arrivals = await local.waitFor(3, 5000);
      assert.equal(arrivals[2]?.headers["webhook-id"], sent.body.id);
    } finally {
      await listen.stop();
      await server.stop();
      await local.close();
      dir.remove();
    }
  });
});
