import { promises as dnsPromises, type LookupAddress, type LookupOptions, type lookup } from "node:dns";
import { BlockList, isIP } from "node:net";

import type { Environment } from "../store/store.ts";
import { lookupForCheck } from "./check-lookups.ts";

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

/**
 * Resolves a hostname to all of its addresses, like `dns.promises.lookup(host, { all: true })`.
 * `options` carries the family and hints a socket asked for; a resolver may ignore them.
 */
export type LookupAll = (
  hostname: string,
  options?: { family?: number; hints?: number },
) => Promise<{ address: string; family: number }[]>;

/**
 * A set of IPv4 and IPv6 ranges, kept apart per family: one BlockList would also match an
 * IPv4 address against IPv6 ranges through its ::ffff: form (8.8.8.8 would fall in ::/3).
 */
class Ranges {
  #v4 = new BlockList();
  #v6 = new BlockList();

  /** Adds one CIDR (a bare address is a single host); `entry` is what an error quotes. */
  add(cidr: string, entry: string): void {
    const [address = "", prefixText, extra] = cidr.trim().split("/");
    const family = isIP(address);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (family === 0 || extra !== undefined || !/^\d+$/.test(prefixText ?? "0") || prefix > max) {
      throw new Error(`invalid CIDR in egress allow-list: "${entry}" (expected CIDR, CIDR:port or [IPv6 CIDR]:port)`);
    }
    if (family === 4) this.#v4.addSubnet(address, prefix, "ipv4");
    else this.#v6.addSubnet(address, prefix, "ipv6");
  }

  /** Whether `address` (a valid literal without zone) is in one of the ranges of its own family. */
  has(address: string): boolean {
    const family = isIP(address);
    if (family === 4) return this.#v4.check(address, "ipv4");
    return family === 6 && this.#v6.check(address, "ipv6");
  }
}

// Every range of the IANA IPv4 and IPv6 Special-Purpose Address Registries, plus the
// IPv6 space outside global unicast. Order matters: the first matching class wins, so
// metadata hosts are found before the link-local / CGNAT / ULA ranges that contain them.
// A few registry entries are marked "globally reachable" (anycast services such as PCP,
// TURN, AS112 and AMT relays); none of them is a webhook receiver, so they are blocked too.
// IPv4-mapped (::ffff:0:0/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses never
// reach this table: they are judged by the IPv4 address they embed (see embeddedIPv4).
const RULES: readonly [AddressClass, readonly string[]][] = [
  [
    "metadata",
    [
      "169.254.169.254", // AWS, GCP, Azure, OCI, OpenStack, DigitalOcean instance metadata
      "169.254.170.2", // AWS ECS task credentials
      "169.254.170.23", // AWS EKS Pod Identity agent
      "100.100.100.200", // Alibaba Cloud
      "192.0.0.192", // Oracle Cloud (legacy)
      "168.63.129.16", // Azure WireServer (a public address only Azure hosts can reach)
      "fd00:ec2::254", // AWS IMDS over IPv6
      "fd00:ec2::23", // AWS EKS Pod Identity agent over IPv6
    ],
  ],
  ["unspecified", ["0.0.0.0/8", "::/128"]],
  ["loopback", ["127.0.0.0/8", "::1/128"]],
  [
    "private",
    [
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "100.64.0.0/10", // shared address space (carrier-grade NAT)
      "fc00::/7", // unique local
      "fec0::/10", // site-local, deprecated by RFC 3879 but still routed as private space
    ],
  ],
  ["link_local", ["169.254.0.0/16", "fe80::/10"]],
  ["multicast", ["224.0.0.0/4", "ff00::/8"]],
  [
    "reserved",
    [
      "192.0.0.0/24", // IETF protocol assignments (incl. 192.0.0.0/29 DS-Lite, .8 dummy, .9 PCP, .10 TURN, .170/.171 NAT64 discovery)
      "192.0.2.0/24", // documentation TEST-NET-1
      "192.31.196.0/24", // AS112-v4
      "192.52.193.0/24", // AMT
      "192.88.99.0/24", // deprecated 6to4 relay anycast
      "192.175.48.0/24", // AS112 direct delegation
      "198.18.0.0/15", // benchmarking
      "198.51.100.0/24", // documentation TEST-NET-2
      "203.0.113.0/24", // documentation TEST-NET-3
      "240.0.0.0/4", // reserved ("class E")
      "255.255.255.255/32", // limited broadcast (inside 240.0.0.0/4; listed for the registry)
      "::/96", // IPv4-compatible, deprecated
      "64:ff9b:1::/48", // local-use NAT64: the translator and its embedding are site-specific
      "100::/64", // discard-only
      "100:0:0:1::/64", // dummy prefix
      "2001::/23", // IETF protocol assignments: Teredo 2001::/32 (embeds an obfuscated client IPv4), PCP/TURN/DNS-SD anycast, 2001:2::/48 benchmarking, AMT, AS112, ORCHID
      "2001:db8::/32", // documentation
      "2620:4f:8000::/48", // AS112 direct delegation
      "3fff::/20", // documentation
      "5f00::/16", // segment routing SIDs
      // Everything outside global unicast 2000::/3 that is not classified above is
      // unassigned ("reserved by IETF") space.
      "::/3",
      "4000::/2",
      "8000::/1",
    ],
  ],
];

const RULE_LISTS = RULES.map(([cls, cidrs]) => {
  const ranges = new Ranges();
  for (const cidr of cidrs) ranges.add(cidr, cidr);
  return [cls, ranges] as const;
});

/** The operator allow-list, parsed: ranges open on every port, and ranges open on one port. */
export interface AllowList {
  anyPort: Ranges;
  byPort: ReadonlyMap<number, Ranges>;
}

const parsedAllowLists = new WeakMap<readonly string[], AllowList>();

/**
 * Parses `egress_allow_cidrs` entries: `10.0.0.0/8`, `10.0.0.5`, `fd00::/8` (every port),
 * `10.0.0.0/8:8443`, `10.0.0.5:8443`, `[fd00::/8]:8443`, `[::1]:9000` (that port only).
 * An IPv6 entry with a port needs brackets. Throws on a malformed entry (a configuration error).
 */
export function parseAllowList(entries: readonly string[]): AllowList {
  const cached = parsedAllowLists.get(entries);
  if (cached) return cached;
  const anyPort = new Ranges();
  const byPort = new Map<number, Ranges>();
  for (const raw of entries) {
    const entry = raw.trim();
    const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(entry);
    const v4WithPort = bracketed ? null : /^([^:]*):(\d+)$/.exec(entry);
    const cidr = bracketed?.[1] ?? v4WithPort?.[1] ?? entry;
    const portText = bracketed?.[2] ?? v4WithPort?.[2];
    if (bracketed && isIP(cidr.split("/")[0] ?? "") !== 6) {
      throw new Error(`invalid CIDR in egress allow-list: "${entry}" (only IPv6 ranges go in brackets)`);
    }
    if (portText === undefined) {
      anyPort.add(cidr, entry);
      continue;
    }
    const port = Number(portText);
    if (port < 1 || port > 65_535) throw new Error(`invalid port in egress allow-list: "${entry}"`);
    let list = byPort.get(port);
    if (!list) {
      list = new Ranges();
      byPort.set(port, list);
    }
    list.add(cidr, entry);
  }
  const parsed = { anyPort, byPort };
  parsedAllowLists.set(entries, parsed);
  return parsed;
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
  for (const [cls, ranges] of RULE_LISTS) {
    if (ranges.has(address)) return cls;
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
function blockedBecause(ip: string, policy: EgressPolicy, port: number | undefined): string | null {
  const cls = classifyAddress(ip);
  if (cls === "metadata") return DESCRIPTIONS.metadata;
  if (cls === "public" || isAllowListed(ip, policy.allowCidrs, port)) return null;
  const description = DESCRIPTIONS[cls];
  if (cls !== "loopback" && cls !== "private") return description;
  if (policy.environment === "live") return `${description}; live endpoints must use public addresses`;
  if (policy.allowPrivateInTest) return null;
  return `${description}; test endpoints may use it only when allowPrivateInTest is enabled`;
}

/** Whether the operator allow-list opens `ip` (on `port`; without a port, only entries for every port count). */
function isAllowListed(ip: string, allowCidrs: readonly string[], port: number | undefined): boolean {
  if (allowCidrs.length === 0) return false;
  const address = withoutZone(ip);
  const family = isIP(address);
  if (family === 0) return false;
  const { anyPort, byPort } = parseAllowList(allowCidrs);
  const forPort = port === undefined ? undefined : byPort.get(port);
  // An allow-listed IPv4 range also covers NAT64/6to4 spellings of it, mirroring classifyAddress.
  const v4 = family === 6 ? embeddedIPv4(address) : null;
  return [anyPort, forPort].some(
    (ranges) => ranges !== undefined && (ranges.has(address) || (v4 !== null && ranges.has(v4))),
  );
}

/**
 * Decides whether a webhook may be sent to `ip` (on `port`) under `policy`.
 * Metadata, link-local, multicast, reserved and unspecified addresses are always blocked;
 * loopback and private addresses are blocked in live and in test unless `allowPrivateInTest`.
 * `policy.allowCidrs` overrides everything except metadata; its entries with a port apply
 * only when `port` is given and equal.
 * Throws if `policy.allowCidrs` contains an invalid entry (a configuration error).
 * @returns null when allowed, else a human reason like "169.254.169.254 is a cloud metadata address".
 */
export function addressRejection(ip: string, policy: EgressPolicy, port?: number): string | null {
  const reason = blockedBecause(ip, policy, port);
  return reason === null ? null : `${ip} is ${reason}`;
}

// Special-use domain names that the public DNS never answers, so any answer comes from a
// resolver inside the deployment: .local (mDNS, RFC 6762), .home.arpa (RFC 8375),
// .internal (reserved by ICANN for private use, 2024), .test, .example, .invalid (RFC 6761),
// .onion (RFC 7686), .alt (RFC 9476), and .localhost (RFC 6761), which urlRejection
// already treats as loopback without asking the resolver but a connection still resolves.
// Names that are merely common on intranets (.lan, .corp, .localdomain) are not reserved
// and so are judged by their addresses only.
const SPECIAL_USE_SUFFIXES = [
  "localhost",
  "local",
  "home.arpa",
  "internal",
  "test",
  "example",
  "invalid",
  "onion",
  "alt",
];

/** Why `hostname` names a host only resolvers inside the deployment know, or null for an ordinary DNS name. */
function internalName(hostname: string): string | null {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  // "intranet" or "metadata" is completed by the resolver's search domains into some
  // internal name whose addresses may well be public, so its answer proves nothing.
  if (!name.includes(".")) return "a single-label name the local resolver completes with its search domains";
  const suffix = SPECIAL_USE_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  return suffix === undefined ? null : `a special-use .${suffix} name the public DNS never answers`;
}

/**
 * Why `hostname` may not be used under `policy` given what it resolved to, or null.
 * Internal names count as private targets: allowed in test with `allowPrivateInTest`
 * (a developer's `http://receiver:3000/` in Docker Compose, say), and otherwise only when
 * the operator allow-list opens every address they resolved to.
 */
function nameBlockedBecause(
  hostname: string,
  addresses: readonly string[],
  policy: EgressPolicy,
  port: number | undefined,
): string | null {
  const kind = internalName(hostname);
  if (kind === null || (policy.environment === "test" && policy.allowPrivateInTest)) return null;
  if (addresses.length > 0 && addresses.every((ip) => isAllowListed(ip, policy.allowCidrs, port))) return null;
  return policy.environment === "live"
    ? `${kind}; live endpoints must use public names`
    : `${kind}; test endpoints may use it only when allowPrivateInTest is enabled`;
}

const defaultLookupAll: LookupAll = (hostname, options = {}) =>
  dnsPromises.lookup(hostname, {
    all: true,
    family: options.family ?? 0,
    ...(options.hints === undefined ? {} : { hints: options.hints }),
  });

/** The port a URL connects to. */
function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === "https:" ? 443 : 80);
}

/**
 * Validates an endpoint URL at creation/update time: http(s) only, no credentials, and the
 * host must not be (or resolve to) an address blocked by `policy` on the URL's port.
 * `localhost` and `*.localhost` count as loopback without a DNS query. Single-label names and
 * special-use names (.internal, .local, ...) count as private targets. If resolution fails, or
 * gives no answer within 3 s (see check-lookups.ts), an ordinary name is accepted, because the
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
  const port = portOf(parsed);

  const pointsTo = (shown: string, ip: string) => {
    const reason = blockedBecause(ip, policy, port);
    return reason === null ? null : `"${url}" points to ${shown}, ${reason}`;
  };
  if (isIP(host) !== 0) return pointsTo(host, host);
  const name = host.replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return pointsTo(name, "127.0.0.1");
  const names = (reason: string) => `"${url}" names ${name}, ${reason}`;
  // Without an allow-list nothing could open an internal name, so don't even ask the resolver.
  const internal = nameBlockedBecause(name, [], policy, port);
  if (internal !== null && policy.allowCidrs.length === 0) return names(internal);

  // Unresolvable for now (or no answer in time): an ordinary name is still checked when connecting.
  const addresses = (await lookupForCheck(lookup, host)) ?? [];
  for (const address of addresses) {
    const reason = pointsTo(address, address);
    if (reason !== null) return reason;
  }
  const reason = nameBlockedBecause(name, addresses, policy, port);
  return reason === null ? null : names(reason);
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: string | LookupAddress[], family?: number) => void;

/**
 * Returns a drop-in replacement for `dns.lookup` (for `net.connect({ lookup })` or undici's
 * `buildConnector({ lookup })`) that refuses to connect when any resolved address, or the
 * name itself, is blocked by `policy`, calling back with an error whose `code` is
 * `"EGRESS_BLOCKED"`. The socket connects to exactly the addresses that were checked, so
 * checking here closes the DNS-rebinding gap left by {@link urlRejection}.
 * Honours `options.all`, a numeric or named family, and the `(hostname, callback)` form.
 *
 * Note: Node skips `lookup` entirely when the host is already an IP literal, so literal
 * hosts must still be checked with {@link addressRejection} before connecting.
 * @param resolve where answers come from; defaults to `dns.promises.lookup(host, { all: true })`.
 * @param port the port the socket will connect to, for allow-list entries with a port;
 *   without it only entries for every port apply.
 */
export function createGuardedLookup(
  policy: EgressPolicy,
  resolve: LookupAll = defaultLookupAll,
  port?: number,
): typeof lookup {
  function guardedLookup(hostname: string, options: unknown, maybeCallback?: unknown): void {
    const callback = (typeof options === "function" ? options : maybeCallback) as LookupCallback;
    const opts: LookupOptions =
      typeof options === "number"
        ? { family: options }
        : typeof options === "object" && options !== null
          ? options
          : {};
    const family =
      opts.family === 4 || opts.family === "IPv4" ? 4 : opts.family === 6 || opts.family === "IPv6" ? 6 : 0;
    const fail = (code: string, message: string) => callback(Object.assign(new Error(message), { code }));

    // Always resolve everything: a single answer could hide a blocked sibling that a retry would pick.
    resolve(hostname, { family, ...(opts.hints === undefined ? {} : { hints: opts.hints }) }).then(
      (answers) => {
        const addresses = answers
          .filter((answer) => family === 0 || answer.family === family)
          .map(({ address, family }) => ({ address, family }));
        for (const { address } of addresses) {
          const reason = addressRejection(address, policy, port);
          if (reason !== null) return fail("EGRESS_BLOCKED", `egress to ${hostname} blocked: ${reason}`);
        }
        const reason = nameBlockedBecause(
          hostname,
          addresses.map(({ address }) => address),
          policy,
          port,
        );
        if (reason !== null) return fail("EGRESS_BLOCKED", `egress to ${hostname} blocked: it is ${reason}`);
        const first = addresses[0];
        if (first === undefined) return fail("ENOTFOUND", `${hostname} did not resolve to any address`);
        if (opts.all === true) return callback(null, addresses);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err),
    );
  }
  return guardedLookup as typeof lookup;
}
