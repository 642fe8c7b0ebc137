import { forbiddenReason } from '../../lib/net/address-policy.js';
import { allowsAddress, allowsHost, parseAllowEntry, parseAllowList } from '../../lib/net/allow-list.js';

// Classification only: no packet is ever sent to these addresses.

test.each([
  ['127.0.0.1', /loopback/],
  ['127.255.0.9', /loopback/],
  ['10.1.2.3', /private/],
  ['172.16.0.1', /private/],
  ['172.31.255.255', /private/],
  ['192.168.1.1', /private/],
  ['169.254.169.254', /metadata/],
  ['169.254.10.1', /link-local/],
  ['100.64.0.1', /carrier-grade NAT/],
  ['100.127.255.254', /carrier-grade NAT/],
  ['0.0.0.0', /this network/],
  ['0.1.2.3', /this network/],
  ['224.0.0.1', /multicast/],
  ['239.255.255.250', /multicast/],
  ['255.255.255.255', /broadcast/],
  ['240.0.0.1', /reserved/],
  ['198.18.0.1', /benchmarking/],
  ['192.0.2.10', /documentation/],
  ['192.0.0.192', /IETF/],
  ['::1', /loopback/],
  ['::', /unspecified/],
  ['::ffff:127.0.0.1', /IPv4-mapped/],
  ['::ffff:7f00:1', /IPv4-mapped/],
  ['[::ffff:169.254.169.254]', /IPv4-mapped/],
  ['::ffff:8.8.8.8', /IPv4-mapped/],
  ['::127.0.0.1', /IPv4-compatible/],
  ['64:ff9b::7f00:1', /NAT64/],
  ['2002:7f00:1::1', /6to4/],
  ['2001:0:4136:e378::1', /IETF protocol/],
  ['2001:db8::1', /documentation/],
  ['fc00::1', /unique local/],
  ['fd12:3456::1', /unique local/],
  ['fe80::1', /link-local/],
  ['fe80::1%eth0', /link-local/],
  ['fec0::1', /site-local/],
  ['ff02::1', /multicast/],
  ['4000::1', /not global unicast/],
  ['localhost', /not an IP/],
])('%s is refused (%s)', (address, reason) => {
  expect(forbiddenReason(address)).toMatch(reason);
});

test.each(['8.8.8.8', '1.1.1.1', '93.184.216.34', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])('%s is a public address', (address) => {
  expect(forbiddenReason(address)).toBeUndefined();
});

test('allow-list entries: hosts, addresses, CIDR blocks, ports', () => {
  const list = parseAllowList(['hooks.internal', '10.1.2.0/24', '127.0.0.1:8080', '[fd00::1]:443', 'fd00:1::/64', 'Example.COM.']);
  expect(allowsHost(list, 'hooks.internal', 1)).toBe(true);
  expect(allowsHost(list, 'evil.hooks.internal', 1)).toBe(false);
  expect(allowsHost(list, 'example.com', 443)).toBe(true);
  expect(allowsAddress(list, '10.1.2.200', 80)).toBe(true);
  expect(allowsAddress(list, '10.1.3.1', 80)).toBe(false);
  expect(allowsAddress(list, '127.0.0.1', 8080)).toBe(true);
  expect(allowsAddress(list, '127.0.0.1', 8081)).toBe(false);
  expect(allowsAddress(list, '[fd00::1]', 443)).toBe(true);
  expect(allowsAddress(list, 'fd00::1', 80)).toBe(false);
  expect(allowsAddress(list, 'fd00:1::5', 80)).toBe(true);
  // An IPv4 entry does not allow the same address spelt as IPv4-mapped IPv6, nor the reverse.
  expect(allowsAddress(list, '::ffff:127.0.0.1', 8080)).toBe(false);
  expect(allowsAddress(parseAllowList(['::/0']), '8.8.8.8', 80)).toBe(false);
});

test.each([
  ['10.0.0.0/33', /CIDR prefix/],
  ['host:99999', /port/],
  ['host:abc', /port/],
  ['exa mple.com', /expected a hostname/],
  ['*.example.com', /expected a hostname/],
  ['', /expected a hostname/],
])('allow-list entry %j is rejected', (entry, message) => {
  expect(() => parseAllowEntry(entry)).toThrow(message);
});
