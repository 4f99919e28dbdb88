import { promises as dnsPromises, type LookupAddress, type LookupOptions, lookup } from "node:dns";
import { BlockList, isIP } from "node:net";

import type { Environment } from "../store/store.ts";

/** Coarse category of an IP address, used to decide whether a webhook may be delivered to it. */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link_local"
  | "metadata"
  | "unspecified"
  | "multicast"
  | "reserved";

/** Operator-controlled egress settings applied to one endpoint's environment. */
export interface EgressPolicy {
  /** Environment of the endpoint being delivered to. */
  environment: Environment;
  /** When true, test endpoints may target loopback and private addresses (e.g. a developer's local receiver). */
  allowPrivateInTest: boolean;
  /** CIDRs (IPv4 or IPv6; a bare address means a single host) that are allowed even if not public. Metadata addresses stay blocked. */
  allowCidrs: readonly string[];
}

/** Resolves a hostname to all of its addresses, like `dns.promises.lookup(host, { all: true })`. */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

// Order matters: the first matching class wins, so metadata hosts are found before the
// link-local / CGNAT / ULA ranges that contain them.
const RULES: readonly [AddressClass, readonly string[]][] = [
  ["metadata", ["169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"]],
  ["unspecified", ["0.0.0.0/8", "::/128"]],
  ["loopback", ["127.0.0.0/8", "::1/128"]],
  ["private", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"]],
  ["link_local", ["169.254.0.0/16", "fe80::/10"]],
  ["multicast", ["224.0.0.0/4", "ff00::/8"]],
  [
    "reserved",
    [
      "240.0.0.0/4",
      "192.0.0.0/24",
      "192.0.2.0/24",
      "198.51.100.0/24",
      "203.0.113.0/24",
      "198.18.0.0/15",
      "2001:db8::/32",
    ],
  ],
];

const RULE_LISTS = RULES.map(([cls, cidrs]) => [cls, toBlockList(cidrs)] as const);

function toBlockList(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", prefixText, extra] = cidr.trim().split("/");
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !/^\d+$/.test(prefixText ?? "0") || prefix > max) {
      throw new Error(`invalid CIDR in egress allow-list: "${cidr}"`);
    }
    list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  }
  return list;
}

/** Expands a valid IPv6 literal (zone already removed) into its 8 16-bit groups. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)));
  const before = parse(head);
  const after = tail === undefined ? [] : parse(tail);
  return [...before, ...Array<number>(8 - before.length - after.length).fill(0), ...after];
}

/**
 * Returns the IPv4 address an IPv6 address stands for when traffic to it ends up at that
 * IPv4 host anyway (IPv4-mapped, NAT64 well-known prefix, 6to4), so it must be judged as such.
 */
function embeddedIPv4(ip: string): string | null {
  const g = ipv6Groups(ip);
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && g[5] === 0xffff) return quad(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return quad(g[6] ?? 0, g[7] ?? 0);
  if (g[0] === 0x2002) return quad(g[1] ?? 0, g[2] ?? 0);
  return null;
}

/** Drops an IPv6 zone id ("fe80::1%eth0"): it selects an interface, not a different address. */
function withoutZone(ip: string): string {
  const at = ip.indexOf("%");
  return at === -1 ? ip : ip.slice(0, at);
}

/**
 * Classifies an IPv4 or IPv6 literal (without brackets). IPv4-mapped, NAT64 (64:ff9b::/96)
 * and 6to4 (2002::/16) addresses are classified by the IPv4 address they embed.
 * Anything that is not a valid literal is reported as `"reserved"` rather than throwing,
 * so callers fail closed.
 */
export function classifyAddress(ip: string): AddressClass {
  const address = withoutZone(ip);
  const family = isIP(address);
  if (family === 0) return "reserved";
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4 !== null) return classifyAddress(v4);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  for (const [cls, list] of RULE_LISTS) {
    if (list.check(address, type)) return cls;
  }
  return "public";
}

const DESCRIPTIONS: Record<Exclude<AddressClass, "public">, string> = {
  loopback: "a loopback address",
  private: "a private address",
  link_local: "a link-local address",
  metadata: "a cloud metadata address",
  unspecified: "an unspecified address",
  multicast: "a multicast address",
  reserved: "a reserved address",
};

/** Why an address is blocked, phrased to follow the address (e.g. "a private address; ..."), or null. */
function blockedBecause(ip: string, policy: EgressPolicy): string | null {
  const cls = classifyAddress(ip);
  if (cls === "metadata") return DESCRIPTIONS.metadata;
  if (cls === "public" || isAllowListed(ip, policy.allowCidrs)) return null;
  const description = DESCRIPTIONS[cls];
  if (cls !== "loopback" && cls !== "private") return description;
  if (policy.environment === "live") return `${description}; live endpoints must use public addresses`;
  if (policy.allowPrivateInTest) return null;
  return `${description}; test endpoints may use it only when allowPrivateInTest is enabled`;
}

function isAllowListed(ip: string, allowCidrs: readonly string[]): boolean {
  if (allowCidrs.length === 0) return false;
  const address = withoutZone(ip);
  const family = isIP(address);
  if (family === 0) return false;
  const list = toBlockList(allowCidrs);
  if (list.check(address, family === 4 ? "ipv4" : "ipv6")) return true;
  // An allow-listed IPv4 range also covers NAT64/6to4 spellings of it, mirroring classifyAddress.
  const v4 = family === 6 ? embeddedIPv4(address) : null;
  return v4 !== null && list.check(v4, "ipv4");
}

/**
 * Decides whether a webhook may be sent to `ip` under `policy`.
 * Metadata, link-local, multicast, reserved and unspecified addresses are always blocked;
 * loopback and private addresses are blocked in live and in test unless `allowPrivateInTest`.
 * `policy.allowCidrs` overrides everything except metadata.
 * Throws if `policy.allowCidrs` contains an invalid CIDR (a configuration error).
 * @returns null when allowed, else a human reason like "169.254.169.254 is a cloud metadata address".
 */
export function addressRejection(ip: string, policy: EgressPolicy): string | null {
  const reason = blockedBecause(ip, policy);
  return reason === null ? null : `${ip} is ${reason}`;
}

const defaultLookupAll: LookupAll = (hostname) => dnsPromises.lookup(hostname, { all: true });

/**
 * Validates an endpoint URL at creation/update time: http(s) only, no credentials, and the
 * host must not be (or resolve to) an address blocked by `policy`. `localhost` and `*.localhost`
 * count as loopback without a DNS query. If resolution fails the URL is accepted, because the
 * connect-time check ({@link createGuardedLookup}) still applies; this check is advisory since
 * DNS answers can change later.
 * @param lookup resolver to use; defaults to `dns.promises.lookup(host, { all: true })`.
 * @returns null when acceptable, else a human-readable reason.
 */
export async function urlRejection(
  url: string,
  policy: EgressPolicy,
  lookup: LookupAll = defaultLookupAll,
): Promise<string | null> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `"${url}" is not a valid URL`;
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `"${url}" uses ${parsed.protocol.slice(0, -1)}; only http and https URLs are allowed`;
  }
  // Don't echo the URL here: it contains a secret.
  if (parsed.username !== "" || parsed.password !== "") {
    return "endpoint URLs must not contain a username or password";
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") return `"${url}" has no hostname`;

  const pointsTo = (shown: string, ip: string) => {
    const reason = blockedBecause(ip, policy);
    return reason === null ? null : `"${url}" points to ${shown}, ${reason}`;
  };
  if (isIP(host) !== 0) return pointsTo(host, host);
  const name = host.replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return pointsTo(name, "127.0.0.1");

  let addresses: { address: string }[];
  try {
    addresses = await lookup(host);
  } catch {
    return null;
  }
  for (const { address } of addresses) {
    const reason = pointsTo(address, address);
    if (reason !== null) return reason;
  }
  return null;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;

/**
 * Returns a drop-in replacement for `dns.lookup` (for `net.connect({ lookup })` or undici
 * `new Agent({ connect: { lookup } })`) that refuses to connect when any resolved address is
 * blocked by `policy`, calling back with an error whose `code` is `"EGRESS_BLOCKED"`.
 * Checking at connect time closes the DNS-rebinding gap left by {@link urlRejection}.
 * Honours `options.all`, a numeric family, and the `(hostname, callback)` form.
 *
 * Note: Node skips `lookup` entirely when the host is already an IP literal, so literal
 * hosts must still be checked with {@link addressRejection} before connecting.
 */
export function createGuardedLookup(policy: EgressPolicy): typeof lookup {
  function guardedLookup(hostname: string, options: unknown, maybeCallback?: unknown): void {
    const callback = (typeof options === "function" ? options : maybeCallback) as LookupCallback;
    const opts: LookupOptions =
      typeof options === "number"
        ? { family: options }
        : typeof options === "object" && options !== null
          ? options
          : {};

    // Always resolve everything: a single answer could hide a blocked sibling that a retry would pick.
    lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return callback(err);
      for (const { address } of addresses) {
        const reason = addressRejection(address, policy);
        if (reason !== null) {
          const blocked: NodeJS.ErrnoException = new Error(`egress to ${hostname} blocked: ${reason}`);
          blocked.code = "EGRESS_BLOCKED";
          return callback(blocked);
        }
      }
      if (opts.all === true) return callback(null, addresses);
      const first = addresses[0];
      if (first === undefined) {
        const empty: NodeJS.ErrnoException = new Error(`${hostname} did not resolve to any address`);
        empty.code = "ENOTFOUND";
        return callback(empty);
      }
      callback(null, first.address, first.family);
    });
  }
  return guardedLookup as typeof lookup;
}
