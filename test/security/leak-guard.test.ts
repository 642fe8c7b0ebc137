import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../lib/config/load.js';
import { seededRandom } from '../../lib/seeded-random.js';
import { createLogger, setLogLeakGuard } from '../../lib/logger.js';
import { LeakGuard, leakGuardFor, redactDeep } from '../../lib/security/leak-guard.js';
import { DeltaRouter } from '../../lib/streaming/delivery-deltas.js';
import { RedactingRouter } from '../../lib/streaming/redacting-router.js';

/**
 * The leak guard on its own (issue 13, finding 4): every credential shape it must know, the secrets
 * of a loaded config, a streamed reply split anywhere, and the logger. The end-to-end path (a shell
 * printing a key, a reply holding the API token) is test/security/secret-leaks.test.ts.
 */

// Fake credentials in the shapes the providers issue; none is real.
const PEM = ['-----BEGIN RSA PRIVATE KEY-----', 'MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgwMbRvI0MBZhpI', 'Gf4gM1mbu1dcsPrQF1b2YgXc6bEQAiJkCPAYBdnZ0ynP7vBHwXkE7HZfJQ==', '-----END RSA PRIVATE KEY-----'].join('\n');
const SAMPLES: [kind: string, secret: string, context: (s: string) => string][] = [
  ['anthropic key', 'sk-ant-api03-Xq3vB9kLmN2pR7sT4uW6yZ8aC1dE5fG0hJ-_kLmNoPqRsTuVwXyZ', (s) => `ANTHROPIC_API_KEY=${s}`],
  ['openai key', 'sk-proj-4fG7hJ2kL9mN3pQ6rS8tV1wX5yZ0aB4cD7eF', (s) => `export OPENAI_API_KEY="${s}"`],
  ['aws access key', 'AKIAZ7QWERTYUIOP1234', (s) => `aws_access_key_id = ${s}`],
  ['aws secret key', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Q2w8E1rT', (s) => `aws_secret_access_key = ${s}`],
  ['github token', 'ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R', (s) => `token: ${s}`],
  ['github token', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFG', (s) => `GH=${s}`],
  ['slack token', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx', (s) => `bot token ${s} here`],
  ['stripe key', 'sk_live_51HfG7hJ2kL9mN3pQ6rS8tV1wX5yZ', (s) => `Stripe: ${s}.`],
  ['google api key', 'AIzaSyD4fG7hJ2kL9mN3pQ6rS8tV1wX5yZ0aB4c', (s) => `key=${s}&q=1`],
  ['private key', PEM, (s) => `id_rsa:\n${s}\nend of file`],
  ['jwt', 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c', (s) => `cookie session=${s}; path=/`],
  ['bearer token', 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA', (s) => `curl -H "Authorization: Bearer ${s}" https://api.example.com`],
  ['url password', 'hunter2-Secret!', (s) => `DATABASE_URL=postgres://app:${s}@db.internal:5432/app`],
];

describe('each credential shape is redacted and named', () => {
  test.each(SAMPLES)('%s', (kind, secret, context) => {
    const text = context(secret);
    const out = new LeakGuard().redact(text);
    expect(out.text).not.toContain(secret);
    expect(out.text).toContain(`[redacted: ${kind}]`);
    expect(out.kinds).toContain(kind);
  });

  test('the context around a credential stays readable', () => {
    const guard = new LeakGuard();
    expect(guard.redact('curl -H "Authorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA"').text).toBe('curl -H "Authorization: Bearer [redacted: bearer token]"');
    expect(guard.redact('postgres://app:hunter2-Secret!@db:5432/app').text).toBe('postgres://app:[redacted: url password]@db:5432/app');
    expect(guard.redact(`before\n${PEM}\nafter`).text).toBe('before\n[redacted: private key]\nafter');
  });

  test('a private key cut off by the output cap is redacted to the end', () => {
    const cut = PEM.slice(0, 90);
    const out = new LeakGuard().redact(`cat key.pem\n${cut}`);
    expect(out.text).toBe('cat key.pem\n[redacted: private key]');
  });

  test('ordinary text is left alone', () => {
    const guard = new LeakGuard([{ name: 'SHORT', value: 'teal' }]);
    const text = 'My favourite colour is teal. The sk- prefix, a Bearer of news, https://example.com/a:b and eyJ alone are fine.';
    expect(guard.redact(text)).toEqual({ text, kinds: [] });
  });
});

describe('configured secrets', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-leak-guard-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('every secret of a loaded config and the environment is known literally, whatever its shape', () => {
    const file = path.join(dir, 'spacebot.toml');
    writeFileSync(
      file,
      [
        '[database]',
        'url = "postgres://spacebot:db-password-9876@127.0.0.1:5432/spacebot"',
        '[adapters.telegram.support]',
        'token = "123456:telegram-file-token-abcdef"',
        '[adapters.discord.default]',
        'token_env = "MY_DISCORD"',
      ].join('\n'),
    );
    const env = {
      ANTHROPIC_API_KEY: 'anthropic-literal-key-value',
      SPACEBOT_API_TOKEN: 'operator-api-token-0123456789abcdefghij',
      MY_DISCORD: 'discord-token-from-a-named-variable',
      SLACK_OPS_SIGNING_SECRET: 'slack-signing-secret-value',
      SPACEBOT_MASTER_KEY_FILE: '/etc/spacebot/master-key-file',
      HOME: '/root/home-directory',
    };
    const config = loadConfig({ file, cwd: dir, env });
    const guard = leakGuardFor(config, env);
    const secrets = ['operator-api-token-0123456789abcdefghij', 'db-password-9876', '123456:telegram-file-token-abcdef', 'anthropic-literal-key-value', 'discord-token-from-a-named-variable', 'slack-signing-secret-value'];
    for (const secret of secrets) {
      const out = guard.redact(`value: ${secret} (end)`);
      expect(out.text).not.toContain(secret);
      expect(out.kinds[0]).toMatch(/^configured secret /);
    }
    expect(guard.redact('value: anthropic-literal-key-value').text).toBe('value: [redacted: configured secret ANTHROPIC_API_KEY]');
    // A path naming where a secret is, and ordinary variables, are not secrets.
    expect(guard.redact('/etc/spacebot/master-key-file and /root/home-directory').kinds).toEqual([]);
  });

  test('secrets added later (the secrets store, a generated API token) are redacted too; short ones are ignored', () => {
    const guard = new LeakGuard();
    guard.addSecret('STORE_VALUE', 'store-value-abcdef');
    guard.addSecret('TINY', 'abc');
    expect(guard.redact('x store-value-abcdef abc').text).toBe('x [redacted: configured secret STORE_VALUE] abc');
    expect(guard.redact('url-encoded: store-value-abcdef%21').kinds).toEqual(['configured secret STORE_VALUE']);
  });
});

describe('streamed text', () => {
  const guard = new LeakGuard([{ name: 'API token', value: 'operator-api-token-0123456789abcdefghij' }]);
  const text = [
    'Here is what I found: the token is operator-api-token-0123456789abcdefghij and',
    `the key file holds\n${PEM}\n`,
    'with Authorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA and AKIAZ7QWERTYUIOP1234,',
    'plus sk-ant-api03-Xq3vB9kLmN2pR7sT4uW6yZ8aC1dE5fG0hJ-_kLmNoPqRsTuVwXyZ. That is all.',
  ].join(' ');
  const secrets = ['operator-api-token-0123456789abcdefghij', 'MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn', 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA', 'AKIAZ7QWERTYUIOP1234', 'sk-ant-api03-Xq3vB9kLmN2pR7sT4uW6yZ8aC1dE5fG0hJ'];
  /** Whether any piece of a secret at least this long was shown: a prefix split off is a leak too. */
  const leaksPart = (shown: string): string | undefined => secrets.find((s) => [10, 16].some((n) => shown.includes(s.slice(0, n)) || shown.includes(s.slice(-n))));

  test.each([1, 2, 3, 5, 7, 11, 16, 40, 97])('split into %i-character chunks, nothing of a secret is ever shown and the result equals one redaction', (size) => {
    const stream = guard.streamRedactor();
    let shown = '';
    for (let i = 0; i < text.length; i += size) {
      shown += stream.push(text.slice(i, i + size));
      expect(leaksPart(shown)).toBeUndefined();
    }
    shown += stream.flush();
    expect(leaksPart(shown)).toBeUndefined();
    expect(shown).toBe(guard.redact(text).text);
    expect(stream.kinds).toEqual(expect.arrayContaining(['configured secret API token', 'private key', 'bearer token', 'aws access key', 'anthropic key']));
  });

  test('random texts of secrets, words and separators, split at random: no part of a secret is ever shown', () => {
    const random = seededRandom(13);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const pieces = ['operator-api-token-0123456789abcdefghij', 'AKIAZ7QWERTYUIOP1234', 'sk-ant-api03-Xq3vB9kLmN2pR7sT4uW6yZ8aC1dE5fG0hJ-_kLmNoPqRsTuVwXyZ', 'Authorization: Bearer Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA', 'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Q2w8E1rT', PEM, 'the', 'a', 'sketch', 'https://x.example/y', 'sk', 'Bearer'];
    const separators = [' ', '\n', ', ', '=', ' "', '', ':', ' = '];
    const partsOf = [...secrets, 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYz9Q2w8E1rT'].flatMap((s) => [s.slice(0, 10), s.slice(-10)]);
    for (let round = 0; round < 400; round++) {
      let sample = '';
      for (let i = 0, n = 2 + Math.floor(random() * 8); i < n; i++) sample += pick(pieces) + pick(separators);
      const whole = guard.redact(sample).text;
      const stream = guard.streamRedactor();
      let shown = '';
      for (let i = 0; i < sample.length; ) {
        const size = 1 + Math.floor(random() * 12);
        shown += stream.push(sample.slice(i, i + size));
        i += size;
      }
      shown += stream.flush();
      // Never less redacted than the whole text (a split can only make a boundary, so more is fine).
      expect(partsOf.filter((part) => shown.includes(part) && !whole.includes(part))).toEqual([]);
    }
  });

  test('ordinary text flows through at once; only what may begin a credential waits for the next piece', () => {
    const stream = guard.streamRedactor();
    expect(stream.push('one two three four five six seven ')).toBe('one two three four five six seven ');
    expect(stream.push('the key is sk')).toBe('the key is ');
    expect(stream.push('etch, then ')).toBe('sketch, then ');
    expect(stream.push('header Authorization: Bearer ')).toBe('header Authorization: ');
    expect(stream.push('Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA ok')).toBe('');
    expect(stream.push(' then more words follow. ')).toBe('Bearer [redacted: bearer token] ok then more words follow. ');
    expect(stream.flush()).toBe('');
  });

  test("a reply tool's streamed arguments are redacted per reply, split inside the secret and inside a JSON escape", () => {
    const logged: string[][] = [];
    const router = new RedactingRouter(new DeltaRouter(), guard, (kinds) => logged.push(kinds));
    const json = JSON.stringify({ text: 'Sure — "operator-api-token-0123456789abcdefghij" is the token.' });
    let shown = '';
    for (let i = 0; i < json.length; i += 4) {
      const keyed = router.route({ type: 'tool_input', callId: 'call_1', name: 'reply', partialJson: json.slice(i, i + 4) });
      if (keyed) {
        expect(keyed.key).toBe('tool:call_1');
        shown += keyed.text;
      }
      expect(shown).not.toContain('operator-api-token');
    }
    for (const keyed of router.flush()) shown += keyed.text;
    expect(shown).toBe('Sure — "[redacted: configured secret API token]" is the token.');
    expect(logged).toEqual([['configured secret API token']]);
  });
});

test('log lines are redacted: messages, fields and error messages', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  setLogLeakGuard(new LeakGuard([{ name: 'ANTHROPIC_API_KEY', value: 'anthropic-literal-key-value' }]));
  const log = createLogger('leak-test', 'info', sink);
  log.warn({ tool: 'shell', output: 'anthropic-literal-key-value', err: new Error('failed with AKIAZ7QWERTYUIOP1234') }, 'ran with %s', 'anthropic-literal-key-value');
  log.child({ channelId: 'c1' }).error(new Error(`connect postgres://u:db-password-9876@h/db`));
  const all = lines.join('');
  expect(all).not.toContain('anthropic-literal-key-value');
  expect(all).not.toContain('AKIAZ7QWERTYUIOP1234');
  expect(all).not.toContain('db-password-9876');
  const first = JSON.parse(lines[0]!) as { msg: string; output: string; err: { type: string; message: string } };
  expect(first.msg).toBe('ran with [redacted: configured secret ANTHROPIC_API_KEY]');
  expect(first.err).toMatchObject({ type: 'Error', message: 'failed with [redacted: aws access key]' });
});

test('deep redaction copies plain objects and errors, and leaves framework objects (a request with getters) untouched', () => {
  class Request {
    readonly raw = { socket: 'not walked' };
    get url(): string {
      return '/v1/runs';
    }
  }
  const request = new Request();
  const guard = new LeakGuard([{ name: 'K', value: 'anthropic-literal-key-value' }]);
  const out = redactDeep(guard, { req: request, nested: [{ text: 'anthropic-literal-key-value' }], when: new Date(0) });
  expect(out.req).toBe(request);
  expect(out.req.url).toBe('/v1/runs');
  expect(out.nested[0]!.text).toBe('[redacted: configured secret K]');
  expect(out.when).toEqual(new Date(0));
});
