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
  parseAllowList,
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

describe("classifyAddress: the IANA special-purpose registries, one row per entry", () => {
  // [registry entry, a sample address inside it, expected class]. Removing a range from
  // RULES turns its sample public and fails its row.
  const ipv4: [string, string, AddressClass][] = [
    ["0.0.0.0/8 this network", "0.1.2.3", "unspecified"],
    ["0.0.0.0/32 this host", "0.0.0.0", "unspecified"],
    ["10.0.0.0/8 private", "10.20.30.40", "private"],
    ["100.64.0.0/10 shared (CGNAT)", "100.100.0.1", "private"],
    ["127.0.0.0/8 loopback", "127.1.2.3", "loopback"],
    ["169.254.0.0/16 link-local", "169.254.10.10", "link_local"],
    ["172.16.0.0/12 private", "172.20.0.1", "private"],
    ["192.0.0.0/24 IETF protocol assignments", "192.0.0.100", "reserved"],
    ["192.0.0.0/29 IPv4 service continuity", "192.0.0.1", "reserved"],
    ["192.0.0.8/32 dummy", "192.0.0.8", "reserved"],
    ["192.0.0.9/32 PCP anycast", "192.0.0.9", "reserved"],
    ["192.0.0.10/32 TURN anycast", "192.0.0.10", "reserved"],
    ["192.0.0.170/32 NAT64 discovery", "192.0.0.170", "reserved"],
    ["192.0.0.171/32 NAT64 discovery", "192.0.0.171", "reserved"],
    ["192.0.2.0/24 TEST-NET-1", "192.0.2.55", "reserved"],
    ["192.31.196.0/24 AS112-v4", "192.31.196.1", "reserved"],
    ["192.52.193.0/24 AMT", "192.52.193.1", "reserved"],
    ["192.88.99.0/24 deprecated 6to4 relay anycast", "192.88.99.1", "reserved"],
    ["192.88.99.2/32 6a44 relay anycast", "192.88.99.2", "reserved"],
    ["192.168.0.0/16 private", "192.168.77.1", "private"],
    ["192.175.48.0/24 AS112 direct delegation", "192.175.48.6", "reserved"],
    ["198.18.0.0/15 benchmarking", "198.19.1.1", "reserved"],
    ["198.51.100.0/24 TEST-NET-2", "198.51.100.200", "reserved"],
    ["203.0.113.0/24 TEST-NET-3", "203.0.113.1", "reserved"],
    ["240.0.0.0/4 reserved", "247.1.2.3", "reserved"],
    ["255.255.255.255/32 limited broadcast", "255.255.255.255", "reserved"],
    // Not special-purpose, but never a receiver.
    ["224.0.0.0/4 multicast", "233.252.0.1", "multicast"],
  ];
  const ipv6: [string, string, AddressClass][] = [
    ["::1/128 loopback", "::1", "loopback"],
    ["::/128 unspecified", "::", "unspecified"],
    ["::ffff:0:0/96 IPv4-mapped (embedded loopback)", "::ffff:127.0.0.1", "loopback"],
    ["::ffff:0:0/96 IPv4-mapped (embedded private)", "::ffff:a01:101", "private"],
    ["::ffff:0:0/96 IPv4-mapped (embedded public)", "::ffff:1.1.1.1", "public"],
    ["64:ff9b::/96 NAT64 (embedded loopback)", "64:ff9b::7f00:1", "loopback"],
    ["64:ff9b::/96 NAT64 (embedded metadata)", "64:ff9b::169.254.169.254", "metadata"],
    ["64:ff9b::/96 NAT64 (embedded public)", "64:ff9b::1.1.1.1", "public"],
    ["64:ff9b:1::/48 local-use NAT64", "64:ff9b:1::1.1.1.1", "reserved"],
    ["100::/64 discard-only", "100::1", "reserved"],
    ["100:0:0:1::/64 dummy prefix", "100:0:0:1::1", "reserved"],
    ["2001::/23 IETF protocol assignments", "2001:1ff::1", "reserved"],
    ["2001::/32 Teredo", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"],
    ["2001:1::1/128 PCP anycast", "2001:1::1", "reserved"],
    ["2001:1::2/128 TURN anycast", "2001:1::2", "reserved"],
    ["2001:1::3/128 DNS-SD SRP anycast", "2001:1::3", "reserved"],
    ["2001:2::/48 benchmarking", "2001:2::1", "reserved"],
    ["2001:3::/32 AMT", "2001:3::1", "reserved"],
    ["2001:4:112::/48 AS112-v6", "2001:4:112::1", "reserved"],
    ["2001:10::/28 deprecated ORCHID", "2001:10::1", "reserved"],
    ["2001:20::/28 ORCHIDv2", "2001:20::1", "reserved"],
    ["2001:30::/28 drone remote ID", "2001:30::1", "reserved"],
    ["2001:db8::/32 documentation", "2001:db8:1::1", "reserved"],
    ["2002::/16 6to4 (embedded loopback)", "2002:7f00:1::", "loopback"],
    ["2002::/16 6to4 (embedded private)", "2002:a00:1::1", "private"],
    ["2002::/16 6to4 (embedded public)", "2002:101:101::1", "public"],
    ["2620:4f:8000::/48 AS112 direct delegation", "2620:4f:8000::1", "reserved"],
    ["3fff::/20 documentation", "3fff:fff::1", "reserved"],
    ["5f00::/16 segment routing SIDs", "5f00::1", "reserved"],
    ["fc00::/7 unique local", "fc00::1", "private"],
    ["fc00::/7 unique local", "fdff::1", "private"],
    ["fe80::/10 link-local", "fe80::1", "link_local"],
    ["fec0::/10 site-local (deprecated)", "fec0::1", "private"],
    ["::/96 IPv4-compatible (deprecated)", "::7f00:1", "reserved"],
    ["::/96 IPv4-compatible (deprecated)", "::808:808", "reserved"],
    ["ff00::/8 multicast", "ff05::2", "multicast"],
    ["outside 2000::/3 (unassigned)", "1fff::1", "reserved"],
    ["outside 2000::/3 (unassigned)", "4000::1", "reserved"],
    ["outside 2000::/3 (unassigned)", "e000::1", "reserved"],
  ];
  const metadata: [string, string, AddressClass][] = [
    ["AWS ECS credentials", "169.254.170.2", "metadata"],
    ["AWS EKS Pod Identity", "169.254.170.23", "metadata"],
    ["AWS EKS Pod Identity (IPv6)", "fd00:ec2::23", "metadata"],
    ["Oracle Cloud (legacy)", "192.0.0.192", "metadata"],
    ["Azure WireServer", "168.63.129.16", "metadata"],
  ];
  // Just outside each range is public again, so the ranges are not wider than the registry's.
  const edges = [
    "192.0.1.0",
    "192.31.195.255",
    "192.31.197.0",
    "192.52.192.255",
    "192.52.194.0",
    "192.88.98.255",
    "192.88.100.0",
    "192.175.47.255",
    "192.175.49.0",
    "168.63.129.15",
    "2000::1",
    "2001:200::1",
    "2001:db7:ffff::1",
    "2620:4f:8001::1",
    "3fff:1000::1",
    "3ffe::1",
    "2002:808:808::1",
  ];

  for (const [entry, sample, expected] of [...ipv4, ...ipv6, ...metadata]) {
    it(`${entry}: ${sample} is ${expected}`, () => {
      assert.equal(classifyAddress(sample), expected);
      if (expected !== "public") assert.notEqual(addressRejection(sample, live), null);
    });
  }
  it("the neighbours of special ranges stay public", () => {
    for (const ip of edges) assert.equal(classifyAddress(ip), "public", ip);
  });
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
    for (const cidr of [
      "10.0.0.0/33",
      "10.0.0.0/x",
      "example.com/8",
      "::/129",
      "10.0.0.0/8/8",
      "[10.0.0.0/8]:80",
      "fd00::/8:443",
      "10.0.0.1:",
      "[::1]:",
    ]) {
      assert.throws(() => addressRejection("10.0.0.1", { ...live, allowCidrs: [cidr] }), /invalid CIDR/, cidr);
    }
    for (const cidr of ["10.0.0.1:0", "10.0.0.1:65536", "[::1]:70000"]) {
      assert.throws(() => parseAllowList([cidr]), /invalid port/, cidr);
    }
  });

  it("keeps an allow-list entry with a port to that port", () => {
    const policy: EgressPolicy = {
      ...live,
      allowCidrs: ["10.1.0.0/16:8443", "10.9.9.9:80", "[fd00:1::/32]:9000", "[::1]:3000", "[fd00:2::1]", "10.5.0.0/16"],
    };
    const open: [string, number][] = [
      ["10.1.2.3", 8443],
      ["::ffff:10.1.2.3", 8443],
      ["10.9.9.9", 80],
      ["fd00:1::5", 9000],
      ["::1", 3000],
      ["fd00:2::1", 1],
      ["10.5.1.1", 22],
    ];
    for (const [ip, port] of open) assert.equal(addressRejection(ip, policy, port), null, `${ip} port ${port}`);
    const shut: [string, number | undefined][] = [
      ["10.1.2.3", 443],
      ["10.1.2.3", undefined],
      ["10.9.9.9", 8080],
      ["fd00:1::5", 9001],
      ["::1", 80],
      ["10.2.0.1", 8443],
    ];
    for (const [ip, port] of shut) assert.notEqual(addressRejection(ip, policy, port), null, `${ip} port ${port}`);
    assert.match(
      addressRejection("169.254.169.254", { ...live, allowCidrs: ["169.254.169.254:80"] }, 80) ?? "",
      /metadata/,
    );
  });

  it("keeps IPv4 and IPv6 allow-list ranges to their own family", () => {
    assert.notEqual(addressRejection("10.0.0.1", { ...live, allowCidrs: ["::/0"] }), null);
    assert.notEqual(addressRejection("fd00::1", { ...live, allowCidrs: ["0.0.0.0/0"] }), null);
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
    const reason = await urlRejection("https://rebind.example.com/hook", live, resolvesTo("93.184.216.34", "10.0.0.5"));
    assert.equal(
      reason,
      `"https://rebind.example.com/hook" points to 10.0.0.5, a private address; live endpoints must use public addresses`,
    );
    assert.match(
      (await urlRejection("https://meta.example.com/", testOpen, resolvesTo("169.254.169.254"))) ?? "",
      /metadata/,
    );
    assert.equal(
      await urlRejection("https://ok.example.com/", live, resolvesTo("93.184.216.34", "2606:2800:220:1::1")),
      null,
    );
    assert.equal(await urlRejection("https://dev.example.com/", testOpen, resolvesTo("192.168.1.20")), null);
  });

  it("honours allowCidrs for resolved addresses", async () => {
    const policy: EgressPolicy = { ...live, allowCidrs: ["10.1.0.0/16"] };
    assert.equal(await urlRejection("https://intranet.example.com/", policy, resolvesTo("10.1.2.3")), null);
    assert.notEqual(await urlRejection("https://intranet.example.com/", policy, resolvesTo("10.2.2.3")), null);
  });

  it("judges an allow-list entry with a port by the URL's port, default ports included", async () => {
    const policy: EgressPolicy = { ...live, allowCidrs: ["10.1.2.3:8443", "10.4.4.4:443", "[fd00::1]:80"] };
    assert.equal(await urlRejection("https://10.1.2.3:8443/", policy, noLookup), null);
    assert.equal(await urlRejection("https://10.4.4.4/", policy, noLookup), null);
    assert.equal(await urlRejection("http://[fd00::1]/", policy, noLookup), null);
    assert.equal(await urlRejection("https://hooks.example.com:8443/", policy, resolvesTo("10.1.2.3")), null);
    for (const url of ["https://10.1.2.3/", "http://10.1.2.3:8444/x", "http://10.4.4.4/"]) {
      assert.match((await urlRejection(url, policy, noLookup)) ?? "", /private address/, url);
    }
    assert.notEqual(await urlRejection("https://hooks.example.com/", policy, resolvesTo("10.1.2.3")), null);
  });

  it("refuses single-label and special-use names unless private targets are allowed", async () => {
    const internalNames = [
      "http://intranet/",
      "http://metadata/computeMetadata/v1/",
      "http://intranet.:8080/",
      "https://metadata.google.internal/",
      "http://printer.local/",
      "http://nas.home.arpa/",
      "http://api.test/",
      "http://hooks.example/",
      "http://x.invalid/",
      "http://abc.onion/",
      "http://name.alt/",
    ];
    for (const url of internalNames) {
      // Without an allow-list the resolver is not even asked.
      assert.match(
        (await urlRejection(url, live, noLookup)) ?? "",
        /names .*, a (single-label|special-use).*; live endpoints must use public names/,
        url,
      );
      assert.match((await urlRejection(url, testStrict, noLookup)) ?? "", /allowPrivateInTest/, url);
      // A public answer does not make an internal name public.
      const withAllowList: EgressPolicy = { ...live, allowCidrs: ["10.0.0.0/8"] };
      assert.notEqual(await urlRejection(url, withAllowList, resolvesTo("93.184.215.14")), null, url);
    }
    assert.equal(await urlRejection("http://receiver:3000/", testOpen, resolvesTo("172.18.0.5")), null);
    assert.match(
      (await urlRejection("http://receiver:3000/", testOpen, resolvesTo("169.254.169.254"))) ?? "",
      /metadata/,
    );
    // Ordinary names that merely look internal are judged by their addresses.
    assert.equal(await urlRejection("https://hooks.corp.example.com/", live, resolvesTo("93.184.215.14")), null);
    assert.equal(await urlRejection("https://testing.com/", live, resolvesTo("93.184.215.14")), null);
  });

  it("lets the operator open an internal name by allow-listing every address it resolves to", async () => {
    const policy: EgressPolicy = { ...live, allowCidrs: ["172.18.0.0/16:8080"] };
    assert.equal(await urlRejection("http://receiver:8080/", policy, resolvesTo("172.18.0.5")), null);
    assert.notEqual(await urlRejection("http://receiver:8081/", policy, resolvesTo("172.18.0.5")), null);
    assert.notEqual(await urlRejection("http://receiver:8080/", policy, resolvesTo("172.18.0.5", "10.0.0.1")), null);
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    assert.match((await urlRejection("http://receiver:8080/", policy, failing)) ?? "", /single-label/);
  });

  it("accepts the URL when resolution fails", async () => {
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND"), { code: "ENOTFOUND" });
    };
    assert.equal(await urlRejection("https://unresolvable.example.com/", live, failing), null);
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

  const answering =
    (...addresses: string[]): LookupAll =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  const viaResolver = (
    policy: EgressPolicy,
    resolver: LookupAll,
    hostname: string,
    options: object | number,
    port?: number,
  ) =>
    new Promise<Result>((done) => {
      const guarded = createGuardedLookup(policy, resolver, port) as (...args: unknown[]) => void;
      guarded(
        hostname,
        options,
        (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) =>
          done({ err, address, family }),
      );
    });

  it("asks the injected resolver and blocks a whole answer with any blocked address in it", async () => {
    const mixed = answering("93.184.215.14", "127.0.0.1");
    for (const options of [{ all: true }, { all: false }, 4, 0]) {
      const { err, address } = await viaResolver(live, mixed, "rebind.example.com", options);
      assert.equal(err?.code, "EGRESS_BLOCKED", JSON.stringify(options));
      assert.match(err.message, /127\.0\.0\.1 is a loopback address/);
      assert.equal(address, undefined);
    }
    const ok = await viaResolver(
      live,
      answering("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
      "a.example.com",
      {
        all: true,
      },
    );
    assert.deepEqual(ok.address, [
      { address: "93.184.215.14", family: 4 },
      { address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 },
    ]);
    // A family the socket asked for narrows the answer.
    const six = await viaResolver(
      live,
      answering("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
      "a.example.com",
      6,
    );
    assert.deepEqual(six, { err: null, address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 });
    const none = await viaResolver(live, answering(), "empty.example.com", { all: true });
    assert.equal(none.err?.code, "ENOTFOUND");
    const failing: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" });
    };
    assert.equal((await viaResolver(live, failing, "down.example.com", { all: true })).err?.code, "EAI_AGAIN");
  });

  it("blocks internal names at connect time and honours allow-list ports", async () => {
    const blocked = await viaResolver(live, answering("93.184.215.14"), "intranet", { all: true });
    assert.equal(blocked.err?.code, "EGRESS_BLOCKED");
    assert.match(blocked.err.message, /single-label name/);
    assert.equal((await viaResolver(testOpen, answering("10.0.0.7"), "receiver", { all: true })).err, null);

    const policy: EgressPolicy = { ...live, allowCidrs: ["10.0.0.7:8080"] };
    assert.equal((await viaResolver(policy, answering("10.0.0.7"), "receiver", { all: true }, 8080)).err, null);
    assert.equal(
      (await viaResolver(policy, answering("10.0.0.7"), "receiver", { all: true }, 8081)).err?.code,
      "EGRESS_BLOCKED",
    );
    assert.equal(
      (await viaResolver(policy, answering("10.0.0.7"), "hooks.example.com", { all: true })).err?.code,
      "EGRESS_BLOCKED",
      "without a port only entries for every port apply",
    );
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

    // The socket goes to the address the guard checked: a made-up name reaches the server
    // only through the injected answer, asked for once.
    let asked = 0;
    const bound = (server.address() as AddressInfo).address;
    const resolver: LookupAll = async () => {
      asked++;
      return [{ address: bound, family: bound.includes(":") ? 6 : 4 }];
    };
    const reached = await new Promise<string>((done, fail) => {
      const socket = connect({ host: "made-up.example.com", port, lookup: createGuardedLookup(testOpen, resolver) });
      socket.once("connect", () => {
        done(socket.remoteAddress ?? "");
        socket.destroy();
      });
      socket.once("error", fail);
    });
    assert.equal(reached, bound);
    assert.equal(asked, 1);
  });
});
