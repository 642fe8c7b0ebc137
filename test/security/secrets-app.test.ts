import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { createLogger } from '../../lib/logger.js';
import { startSpacebot, type RunningApp } from '../../lib/runtime/app.js';
import { openDatabase } from '../../lib/runtime/database-runtime.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { loadMasterKeys } from '../../lib/secrets/master-key.js';
import { SecretStore } from '../../lib/secrets/store.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * The secrets store and history encryption through the real start-up (lib/runtime/app.ts) against
 * the Temporal dev server: a provider key given as `secret:NAME`, the write-only /v1/secrets API, the
 * CLI reading the value from stdin, and `[temporal] encrypt_history` keeping user text out of the
 * workflow history while the authenticated codec endpoint shows it to the operator.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TOKEN = 'secrets-app-test-token-0123456789';
const UI_ORIGIN = 'http://127.0.0.1:8233';
const STORED_KEY = 'sk-ant-from-the-secrets-store-4242';
const USER_TEXT = 'my locker combination is 31-7-22 zebra';
const logger = createLogger('secrets-app-test', process.env.LOG_LEVEL ?? 'silent');

let env: TestWorkflowEnvironment;
let fake: FakeLlm;
let dir: string;
let config: SpacebotConfig;
let app: RunningApp | undefined;
let apiUrl: string;
let server: TestDatabase | undefined;

function configFor(): SpacebotConfig {
  return loadConfig({
    cwd: dir,
    env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), SPACEBOT_API_TOKEN: TOKEN, SPACEBOT_PORT: '0', TEMPORAL_UI_URL: UI_ORIGIN, DATABASE_URL: server?.url },
  });
}

// From the environment, as in production: the replay child process finds the same key there.
const MASTER_KEY = randomBytes(32).toString('base64');
const previousMasterKey = process.env.SPACEBOT_MASTER_KEY;

beforeAll(async () => {
  process.env.SPACEBOT_MASTER_KEY = MASTER_KEY;
  env = await startTestTemporal();
  fake = await startFakeLlm();
  server = await createTestDatabase();
  fake.script((req) => ({ text: `noted: ${req.messages.filter((m) => m.role === 'user').map((m) => m.text).join(' | ')}` }));
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-secrets-app-'));
  writeFileSync(
    path.join(dir, 'spacebot.toml'),
    [
      '[temporal]',
      `address = "${env.address}"`,
      `task_queue = "secrets-app-${path.basename(dir)}"`,
      'encrypt_history = true',
      '[providers.anthropic]',
      'api_key = "secret:LLM_KEY"',
      `base_url = "${fake.url}"`,
      '[defaults]',
      'model = "anthropic/claude-haiku-5-5"',
      '[cortex]',
      'enabled = false',
      '[memory]',
      'embedder = "none"',
      '',
    ].join('\n'),
  );
  // The operator stored the provider key before the first start (as `spacebot secrets set` would).
  const seed = await openDatabase(configFor(), logger);
  await new SecretStore(seed.db, loadMasterKeys(path.join(dir, 'data'))).set('LLM_KEY', STORED_KEY);
  await seed.close();

  config = configFor();
  app = await startSpacebot(config, logger, { api: true, worker: true, watchIngest: false, tools: false });
  apiUrl = app.apiUrl as string;
}, 240_000);

afterAll(async () => {
  await app?.stop();
  await fake?.close();
  await server?.drop();
  await env?.teardown();
  if (previousMasterKey === undefined) delete process.env.SPACEBOT_MASTER_KEY;
  else process.env.SPACEBOT_MASTER_KEY = previousMasterKey;
});

const api = async (method: string, route: string, body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(apiUrl + route, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
};

function cli(args: string[], stdin: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/spacebot.mjs'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SPACEBOT_URL: apiUrl, SPACEBOT_API_TOKEN: TOKEN },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

interface JsonPayload {
  metadata: Record<string, string>;
  data: string;
}

/** Every payload (as the codec protocol's JSON) anywhere in a history object, with where it was. */
function payloadsIn(node: unknown, out: (JsonPayload & { at: string })[] = [], at = 'history', depth = 0): typeof out {
  if (!node || typeof node !== 'object' || depth > 40) return out;
  const p = node as { metadata?: Record<string, unknown>; data?: unknown };
  if (p.metadata && typeof p.metadata === 'object' && p.data instanceof Uint8Array) {
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.metadata)) if (v instanceof Uint8Array) metadata[k] = Buffer.from(v).toString('base64');
    out.push({ at, metadata, data: Buffer.from(p.data).toString('base64') });
    return out;
  }
  for (const [key, value] of Object.entries(node)) payloadsIn(value, out, `${at}.${key}`, depth + 1);
  return out;
}

const encodingOf = (p: JsonPayload) => Buffer.from(p.metadata.encoding ?? '', 'base64').toString();

/** All bytes and strings of a history, so a search cannot miss text hidden in a Uint8Array. */
function historyBytes(node: unknown, out: Buffer[] = [], depth = 0): Buffer[] {
  if (node instanceof Uint8Array) out.push(Buffer.from(node));
  else if (typeof node === 'string') out.push(Buffer.from(node));
  else if (node && typeof node === 'object' && depth < 40) for (const value of Object.values(node)) historyBytes(value, out, depth + 1);
  return out;
}

describe('secret:NAME config', () => {
  test('the provider key comes from the store: the LLM request carries it', async () => {
    const res = await api('POST', '/v1/agents/main/conversations/keyed/messages', { text: 'hello there', wait: 60_000 });
    expect(res.status).toBe(200);
    const call = fake.requests.find((r) => r.path.endsWith('/messages'));
    // The SDK sends the key as x-api-key or as a bearer authorization, by client version.
    expect(`${call?.headers['x-api-key'] ?? ''} ${call?.headers.authorization ?? ''}`).toContain(STORED_KEY);
    expect(config.providers.anthropic.apiKey).toBe(STORED_KEY);
  }, 120_000);
});

describe('/v1/secrets and the CLI', () => {
  test('no route returns a value: put answers name and time, list names and times', async () => {
    const value = 'put-over-http-value-5550123';
    const put = await api('PUT', '/v1/secrets/HTTP_SECRET', { value });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({ name: 'HTTP_SECRET', updatedAt: expect.any(String), created: true });
    expect((await api('PUT', '/v1/secrets/HTTP_SECRET', { value })).status).toBe(200);
    const list = await api('GET', '/v1/secrets');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(value);
    expect(list.text).not.toContain(STORED_KEY);
    expect((list.body.secrets as { name: string }[]).map((s) => s.name)).toEqual(['HTTP_SECRET', 'LLM_KEY']);
    for (const s of list.body.secrets as Record<string, unknown>[]) expect(Object.keys(s).sort()).toEqual(['name', 'updatedAt']);
    expect((await api('GET', '/v1/secrets/HTTP_SECRET')).status).toBe(404);
    expect((await api('PUT', '/v1/secrets/lower_case', { value })).body).toMatchObject({ error: 'invalid_request', field: 'name' });
    expect((await api('PUT', '/v1/secrets/EMPTY', { value: '' })).body).toMatchObject({ message: 'secret EMPTY: the value is empty' });
    expect((await api('GET', '/v1/secrets', undefined, { authorization: 'Bearer wrong-token-0000000000000' })).status).toBe(401);
    expect((await api('DELETE', '/v1/secrets/HTTP_SECRET')).status).toBe(204);
    expect((await api('DELETE', '/v1/secrets/HTTP_SECRET')).status).toBe(404);
  });

  test('spacebot secrets set reads the value from stdin; a value on the command line is refused', async () => {
    const set = await cli(['secrets', 'set', 'CLI_SECRET'], 'piped-value-from-stdin-77\n');
    expect(set).toMatchObject({ code: 0, stderr: '' });
    expect(set.stdout).toContain('stored secret CLI_SECRET');
    expect(set.stdout).not.toContain('piped-value');
    const list = await cli(['secrets', 'list'], '');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/CLI_SECRET/);
    expect(list.stdout).not.toContain('piped-value');
    const argv = await cli(['secrets', 'set', 'ARGV_SECRET', 'visible-in-ps'], '');
    expect(argv.code).toBe(2);
    expect(argv.stderr).toContain('secrets set takes the value from standard input, never from the command line');
  }, 60_000);
});

describe('history at rest', () => {
  let payloads: JsonPayload[];

  test("the workflow history holds no user text, only encrypted payloads", async () => {
    const res = await api('POST', '/v1/agents/main/conversations/private/messages', { text: USER_TEXT, wait: 60_000 });
    expect(res.status).toBe(200);
    expect(JSON.stringify(res.body.replies)).toContain(USER_TEXT);
    // The raw history as the Temporal server stores it, through a client without the codec.
    const history = await env.client.workflow.getHandle(res.body.workflowId as string).fetchHistory();
    const bytes = Buffer.concat(historyBytes(history));
    expect(bytes.includes(Buffer.from('locker combination'))).toBe(false);
    expect(bytes.includes(Buffer.from('31-7-22'))).toBe(false);
    const found = payloadsIn(history);
    // Readable by design: search attributes (the server indexes them) and the SDK's patch markers.
    const plain = found.filter((p) => encodingOf(p) !== 'binary/encrypted').map((p) => p.at);
    expect(plain.filter((at) => !/\.searchAttributes\.|\.markerRecordedEventAttributes\./.test(at))).toEqual([]);
    payloads = found.filter((p) => encodingOf(p) === 'binary/encrypted').map(({ metadata, data }) => ({ metadata, data }));
    // Inputs, activity results, update results: all of them encrypted.
    expect(payloads.length).toBeGreaterThan(5);
  }, 120_000);

  test('the codec endpoint decodes the history for the operator with the token, and refuses without it', async () => {
    const decoded = await api('POST', '/v1/codec/decode', { payloads }, { 'x-namespace': 'default', origin: UI_ORIGIN });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(decoded.headers.get('access-control-allow-credentials')).toBe('true');
    const plain = (decoded.body.payloads as { data: string }[]).map((p) => Buffer.from(p.data, 'base64').toString()).join('\n');
    expect(plain).toContain(USER_TEXT);

    const anonymous = await fetch(`${apiUrl}/v1/codec/decode`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-namespace': 'default' }, body: JSON.stringify({ payloads }) });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('locker');
    expect((await api('POST', '/v1/codec/decode', { payloads }, { authorization: 'Bearer nope-nope-nope-nope-nope' })).status).toBe(401);
    expect((await api('POST', '/v1/codec/decode', { payloads }, { 'x-namespace': 'other' })).status).toBe(400);

    // Encode then decode round-trips, as the UI does for signals and resets.
    const original = { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"hi"').toString('base64') };
    const encoded = await api('POST', '/v1/codec/encode', { payloads: [original] });
    expect(Buffer.from((encoded.body.payloads as { metadata: Record<string, string> }[])[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    const back = await api('POST', '/v1/codec/decode', { payloads: encoded.body.payloads });
    expect(back.body.payloads).toEqual([original]);
  });

  test('a browser signs in once at /v1/codec/login; the session cookie then decodes without the token', async () => {
    const page = await fetch(`${apiUrl}/v1/codec/login`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('type="password"');
    expect((await fetch(`${apiUrl}/v1/codec/session`, { method: 'POST' })).status).toBe(401);
    const session = await fetch(`${apiUrl}/v1/codec/session`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(session.status).toBe(204);
    const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(session.headers.get('set-cookie')).toMatch(/HttpOnly/);
    expect(cookie).not.toContain(TOKEN);
    const withCookie = (value: string) =>
      fetch(`${apiUrl}/v1/codec/decode`, { method: 'POST', headers: { cookie: value, 'content-type': 'application/json', origin: UI_ORIGIN }, body: JSON.stringify({ payloads }) });
    const decoded = await withCookie(cookie);
    expect(decoded.status).toBe(200);
    const body = (await decoded.json()) as { payloads: { data: string }[] };
    expect(body.payloads.map((p) => Buffer.from(p.data, 'base64').toString()).join('\n')).toContain(USER_TEXT);
    const forged = cookie.replace(/\.(.)/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`);
    expect((await withCookie(forged)).status).toBe(401);
    expect((await withCookie(`spacebot_codec=${Math.floor(Date.now() / 1000) + 3600}.${'A'.repeat(43)}`)).status).toBe(401);
  });

  test("the API's run timeline decodes the history through the codec", async () => {
    const run = await api('GET', `/v1/runs/${encodeURIComponent('channel:main:webhook:private')}`);
    expect(run.status).toBe(200);
    expect(run.text).toContain(USER_TEXT);
  });

  test('an encrypted run replays against the current code (the replay process decodes it with the master key)', async () => {
    const replay = await api('POST', `/v1/runs/${encodeURIComponent('channel:main:webhook:private')}/replay`);
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ ok: true });
  }, 180_000);

  test('CORS preflights need no token but admit only the Temporal UI origin', async () => {
    const preflight = (origin: string) =>
      fetch(`${apiUrl}/v1/codec/decode`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' } });
    const ui = await preflight(UI_ORIGIN);
    expect(ui.status).toBe(204);
    expect(ui.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(ui.headers.get('access-control-allow-headers')).toContain('authorization');
    const evil = await preflight('http://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('after a restart', () => {
  test('the value the CLI piped in is stored exactly (one trailing newline dropped)', async () => {
    await app?.stop();
    app = undefined;
    const db = await openDatabase(configFor(), logger);
    try {
      expect(await new SecretStore(db.db, loadMasterKeys(path.join(dir, 'data'))).get('CLI_SECRET')).toBe('piped-value-from-stdin-77');
    } finally {
      await db.close();
    }
  }, 60_000);
});
