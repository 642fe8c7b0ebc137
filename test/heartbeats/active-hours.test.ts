import { isValidTimeZone, isWithinActiveHours, localMinutes } from '../../lib/heartbeats/active-hours.js';
import { loadConfig } from '../../lib/config/load.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

test('local minutes follow the time zone', () => {
  const at = new Date('2026-01-15T12:30:00Z');
  expect(localMinutes(at, 'UTC')).toBe(12 * 60 + 30);
  expect(localMinutes(at, 'Europe/Berlin')).toBe(13 * 60 + 30);
  expect(localMinutes(at, 'America/New_York')).toBe(7 * 60 + 30);
});

test('active hours are [start, end) and may wrap midnight', () => {
  const utc = (hhmm: string) => new Date(`2026-01-15T${hhmm}:00Z`);
  const day = { start: '09:00', end: '17:00' };
  expect(isWithinActiveHours(utc('09:00'), 'UTC', day)).toBe(true);
  expect(isWithinActiveHours(utc('16:59'), 'UTC', day)).toBe(true);
  expect(isWithinActiveHours(utc('17:00'), 'UTC', day)).toBe(false);
  expect(isWithinActiveHours(utc('08:59'), 'UTC', day)).toBe(false);
  const night = { start: '22:00', end: '06:00' };
  expect(isWithinActiveHours(utc('23:30'), 'UTC', night)).toBe(true);
  expect(isWithinActiveHours(utc('05:59'), 'UTC', night)).toBe(true);
  expect(isWithinActiveHours(utc('06:00'), 'UTC', night)).toBe(false);
  expect(isWithinActiveHours(utc('12:00'), 'UTC', night)).toBe(false);
  // 08:30 UTC is 09:30 in Berlin (winter).
  expect(isWithinActiveHours(utc('08:30'), 'Europe/Berlin', day)).toBe(true);
});

test('time zones are checked', () => {
  expect(isValidTimeZone('Europe/Berlin')).toBe(true);
  expect(isValidTimeZone('Mars/Olympus')).toBe(false);
});

describe('config', () => {
  const load = (toml: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-hbcfg-'));
    const file = path.join(dir, 'spacebot.toml');
    writeFileSync(file, toml);
    return loadConfig({ file, cwd: dir, env: {} });
  };

  test('[[heartbeats]] resolve with defaults', () => {
    const config = load(
      '[heartbeat_defaults]\ntimezone = "Asia/Tokyo"\nmax_per_agent = 5\n\n[[heartbeats]]\nid = "daily"\nprompt = "Summarise"\ncron = "0 9 * * *"\ntarget = { kind = "channel", conversation = "ops" }\n',
    );
    expect(config.heartbeats.maxPerAgent).toBe(5);
    expect(config.heartbeats.definitions).toEqual([
      expect.objectContaining({
        id: 'daily',
        agentId: 'main',
        cron: '0 9 * * *',
        timezone: 'Asia/Tokyo',
        timeoutSeconds: 1500,
        overlap: 'skip',
        runOnce: false,
        source: 'config',
        target: { kind: 'channel', platform: 'webhook', conversation: 'ops' },
      }),
    ]);
  });

  test('bad heartbeats stop start-up naming the key', () => {
    expect(() => load('[[heartbeats]]\nid = "x"\nprompt = "p"\ninterval_seconds = 10\n')).toThrow(/heartbeats\.0\.interval_seconds/);
    expect(() => load('[[heartbeats]]\nid = "x"\nprompt = "p"\n')).toThrow(/exactly one of cron and interval_seconds/);
    expect(() => load('[[heartbeats]]\nid = "x"\nprompt = "p"\ncron = "0 * * * *"\nagent = "ghost"\n')).toThrow(/unknown agent "ghost"/);
  });
});
