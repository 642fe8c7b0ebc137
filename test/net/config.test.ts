import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import { egressPolicy, guardPolicy } from '../../lib/net/config.js';
import { allowsAddress, allowsHost } from '../../lib/net/allow-list.js';

function configWith(toml: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-net-config-'));
  const file = path.join(dir, 'spacebot.toml');
  writeFileSync(file, toml);
  return () => loadConfig({ file, cwd: dir, env: {} });
}

test('[network] allow is empty by default: nothing private is allowed', () => {
  const config = configWith('')();
  expect(config.network.allow).toEqual([]);
  expect(allowsAddress(guardPolicy(config.network).allow, '127.0.0.1', 80)).toBe(false);
});

test('[network] allow entries are parsed once into the guard policy', () => {
  const config = configWith('[network]\nallow = ["hooks.internal", "10.1.2.0/24", "127.0.0.1:8080"]\n')();
  const { allow } = guardPolicy(config.network);
  expect(guardPolicy(config.network).allow).toBe(allow);
  expect(allowsHost(allow, 'hooks.internal', 443)).toBe(true);
  expect(allowsAddress(allow, '10.1.2.3', 443)).toBe(true);
  expect(allowsAddress(allow, '127.0.0.1', 8080)).toBe(true);
  expect(allowsAddress(allow, '127.0.0.1', 5432)).toBe(false);
});

test('a bad entry stops start-up with one line naming the key', () => {
  const load = configWith('[network]\nallow = ["ok.example", "10.0.0.0/33"]\n');
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/"network\.allow\.1": "10\.0\.0\.0\/33": a CIDR prefix must be 0-32/);
  expect(configWith('[network]\nallowed = []\n')).toThrow(/unknown key "network\.allowed"/);
});

test('[network] allow and egress_allow are separate lists: webhooks get one, the workers\' egress proxy the other', () => {
  const config = configWith('[network]\nallow = ["10.1.2.3:8080"]\negress_allow = ["pypi.internal:443"]\n')();
  expect(allowsAddress(guardPolicy(config.network).allow, '10.1.2.3', 8080)).toBe(true);
  expect(allowsAddress(egressPolicy(config.network).allow, '10.1.2.3', 8080)).toBe(false);
  expect(allowsHost(egressPolicy(config.network).allow, 'pypi.internal', 443)).toBe(true);
  expect(allowsHost(guardPolicy(config.network).allow, 'pypi.internal', 443)).toBe(false);
  expect(configWith('[network]\negress_allow = ["10.0.0.0/33"]\n')).toThrow(/"network\.egress_allow\.0": "10\.0\.0\.0\/33": a CIDR prefix must be 0-32/);
});
