import { BlockList, isIP } from 'node:net';

/**
 * Which IP addresses the server may connect to on someone else's behalf (webhooks, web tools, the
 * workers' egress proxy). Anything that is not plainly a public unicast address is refused: a
 * hostile URL must not reach the loopback services (database, Temporal, the API), the private
 * network, link-local neighbours or a cloud metadata endpoint.
 *
 * IPv6 is default-deny: only global unicast (2000::/3) can pass, minus its special blocks, so an
 * address range nobody thought of is refused rather than allowed. IPv4-mapped, NAT64 and 6to4
 * addresses embed an IPv4 address a router may forward to; they are refused outright (a public
 * host does not need them).
 *
 * Node's BlockList does the prefix matching; note it also matches IPv4 input against IPv6 rules
 * (as if mapped), so each range is checked only for its own family.
 */

type Family = 'ipv4' | 'ipv6';

interface Range {
  cidr: string;
  reason: string;
}

/** First match wins, so the more specific ranges come before their parents. */
const IPV4_RANGES: Range[] = [
  { cidr: '169.254.169.254/32', reason: 'cloud metadata address' },
  { cidr: '168.63.129.16/32', reason: 'cloud metadata address' },
  { cidr: '100.100.100.200/32', reason: 'cloud metadata address' },
  { cidr: '255.255.255.255/32', reason: 'broadcast address' },
  { cidr: '0.0.0.0/8', reason: '"this network" address (0.0.0.0/8)' },
  { cidr: '10.0.0.0/8', reason: 'private address (10.0.0.0/8)' },
  { cidr: '100.64.0.0/10', reason: 'carrier-grade NAT address (100.64.0.0/10)' },
  { cidr: '127.0.0.0/8', reason: 'loopback address' },
  { cidr: '169.254.0.0/16', reason: 'link-local address' },
  { cidr: '172.16.0.0/12', reason: 'private address (172.16.0.0/12)' },
  { cidr: '192.0.0.0/24', reason: 'IETF protocol assignment (192.0.0.0/24)' },
  { cidr: '192.0.2.0/24', reason: 'documentation address (TEST-NET-1)' },
  { cidr: '192.88.99.0/24', reason: '6to4 relay anycast address' },
  { cidr: '192.168.0.0/16', reason: 'private address (192.168.0.0/16)' },
  { cidr: '198.18.0.0/15', reason: 'benchmarking address (198.18.0.0/15)' },
  { cidr: '198.51.100.0/24', reason: 'documentation address (TEST-NET-2)' },
  { cidr: '203.0.113.0/24', reason: 'documentation address (TEST-NET-3)' },
  { cidr: '224.0.0.0/4', reason: 'multicast address' },
  { cidr: '240.0.0.0/4', reason: 'reserved address (240.0.0.0/4)' },
];

/** Tried only for addresses outside 2000::/3 (all refused), to say why. */
const IPV6_OUTSIDE_GLOBAL: Range[] = [
  { cidr: '::/128', reason: 'unspecified address (::)' },
  { cidr: '::1/128', reason: 'loopback address' },
  { cidr: '::ffff:0:0/96', reason: 'IPv4-mapped IPv6 address' },
  { cidr: '::/96', reason: 'IPv4-compatible IPv6 address' },
  { cidr: '64:ff9b::/96', reason: 'NAT64 address (64:ff9b::/96)' },
  { cidr: '64:ff9b:1::/48', reason: 'NAT64 address (64:ff9b:1::/48)' },
  { cidr: '100::/64', reason: 'discard-only address (100::/64)' },
  { cidr: 'fc00::/7', reason: 'unique local address (fc00::/7)' },
  { cidr: 'fe80::/10', reason: 'link-local address' },
  { cidr: 'fec0::/10', reason: 'site-local address' },
  { cidr: 'ff00::/8', reason: 'multicast address' },
];

/** Special blocks inside global unicast. */
const IPV6_INSIDE_GLOBAL: Range[] = [
  { cidr: '2001::/23', reason: 'IETF protocol assignment (2001::/23: Teredo, benchmarking, ORCHID)' },
  { cidr: '2001:db8::/32', reason: 'documentation address (2001:db8::/32)' },
  { cidr: '2002::/16', reason: '6to4 address (2002::/16)' },
  { cidr: '3fff::/20', reason: 'documentation address (3fff::/20)' },
];

interface CompiledRange {
  list: BlockList;
  reason: string;
}

function compile(ranges: Range[], family: Family): CompiledRange[] {
  return ranges.map(({ cidr, reason }) => {
    const [network, prefix] = cidr.split('/') as [string, string];
    const list = new BlockList();
    list.addSubnet(network, Number(prefix), family);
    return { list, reason };
  });
}

const V4 = compile(IPV4_RANGES, 'ipv4');
const V6_OUTSIDE = compile(IPV6_OUTSIDE_GLOBAL, 'ipv6');
const V6_INSIDE = compile(IPV6_INSIDE_GLOBAL, 'ipv6');
const V6_GLOBAL = compile([{ cidr: '2000::/3', reason: '' }], 'ipv6')[0]!;

/** Strips the brackets and zone id of an IPv6 literal as URLs and sockets spell it. */
export function bareAddress(address: string): string {
  const unbracketed = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const zone = unbracketed.indexOf('%');
  return zone >= 0 ? unbracketed.slice(0, zone) : unbracketed;
}

/** The family of an IP literal, or undefined for anything else (a hostname). */
export function ipFamily(address: string): Family | undefined {
  const v = isIP(bareAddress(address));
  return v === 4 ? 'ipv4' : v === 6 ? 'ipv6' : undefined;
}

/**
 * Why this address must not be connected to, or undefined when it is a public unicast address.
 * Anything that is not an IP literal is refused too (callers resolve names first).
 */
export function forbiddenReason(address: string): string | undefined {
  const ip = bareAddress(address);
  const family = ipFamily(ip);
  if (family === 'ipv4') return V4.find((r) => r.list.check(ip, 'ipv4'))?.reason;
  if (family === 'ipv6') {
    if (!V6_GLOBAL.list.check(ip, 'ipv6')) return V6_OUTSIDE.find((r) => r.list.check(ip, 'ipv6'))?.reason ?? 'reserved IPv6 address (not global unicast)';
    return V6_INSIDE.find((r) => r.list.check(ip, 'ipv6'))?.reason;
  }
  return 'not an IP address';
}
