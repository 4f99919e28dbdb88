import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { describe, it } from "node:test";
import {
  type AddressClass,
  addressRejection,
  classifyAddress,
  createGuardedLookup,
  type EgressPolicy,
  type LookupAll,
  urlRejection,
} from "./egress-guard.ts";

const live: EgressPolicy = { environment: "live", allowPrivateInTest: false, allowCidrs: [] };
const testStrict: EgressPolicy = { environment: "test", allowPrivateInTest: false, allowCidrs: [] };
const testOpen: EgressPolicy = { environment: "test", allowPrivateInTest: true, allowCidrs: [] };

describe("classifyAddress", () => {
  const table: Record<AddressClass, string[]> = {
    public: [
      "8.8.8.8",
      "1.1.1.1",
      "9.255.255.255",
      "11.0.0.0",
      "126.255.255.255",
      "128.0.0.0",
      "172.15.255.255",
      "172.32.0.0",
      "192.167.255.255",
      "192.169.0.0",
      "100.63.255.255",
      "100.128.0.0",
      "169.253.255.255",
      "169.255.0.0",
      "198.17.255.255",
      "198.20.0.0",
      "223.255.255.255",
      "2606:4700:4700::1111",
      "2001:db9::1",
      "2001:4860:4860::8888",
      "::ffff:8.8.8.8",
      "::ffff:808:808",
      "64:ff9b::8.8.8.8",
      "2002:808:808::1",
    ],
    loopback: [
      "127.0.0.1",
      "127.255.255.254",
      "::1",
      "0:0:0:0:0:0:0:1",
      "0000:0000:0000:0000:0000:0000:0000:0001",
      "::ffff:127.0.0.1",
      "::FFFF:7F00:1",
      "0:0:0:0:0:ffff:7f00:1",
      "64:ff9b::7f00:1",
      "2002:7f00:1::",
    ],
    unspecified: ["0.0.0.0", "0.1.2.3", "::", "0:0:0:0:0:0:0:0", "::ffff:0.0.0.0"],
    private: [
      "10.0.0.1",
      "10.255.255.255",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.0.1",
      "192.168.255.255",
      "100.64.0.1",
      "100.127.255.255",
      "fc00::1",
      "fd12:3456:789a::1",
      "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
      "::ffff:10.0.0.1",
      "::ffff:c0a8:101",
      "64:ff9b::10.1.2.3",
      "64:ff9b::ac10:1",
      "2002:c0a8:101::1",
    ],
    link_local: [
      "169.254.0.1",
      "169.254.169.253",
      "169.254.255.255",
      "fe80::1",
      "fe80::1%eth0",
      "febf:ffff::1",
      "::ffff:169.254.1.1",
    ],
    metadata: [
      "169.254.169.254",
      "169.254.170.2",
      "100.100.100.200",
      "fd00:ec2::254",
      "fd00:ec2:0:0:0:0:0:254",
      "::ffff:169.254.169.254",
      "::ffff:a9fe:a9fe",
      "64:ff9b::a9fe:a9fe",
      "2002:a9fe:a9fe::",
      "::ffff:100.100.100.200",
    ],
    multicast: ["224.0.0.1", "239.255.255.255", "ff02::1", "ff0e::101", "::ffff:224.0.0.251"],
    reserved: [
      "240.0.0.1",
      "250.1.2.3",
      "255.255.255.255",
      "192.0.0.8",
      "192.0.2.1",
      "198.51.100.7",
      "203.0.113.9",
      "198.18.0.1",
      "198.19.255.255",
      "2001:db8::1",
      "2001:0db8:85a3::8a2e:370:7334",
      "::ffff:192.0.2.1",
      // Unparseable input fails closed.
      "",
      "localhost",
      "256.0.0.1",
      "1.2.3",
      "010.0.0.1",
      "0x7f000001",
      "[::1]",
      "::1::",
      "1:2:3:4:5:6:7:8:9",
      " 8.8.8.8",
    ],
  };
  for (const [expected, addresses] of Object.entries(table)) {
    it(`classifies ${expected}`, () => {
      for (const ip of addresses) assert.equal(classifyAddress(ip), expected, ip);
    });
  }
});

describe("addressRejection", () => {
  const policies = { live, testStrict, testOpen };
  const alwaysBlocked = [
    "169.254.169.254",
    "fd00:ec2::254",
    "169.254.1.1",
    "fe80::1",
    "224.0.0.1",
    "240.0.0.1",
    "0.0.0.0",
    "::",
    "nonsense",
  ];
  const privateOrLoopback = ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.1", "fd00::1", "::ffff:10.0.0.5"];

  it("always rejects metadata, link-local, multicast, reserved and unspecified", () => {
    for (const [name, policy] of Object.entries(policies)) {
      for (const ip of alwaysBlocked) assert.notEqual(addressRejection(ip, policy), null, `${ip} in ${name}`);
    }
  });

  it("rejects loopback and private in live, and in test unless allowPrivateInTest", () => {
    for (const ip of privateOrLoopback) {
      assert.notEqual(addressRejection(ip, live), null, ip);
      assert.notEqual(addressRejection(ip, testStrict), null, ip);
      assert.equal(addressRejection(ip, testOpen), null, ip);
    }
  });

  it("allows public addresses everywhere", () => {
    for (const policy of Object.values(policies)) {
      for (const ip of ["8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
        assert.equal(addressRejection(ip, policy), null, ip);
    }
  });

  it("explains the reason", () => {
    assert.equal(addressRejection("169.254.169.254", live), "169.254.169.254 is a cloud metadata address");
    assert.equal(
      addressRejection("10.0.0.5", live),
      "10.0.0.5 is a private address; live endpoints must use public addresses",
    );
    assert.match(addressRejection("127.0.0.1", testStrict) ?? "", /loopback address.*allowPrivateInTest/);
    assert.match(addressRejection("fe80::1", testOpen) ?? "", /link-local/);
  });

  it("allows addresses inside allowCidrs, except metadata", () => {
    const policy: EgressPolicy = {
      ...live,
      allowCidrs: ["10.1.0.0/16", "fd00:1234::/32", "169.254.0.0/16", "192.0.2.7"],
    };
    for (const ip of ["10.1.2.3", "::ffff:10.1.2.3", "64:ff9b::a01:203", "fd00:1234::5", "169.254.1.1", "192.0.2.7"]) {
      assert.equal(addressRejection(ip, policy), null, ip);
    }
    for (const ip of ["10.2.0.1", "fd00:1235::5", "192.0.2.8", "169.254.169.254", "::ffff:169.254.169.254"]) {
      assert.notEqual(addressRejection(ip, policy), null, ip);
    }
    const everything: EgressPolicy = { ...live, allowCidrs: ["0.0.0.0/0", "::/0"] };
    assert.equal(addressRejection("127.0.0.1", everything), null);
    assert.match(addressRejection("169.254.170.2", everything) ?? "", /metadata/);
    assert.match(addressRejection("100.100.100.200", everything) ?? "", /metadata/);
  });

  it("throws on a malformed allow-list entry", () => {
    for (const cidr of ["10.0.0.0/33", "10.0.0.0/x", "example.com/8", "::/129", "10.0.0.0/8/8"]) {
      assert.throws(() => addressRejection("10.0.0.1", { ...live, allowCidrs: [cidr] }), /invalid CIDR/, cidr);
    }
  });
});

describe("urlRejection", () => {
  const noLookup: LookupAll = () => assert.fail("lookup must not be called");
  const resolvesTo =
    (...addresses: string[]): LookupAll =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("rejects unparseable URLs and non-http schemes", async () => {
    for (const url of [
      "not a url",
      "ftp://example.com/",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "ws://example.com/",
    ]) {
      assert.notEqual(await urlRejection(url, testOpen, noLookup), null, url);
    }
    assert.match((await urlRejection("ftp://example.com/", live, noLookup)) ?? "", /only http and https/);
  });

  it("rejects credentials without echoing them", async () => {
    for (const url of [
      "https://user:s3cret@example.com/",
      "https://user@example.com/",
      "https://:s3cret@example.com/",
    ]) {
      const reason = await urlRejection(url, live, noLookup);
      assert.match(reason ?? "", /username or password/, url);
      assert.doesNotMatch(reason ?? "", /s3cret/);
    }
  });

  it("checks IP literals without DNS", async () => {
    assert.equal(
      await urlRejection("http://10.0.0.5/x", live, noLookup),
      `"http://10.0.0.5/x" points to 10.0.0.5, a private address; live endpoints must use public addresses`,
    );
    assert.match((await urlRejection("http://[fd00:ec2::254]/latest", testOpen, noLookup)) ?? "", /metadata/);
    assert.match((await urlRejection("http://[::ffff:169.254.169.254]/", testOpen, noLookup)) ?? "", /metadata/);
    // WHATWG URL parsing normalises these spellings to 127.0.0.1.
    assert.match((await urlRejection("http://2130706433/", live, noLookup)) ?? "", /loopback/);
    assert.match((await urlRejection("http://0x7f.1/", live, noLookup)) ?? "", /loopback/);
    assert.equal(await urlRejection("https://8.8.8.8/hook", live, noLookup), null);
    assert.equal(await urlRejection("https://[2606:4700:4700::1111]:8443/hook", live, noLookup), null);
    assert.equal(await urlRejection("http://[::1]:3000/", testOpen, noLookup), null);
  });

  it("treats localhost and *.localhost as loopback without DNS", async () => {
    for (const url of ["http://localhost:3000/hook", "http://LOCALHOST./", "http://api.localhost/"]) {
      assert.match((await urlRejection(url, live, noLookup)) ?? "", /loopback address; live endpoints/, url);
      assert.match((await urlRejection(url, testStrict, noLookup)) ?? "", /allowPrivateInTest/, url);
      assert.equal(await urlRejection(url, testOpen, noLookup), null, url);
    }
  });

  it("rejects a hostname when any resolved address is blocked", async () => {
    const reason = await urlRejection("https://rebind.example/hook", live, resolvesTo("93.184.216.34", "10.0.0.5"));
    assert.equal(
      reason,
      `"https://rebind.example/hook" points to 10.0.0.5, a private address; live endpoints must use public addresses`,
    );
    assert.match(
      (await urlRejection("https://meta.example/", testOpen, resolvesTo("169.254.169.254"))) ?? "",
      /metadata/,
    );
    assert.equal(
      await urlRejection("https://ok.example/", live, resolvesTo("93.184.216.34", "2606:2800:220:1::1")),
      null,
    );
    assert.equal(await urlRejection("https://dev.example/", testOpen, resolvesTo("192.168.1.20")), null);
  });

  it("honours allowCidrs for resolved addresses", async () => {
    const policy: EgressPolicy = { ...live, allowCidrs: ["10.1.0.0/16"] };
    assert.equal(await urlRejection("https://internal.example/", policy, resolvesTo("10.1.2.3")), null);
    assert.notEqual(await urlRejection("https://internal.example/", policy, resolvesTo("10.2.2.3")), null);
  });

  it("accepts the URL when resolution fails", async () => {
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    assert.equal(await urlRejection("https://unresolvable.example/", live, failing), null);
  });
});

describe("createGuardedLookup", () => {
  type Result = { err: NodeJS.ErrnoException | null; address?: string | LookupAddress[]; family?: number };
  const resolve = (policy: EgressPolicy, hostname: string, options?: { all?: boolean } | number) =>
    new Promise<Result>((done) => {
      const guarded = createGuardedLookup(policy) as (...args: unknown[]) => void;
      const callback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) =>
        done({ err, address, family });
      if (options === undefined) guarded(hostname, callback);
      else guarded(hostname, options, callback);
    });
  const loopbacks = ["127.0.0.1", "::1"];

  it("blocks localhost under a live policy", async () => {
    for (const options of [{ all: true }, { all: false }, {}, undefined]) {
      const { err } = await resolve(live, "localhost", options);
      assert.equal(err?.code, "EGRESS_BLOCKED", JSON.stringify(options));
      assert.match(err.message, /(127\.0\.0\.1|::1) is a loopback address/);
    }
  });

  it("resolves localhost under a test policy with allowPrivateInTest", async () => {
    const all = await resolve(testOpen, "localhost", { all: true });
    assert.equal(all.err, null);
    assert.ok(Array.isArray(all.address) && all.address.length > 0);
    for (const { address, family } of all.address) {
      assert.ok(loopbacks.includes(address), address);
      assert.equal(family, address.includes(":") ? 6 : 4);
    }

    for (const options of [{ all: false }, undefined]) {
      const one = await resolve(testOpen, "localhost", options);
      assert.equal(one.err, null);
      assert.equal(typeof one.address, "string");
      assert.ok(loopbacks.includes(one.address as string), String(one.address));
      assert.equal(one.family, (one.address as string).includes(":") ? 6 : 4);
    }
  });

  it("passes public addresses through under a live policy", async () => {
    // An IP literal resolves locally, so this needs no network.
    const all = await resolve(live, "8.8.8.8", { all: true });
    assert.deepEqual(all, { err: null, address: [{ address: "8.8.8.8", family: 4 }], family: undefined });
    const one = await resolve(live, "8.8.8.8", 4);
    assert.deepEqual(one, { err: null, address: "8.8.8.8", family: 4 });
  });

  it("works as the lookup of a real net.connect", async (t) => {
    const server = createServer((socket) => socket.end());
    server.listen(0, "localhost");
    await once(server, "listening");
    t.after(() => server.close());
    const { port } = server.address() as AddressInfo;

    const attempt = (policy: EgressPolicy) =>
      new Promise<NodeJS.ErrnoException | null>((done) => {
        const socket = connect({ host: "localhost", port, lookup: createGuardedLookup(policy) });
        socket.once("connect", () => {
          socket.destroy();
          done(null);
        });
        socket.once("error", (err) => done(err));
      });

    assert.equal((await attempt(live))?.code, "EGRESS_BLOCKED");
    assert.equal(await attempt(testOpen), null);
  });
});
