import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createCheckLookups } from "./check-lookups.ts";
import type { LookupAll } from "./egress-guard.ts";

/** A resolver whose answers the test gives by hand, recording which names it was asked. */
function manualResolver() {
  const asked: string[] = [];
  const answers = new Map<string, (addresses: string[]) => void>();
  const lookup: LookupAll = (hostname) => {
    asked.push(hostname);
    return new Promise((resolve) => {
      answers.set(hostname, (addresses) => resolve(addresses.map((address) => ({ address, family: 4 }))));
    });
  };
  const answer = (hostname: string, ...addresses: string[]) => answers.get(hostname)?.(addresses);
  return { lookup, asked, answer };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("lookups of URL checks", () => {
  it("go on without an answer once the time is up, and give a timely one", async () => {
    const lookups = createCheckLookups({ timeoutMs: 50, maxRunning: 2 });
    const dns = manualResolver();
    const started = performance.now();
    assert.equal(await lookups(dns.lookup, "hangs.example"), null);
    assert.ok(performance.now() - started < 1_000);
    const timely = lookups(dns.lookup, "answers.example");
    dns.answer("answers.example", "203.0.113.7");
    assert.deepEqual(await timely, ["203.0.113.7"]);
    dns.answer("hangs.example");
  });

  it("treat a failed or throwing lookup as no answer, and end its turn", async () => {
    const lookups = createCheckLookups({ timeoutMs: 1_000, maxRunning: 2 });
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    assert.equal(await lookups(failing, "unresolvable.example"), null);
    const throwing: LookupAll = () => {
      throw new TypeError("not a hostname");
    };
    const one = createCheckLookups({ timeoutMs: 1_000, maxRunning: 1 });
    assert.equal(await one(throwing, "bad"), null);
    // Its turn ended with it: the next check does not wait for the timeout.
    const dns = manualResolver();
    const next = one(dns.lookup, "next.example");
    await tick();
    assert.deepEqual(dns.asked, ["next.example"]);
    dns.answer("next.example", "203.0.113.5");
    assert.deepEqual(await next, ["203.0.113.5"]);
  });

  it("run at most maxRunning at once, even after their checks gave up, and the rest in turn", async () => {
    const lookups = createCheckLookups({ timeoutMs: 60_000, maxRunning: 2 });
    const dns = manualResolver();
    const checks = ["a.example", "b.example", "c.example"].map((name) => lookups(dns.lookup, name));
    await tick();
    assert.deepEqual(dns.asked, ["a.example", "b.example"]);
    dns.answer("a.example", "203.0.113.1");
    assert.deepEqual(await checks[0], ["203.0.113.1"]);
    await tick();
    assert.deepEqual(dns.asked, ["a.example", "b.example", "c.example"]);
    dns.answer("b.example", "203.0.113.2");
    dns.answer("c.example", "203.0.113.3");
    assert.deepEqual(await Promise.all(checks.slice(1)), [["203.0.113.2"], ["203.0.113.3"]]);

    // A lookup still running after its check gave up keeps its thread, so it still counts.
    const short = createCheckLookups({ timeoutMs: 30, maxRunning: 1 });
    const slow = manualResolver();
    assert.equal(await short(slow.lookup, "stuck.example"), null);
    const next = short(slow.lookup, "next.example");
    await tick();
    assert.deepEqual(slow.asked, ["stuck.example"]);
    slow.answer("stuck.example");
    await tick();
    assert.deepEqual(slow.asked, ["stuck.example", "next.example"]);
    slow.answer("next.example", "203.0.113.4");
    assert.deepEqual(await next, ["203.0.113.4"]);
  });

  it("pass the turn over any number of checks that gave up, without deep recursion", async () => {
    const lookups = createCheckLookups({ timeoutMs: 200, maxRunning: 1 });
    const dns = manualResolver();
    const stuck = lookups(dns.lookup, "stuck.example");
    const gaveUp = await Promise.all(Array.from({ length: 50_000 }, () => lookups(dns.lookup, "queued.example")));
    assert.ok(gaveUp.every((addresses) => addresses === null));
    assert.equal(await stuck, null);
    const live = lookups(dns.lookup, "live.example");
    dns.answer("stuck.example");
    await tick();
    assert.deepEqual(dns.asked, ["stuck.example", "live.example"]);
    dns.answer("live.example", "203.0.113.6");
    assert.deepEqual(await live, ["203.0.113.6"]);
  });

  it("skip a check that gave up while waiting for its turn", async () => {
    const lookups = createCheckLookups({ timeoutMs: 30, maxRunning: 1 });
    const dns = manualResolver();
    const first = lookups(dns.lookup, "first.example");
    assert.equal(await lookups(dns.lookup, "gave-up.example"), null);
    assert.equal(await first, null);
    const later = lookups(dns.lookup, "later.example");
    dns.answer("first.example", "203.0.113.1");
    await tick();
    assert.deepEqual(dns.asked, ["first.example", "later.example"]);
    dns.answer("later.example", "203.0.113.9");
    assert.deepEqual(await later, ["203.0.113.9"]);
  });
});
