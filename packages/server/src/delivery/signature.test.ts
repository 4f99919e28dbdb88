import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Webhook } from "standardwebhooks";
import { signatureHeader } from "./signature.ts";

// The reference vector published with the Standard Webhooks specification.
const VECTOR = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("signatureHeader", () => {
  it("reproduces the Standard Webhooks reference vector", () => {
    assert.equal(signatureHeader([VECTOR.secret], VECTOR.id, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
  });

  it("signs with every secret during a rotation, and the official verifier accepts either", () => {
    const oldSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const newSecret = `whsec_${Buffer.alloc(24, 7).toString("base64")}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const header = signatureHeader([newSecret, oldSecret], "evt_1", timestamp, '{"a":1}');
    assert.equal(header.split(" ").length, 2);
    const headers = { "webhook-id": "evt_1", "webhook-timestamp": String(timestamp), "webhook-signature": header };
    assert.deepEqual(new Webhook(oldSecret).verify('{"a":1}', headers), { a: 1 });
    assert.deepEqual(new Webhook(newSecret).verify('{"a":1}', headers), { a: 1 });
    assert.throws(() => new Webhook(newSecret).verify('{"a":2}', headers));
  });
});
