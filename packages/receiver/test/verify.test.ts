import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { signWebhook, verifyWebhook, WebhookVerificationError } from "../src/index.ts";

// The reference vector published with the Standard Webhooks specification.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};
const atVector = { now: () => VECTOR.timestamp * 1000 };
const vectorHeaders = (overrides: Record<string, string | undefined> = {}) => ({
  "webhook-id": VECTOR.id,
  "webhook-timestamp": String(VECTOR.timestamp),
  "webhook-signature": VECTOR.signature,
  ...overrides,
});

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof WebhookVerificationError, `not a WebhookVerificationError: ${error}`);
    return error.code;
  }
  assert.fail("verification passed but should not have");
}

describe("verifyWebhook", () => {
  it("accepts the spec's reference vector, from a string, bytes, an ArrayBuffer and fetch Headers", async () => {
    const bytes = new TextEncoder().encode(VECTOR.body);
    for (const body of [VECTOR.body, bytes, bytes.buffer]) {
      assert.deepEqual(await verifyWebhook(body, vectorHeaders(), VECTOR.secret, atVector), { test: 2432232314 });
    }
    const headers = new Headers(vectorHeaders());
    assert.deepEqual(await verifyWebhook(VECTOR.body, headers, VECTOR.secret, atVector), { test: 2432232314 });
    assert.equal(await signWebhook(VECTOR.secret, VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  });

  it("agrees with the standardwebhooks package both ways", async () => {
    const secret = `whsec_${btoa("a-receiver-test-secret-32-bytes!")}`;
    const id = "evt_cross";
    const now = new Date();
    const timestamp = Math.floor(now.getTime() / 1000);
    const body = '{"type":"transfer.completed","data":{"amount":100,"note":"ünïcödé"}}';
    const theirs = new Webhook(secret).sign(id, now, body);
    const ours = await signWebhook(secret, id, timestamp, body);
    assert.equal(ours, theirs);
    const headers = { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": ours };
    assert.deepEqual(new Webhook(secret).verify(body, headers), JSON.parse(body));
    assert.deepEqual(await verifyWebhook(body, { ...headers, "webhook-signature": theirs }, secret), JSON.parse(body));
  });

  it("refuses a tampered body, another secret, and a signature for another id or time", async () => {
    assert.equal(
      await refusal(verifyWebhook('{"test": 2432232315}', vectorHeaders(), VECTOR.secret, atVector)),
      "bad_signature",
    );
    const other = `whsec_${btoa("another-secret-entirely")}`;
    assert.equal(await refusal(verifyWebhook(VECTOR.body, vectorHeaders(), other, atVector)), "bad_signature");
    assert.equal(
      await refusal(verifyWebhook(VECTOR.body, vectorHeaders({ "webhook-id": "msg_other" }), VECTOR.secret, atVector)),
      "bad_signature",
    );
    const later = { "webhook-timestamp": String(VECTOR.timestamp + 1) };
    assert.equal(
      await refusal(verifyWebhook(VECTOR.body, vectorHeaders(later), VECTOR.secret, atVector)),
      "bad_signature",
    );
    const garbage = { "webhook-signature": "v1,not*base64 v2,abc" };
    assert.equal(
      await refusal(verifyWebhook(VECTOR.body, vectorHeaders(garbage), VECTOR.secret, atVector)),
      "bad_signature",
    );
  });

  it("refuses timestamps outside the tolerance, both ways (replays)", async () => {
    const late = { now: () => (VECTOR.timestamp + 301) * 1000 };
    assert.equal(await refusal(verifyWebhook(VECTOR.body, vectorHeaders(), VECTOR.secret, late)), "timestamp_too_old");
    const early = { now: () => (VECTOR.timestamp - 301) * 1000 };
    assert.equal(await refusal(verifyWebhook(VECTOR.body, vectorHeaders(), VECTOR.secret, early)), "timestamp_too_new");
    const wide = { now: () => (VECTOR.timestamp + 3600) * 1000, tolerance: 7200 };
    assert.deepEqual(await verifyWebhook(VECTOR.body, vectorHeaders(), VECTOR.secret, wide), { test: 2432232314 });
    const bad = vectorHeaders({ "webhook-timestamp": "1614265330.5" });
    assert.equal(await refusal(verifyWebhook(VECTOR.body, bad, VECTOR.secret, atVector)), "invalid_header");
  });

  it("names the missing header", async () => {
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const headers = vectorHeaders({ [name]: undefined });
      await assert.rejects(verifyWebhook(VECTOR.body, headers, VECTOR.secret, atVector), (error: unknown) => {
        assert.ok(error instanceof WebhookVerificationError);
        assert.equal(error.code, "missing_header");
        assert.match(error.message, new RegExp(name));
        return true;
      });
    }
  });

  it("during a secret rotation, passes with either secret and either of two signatures", async () => {
    const oldSecret = VECTOR.secret;
    const newSecret = `whsec_${btoa("the-new-secret-after-rotation!!")}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"id":"evt_1","type":"t","data":{}}';
    const both = `${await signWebhook(newSecret, "evt_1", timestamp, body)} ${await signWebhook(oldSecret, "evt_1", timestamp, body)}`;
    const headers = { "webhook-id": "evt_1", "webhook-timestamp": String(timestamp), "webhook-signature": both };
    assert.equal((await verifyWebhook(body, headers, oldSecret)).id, "evt_1");
    assert.equal((await verifyWebhook(body, headers, newSecret)).id, "evt_1");
    // The receiver may also hold both secrets while it switches.
    const onlyOld = { ...headers, "webhook-signature": await signWebhook(oldSecret, "evt_1", timestamp, body) };
    assert.equal((await verifyWebhook(body, onlyOld, [newSecret, oldSecret])).id, "evt_1");
  });

  it("refuses an unusable secret, an already parsed body and a signed body that is not JSON", async () => {
    assert.equal(await refusal(verifyWebhook(VECTOR.body, vectorHeaders(), "whsec_***", atVector)), "invalid_secret");
    assert.equal(await refusal(verifyWebhook(VECTOR.body, vectorHeaders(), [], atVector)), "invalid_secret");
    const parsed = JSON.parse(VECTOR.body) as unknown as string;
    assert.equal(await refusal(verifyWebhook(parsed, vectorHeaders(), VECTOR.secret, atVector)), "body_already_parsed");
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      "webhook-id": "evt_x",
      "webhook-timestamp": String(timestamp),
      "webhook-signature": await signWebhook(VECTOR.secret, "evt_x", timestamp, "not json"),
    };
    assert.equal(await refusal(verifyWebhook("not json", headers, VECTOR.secret)), "invalid_body");
  });
});
