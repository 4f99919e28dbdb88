import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { verifyExpressWebhook } from "../src/adapters/express.ts";
import { verifyFastifyWebhooks } from "../src/adapters/fastify.ts";
import { verifyHonoWebhook } from "../src/adapters/hono.ts";
import { verifyNodeRequest } from "../src/adapters/node.ts";
import { signWebhook, type WebhookVerificationError } from "../src/index.ts";

const SECRET = `whsec_${btoa("adapter-test-secret-of-32-bytes!")}`;
// Spacing and key order a JSON parser would not keep: verifying a re-serialised body would fail.
const BODY = '{ "id": "evt_a",  "type": "transfer.completed", "data": {"amount": 100.50} }';

async function signedHeaders(body = BODY, id = "evt_a") {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(SECRET, id, timestamp, body),
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Posts a genuine webhook and a tampered one; returns both answers. */
async function genuineAndTampered(url: string) {
  const headers = await signedHeaders();
  const genuine = await fetch(url, { method: "POST", headers, body: BODY });
  const tampered = await fetch(url, { method: "POST", headers, body: BODY.replace("100.50", "999") });
  return {
    genuine: { status: genuine.status, body: await genuine.json() },
    tampered: { status: tampered.status, body: await tampered.json() },
  };
}

describe("framework adapters get the raw body right", () => {
  const servers: Server[] = [];
  after(() => {
    for (const server of servers) server.close();
  });

  it("Express: on a route of its own, and refusing clearly after express.json()", async () => {
    const app = express();
    app.post("/webhooks", verifyExpressWebhook(SECRET), (req, res) => {
      res.json({ received: (req as unknown as { webhook: { data: unknown } }).webhook.data });
    });
    app.post("/after-raw", express.raw({ type: "application/json" }), verifyExpressWebhook(SECRET), (_req, res) => {
      res.json({ ok: true });
    });
    app.post("/parsed-first", express.json(), verifyExpressWebhook(SECRET), (_req, res) => {
      res.json({ ok: true });
    });
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: (error as WebhookVerificationError).code });
    });
    const server = createServer(app);
    servers.push(server);
    const base = await listen(server);

    const { genuine, tampered } = await genuineAndTampered(`${base}/webhooks`);
    assert.deepEqual(genuine, { status: 200, body: { received: { amount: 100.5 } } });
    assert.deepEqual(tampered.status, 400);
    assert.equal(tampered.body.error, "bad_signature");
    assert.equal((await genuineAndTampered(`${base}/after-raw`)).genuine.status, 200);
    const parsedFirst = await genuineAndTampered(`${base}/parsed-first`);
    assert.deepEqual(parsedFirst.genuine, { status: 500, body: { error: "body_already_parsed" } });
  });

  it("Fastify: one scope's JSON stays raw for verification, the rest of the app parses as usual", async () => {
    const app = Fastify();
    await app.register(async (webhooks) => {
      verifyFastifyWebhooks(webhooks, SECRET);
      webhooks.post("/webhooks", async (request) => ({
        received: (request as unknown as { webhook: { data: unknown } }).webhook.data,
      }));
    });
    app.post("/other", async (request) => ({ parsed: request.body }));
    const base = await app.listen({ port: 0, host: "127.0.0.1" });
    try {
      const { genuine, tampered } = await genuineAndTampered(`${base}/webhooks`);
      assert.deepEqual(genuine, { status: 200, body: { received: { amount: 100.5 } } });
      assert.equal(tampered.status, 400);
      assert.equal(tampered.body.error, "bad_signature");
      const other = await fetch(`${base}/other`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: '{"a":1}',
      });
      assert.deepEqual(await other.json(), { parsed: { a: 1 } });
    } finally {
      await app.close();
    }
  });

  it("Hono: middleware over the fetch API", async () => {
    const app = new Hono<{ Variables: { webhook: { data: unknown } } }>();
    app.post("/webhooks", verifyHonoWebhook(SECRET), (c) => c.json({ received: c.get("webhook").data }));
    const headers = await signedHeaders();
    const genuine = await app.fetch(new Request("http://x/webhooks", { method: "POST", headers, body: BODY }));
    assert.equal(genuine.status, 200);
    assert.deepEqual(await genuine.json(), { received: { amount: 100.5 } });
    const missing = await app.fetch(new Request("http://x/webhooks", { method: "POST", body: BODY }));
    assert.equal(missing.status, 400);
    assert.equal(((await missing.json()) as { error: string }).error, "missing_header");
  });

  it("node:http: reads the raw body with a size cap", async () => {
    const server = createServer((req, res) => {
      verifyNodeRequest(req, SECRET, { limit: 1024 }).then(
        (event) => res.writeHead(200).end(JSON.stringify({ received: event.data })),
        (error: WebhookVerificationError) => res.writeHead(400).end(JSON.stringify({ error: error.code })),
      );
    });
    servers.push(server);
    const url = await listen(server);
    const { genuine, tampered } = await genuineAndTampered(url);
    assert.deepEqual(genuine, { status: 200, body: { received: { amount: 100.5 } } });
    assert.deepEqual(tampered, { status: 400, body: { error: "bad_signature" } });
    const big = JSON.stringify({ pad: "x".repeat(2000) });
    const tooLarge = await fetch(url, { method: "POST", headers: await signedHeaders(big), body: big });
    assert.deepEqual(await tooLarge.json(), { error: "body_too_large" });
  });
});
