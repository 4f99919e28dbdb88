import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createSecretBox, masterKeyId, newMasterKey } from "./secret-box.ts";

describe("secret box", () => {
  const key = newMasterKey();
  const box = createSecretBox(key);
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

  it("seals under the current key's id, never the same twice, and opens again", () => {
    const a = box.seal(secret);
    const b = box.seal(secret);
    assert.notEqual(a, b, "a fresh nonce each time");
    assert.match(a, new RegExp(`^hlenc:v1:${masterKeyId(key)}:[A-Za-z0-9_-]+$`));
    assert.equal(a.includes("whsec_"), false);
    assert.equal(box.open(a), secret);
    assert.equal(box.keyIdOf(a), box.currentKeyId);
  });

  it("passes a value written before encryption through, so an upgrade can seal it", () => {
    assert.equal(box.open(secret), secret);
    assert.equal(box.keyIdOf(secret), null);
    assert.equal(box.canOpen(secret), true);
  });

  it("refuses an altered ciphertext or header, and says which key a value needs", () => {
    const sealed = box.seal(secret);
    const body = sealed.slice(sealed.lastIndexOf(":") + 1);
    const flipped = `${body.slice(0, 10)}${body[10] === "A" ? "B" : "A"}${body.slice(11)}`;
    assert.throws(() => box.open(sealed.replace(body, flipped)), /altered/);
    const other = createSecretBox(newMasterKey());
    assert.equal(other.canOpen(sealed), false);
    assert.throws(() => other.open(sealed), new RegExp(`master key ${masterKeyId(key)}`));
  });

  it("opens with an old key and seals with the new one (a rotation)", () => {
    const sealed = box.seal(secret);
    const rotated = createSecretBox(newMasterKey(), [key]);
    assert.equal(rotated.open(sealed), secret);
    assert.notEqual(rotated.keyIdOf(rotated.seal(secret)), box.currentKeyId);
  });
});
