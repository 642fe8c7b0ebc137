import { lookup as dnsLookup } from 'node:dns/promises';
import { bareAddress, forbiddenReason, ipFamily } from './address-policy.js';
import { allowsAddress, allowsHost, EMPTY_ALLOW_LIST, type AllowList } from './allow-list.js';
import { FetchFailedError, UrlRefusedError } from './errors.js';

/**
 * The one check in front of every connection the server opens for someone else: parse, resolve,
 * refuse if ANY resolved address is forbidden (a name with one public and one private address
 * could be steered to the private one), and hand back the addresses that were checked so the
 * caller connects to exactly those (no second lookup a DNS rebinding could answer differently).
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a hostname to all its addresses; injectable so tests can play a hostile DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface GuardPolicy {
  /** `[network] allow`: exceptions to the address policy. */
  allow: AllowList;
  /** Default: the system resolver (getaddrinfo, so /etc/hosts counts). */
  resolve?: Resolver;
  /** `https://user:pass@host/` is refused unless set: credentials in URLs end up in logs and errors. */
  allowCredentials?: boolean;
}

export const DEFAULT_GUARD_POLICY: GuardPolicy = { allow: EMPTY_ALLOW_LIST };

export interface CheckedDestination {
  /** The hostname without brackets or trailing dot, as TLS should verify it. */
  hostname: string;
  port: number;
  /** What to connect to; never empty. */
  addresses: ResolvedAddress[];
}

export interface CheckedUrl extends CheckedDestination {
  url: URL;
}

const systemResolver: Resolver = async (hostname) => {
  const found = await dnsLookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Checks a host and port (a CONNECT target, a URL's authority). */
export async function checkDestination(host: string, port: number, policy: GuardPolicy): Promise<CheckedDestination> {
  const hostname = bareAddress(host).toLowerCase().replace(/\.$/, '');
  if (!hostname) throw new UrlRefusedError('no host');
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UrlRefusedError(`port ${port} is not a valid port`);
  const literal = ipFamily(hostname);
  let addresses: ResolvedAddress[];
  if (literal) {
    addresses = [{ address: hostname, family: literal === 'ipv4' ? 4 : 6 }];
  } else {
    try {
      addresses = await (policy.resolve ?? systemResolver)(hostname);
    } catch {
      throw new FetchFailedError(`could not resolve ${hostname}`);
    }
    if (addresses.length === 0) throw new FetchFailedError(`could not resolve ${hostname}`);
  }
  if (allowsHost(policy.allow, hostname, port)) return { hostname, port, addresses };
  for (const { address } of addresses) {
    if (allowsAddress(policy.allow, address, port)) continue;
    const reason = forbiddenReason(address);
    if (reason) throw new UrlRefusedError(literal ? `${reason} ${hostname}` : `${hostname} resolves to a ${reason}`);
  }
  return { hostname, port, addresses };
}

/** Parses and checks a URL: http or https only, no credentials unless allowed, then the destination. */
export async function checkUrl(input: string | URL, policy: GuardPolicy): Promise<CheckedUrl> {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new UrlRefusedError('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UrlRefusedError(`only http and https URLs, not ${url.protocol.replace(/:$/, '')}`);
  if ((url.username || url.password) && !policy.allowCredentials) throw new UrlRefusedError('the URL carries credentials (user:password@)');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const checked = await checkDestination(url.hostname, port, policy);
  return { ...checked, url };
}

/**
 * A synchronous look at a URL's literal host, for a clear 400 when a webhook is created: an IP
 * literal in a forbidden range. Not the real check (names are resolved at
 * send time by checkUrl); undefined when nothing is wrong at a glance.
 */
export function literalHostProblem(input: string, allow: AllowList): string | undefined {
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'only http and https URLs';
  if (url.username || url.password) return 'the URL carries credentials (user:password@)';
  const hostname = bareAddress(url.hostname).toLowerCase().replace(/\.$/, '');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (allowsHost(allow, hostname, port)) return undefined;
  if (ipFamily(hostname)) {
    if (allowsAddress(allow, hostname, port)) return undefined;
    const reason = forbiddenReason(hostname);
    return reason ? `${reason} ${hostname} is not allowed (add it to [network] allow if it is yours)` : undefined;
  }
  // Names are left to the send-time check, which resolves them: the answer may change anyway.
  return undefined;
}
