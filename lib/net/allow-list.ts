import { BlockList } from 'node:net';
import { bareAddress, ipFamily } from './address-policy.js';

/**
 * The operator's exceptions to the address policy (`[network] allow`): destinations the server may
 * reach although they are private, loopback, etc. An entry is a hostname, an IP address or a CIDR
 * block, each optionally with a port ("hooks.internal", "10.1.2.0/24", "127.0.0.1:8080",
 * "[fd00::1]:443"). Without a port every port matches.
 *
 * A hostname entry trusts whatever that name resolves to: it is the operator's name, in the
 * operator's DNS. Entries are exact (no wildcards), so a hostile name cannot be made to match.
 */

export interface AllowEntry {
  /** As written in the config, for messages. */
  raw: string;
  port?: number;
  host?: string;
  network?: BlockList;
  family?: 'ipv4' | 'ipv6';
}

export interface AllowList {
  entries: AllowEntry[];
}

export const EMPTY_ALLOW_LIST: AllowList = { entries: [] };

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

/** Parses one entry; throws an Error whose message says what is wrong with it. */
export function parseAllowEntry(raw: string): AllowEntry {
  const text = raw.trim().toLowerCase();
  let hostPart = text;
  let port: number | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) {
    hostPart = bracketed[1]!;
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const at = text.lastIndexOf(':');
    hostPart = text.slice(0, at);
    port = Number(text.slice(at + 1));
    if (!/^\d+$/.test(text.slice(at + 1))) throw new Error(`"${raw}": the port after ":" must be a number`);
  }
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65_535)) throw new Error(`"${raw}": port must be 1-65535`);

  const [address, prefixText, ...rest] = hostPart.split('/');
  const family = ipFamily(address ?? '');
  if (family) {
    const max = family === 'ipv4' ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (rest.length || !/^\d*$/.test(prefixText ?? '') || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new Error(`"${raw}": a CIDR prefix must be 0-${max}`);
    }
    const network = new BlockList();
    network.addSubnet(bareAddress(address!), prefix, family);
    return { raw, port, network, family };
  }
  if (prefixText !== undefined || !HOSTNAME.test(hostPart)) {
    throw new Error(`"${raw}": expected a hostname, an IP address or a CIDR block, optionally with ":port"`);
  }
  return { raw, port, host: hostPart.replace(/\.$/, '') };
}

export function parseAllowList(raw: readonly string[]): AllowList {
  return { entries: raw.map(parseAllowEntry) };
}

/** The URL's hostname (lowercase, without a trailing dot) is on the list for this port. */
export function allowsHost(list: AllowList, hostname: string, port: number): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, '');
  return list.entries.some((e) => e.host === host && (e.port === undefined || e.port === port));
}

/** The address (as resolved or written) is inside an allowed IP or CIDR for this port. */
export function allowsAddress(list: AllowList, address: string, port: number): boolean {
  const ip = bareAddress(address);
  const family = ipFamily(ip);
  if (!family) return false;
  // Same family only: BlockList would match IPv4 input against IPv6 rules (as if mapped) and mapped
  // input against IPv4 rules, so "::/0" would otherwise allow every IPv4 address.
  return list.entries.some((e) => e.family === family && e.network?.check(ip, family) && (e.port === undefined || e.port === port));
}
