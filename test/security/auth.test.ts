import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bearerAuth } from '../../api/auth.js';
import { ApiTokenError, MIN_API_TOKEN_LENGTH, resolveApiToken } from '../../lib/runtime/api-token.js';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { freePorts } from '../helpers/ports.js';
import { refusedOrStarted, startSpacebotProcess, type SpacebotProcess } from './spacebot-entry.js';

/**
 * Issue 13, finding 5: authentication fails closed. A blank or short token stops start-up with one
 * line naming where it came from; the check compares digests, so tokens of any length are just
 * wrong; /health without the token says only ok or unavailable.
 */

let scratch: string;
const running: SpacebotProcess[] = [];
beforeAll(() => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-auth-'));
});
afterAll(() => {
  for (const s of running) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

const SHORT = 'x'.repeat(MIN_API_TOKEN_LENGTH - 1);

describe('start-up through workers/main.ts', () => {
  let count = 0;
  /** A fresh data dir holding `fileToken` (when given) as data/api-token; every port is a free test port. */
  async function start(fileToken: string | undefined, env: Record<string, string> = {}) {
    const dir = path.join(scratch, `start-${count++}`);
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    if (fileToken !== undefined) writeFileSync(path.join(dataDir, 'api-token'), fileToken);
    writeFileSync(path.join(dir, 'spacebot.toml'), '[[agents]]\nid = "main"\n');
    const [apiPort, temporalPort, uiPort] = (await freePorts(3)) as [number, number, number];
    const started = startSpacebotProcess({
      SPACEBOT_CONFIG: path.join(dir, 'spacebot.toml'),
      SPACEBOT_DATA_DIR: dataDir,
      SPACEBOT_PORT: String(apiPort),
      SPACEBOT_TEMPORAL_PORT: String(temporalPort),
      SPACEBOT_TEMPORAL_UI_PORT: String(uiPort),
      ...env,
    });
    running.push(started);
    return { started, file: path.join(dataDir, 'api-token'), code: await refusedOrStarted(started) };
  }

  test.each([
    ['empty', ''],
    ['a newline', '\n'],
    ['whitespace', ' \t \n'],
    [`${MIN_API_TOKEN_LENGTH - 1} characters`, `${SHORT}\n`],
  ])('a data/api-token holding %s stops start-up with one line naming the file', async (_what, content) => {
    const { started, file, code } = await start(content);
    expect(code).toBe(1);
    const lines = started.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`the API token in ${file} is`);
    expect(lines[0]).toContain(`at least ${MIN_API_TOKEN_LENGTH}`);
    expect(lines[0]).toContain(`delete ${file}`);
    // Nothing was replaced behind the operator's back.
    expect(readFileSync(file, 'utf8')).toBe(content);
  }, 400_000);

  test.each([
    ['whitespace', '   '],
    [`${MIN_API_TOKEN_LENGTH - 1} characters`, SHORT],
  ])('SPACEBOT_API_TOKEN holding %s stops start-up with one line naming it, not its value', async (_what, token) => {
    const { started, code } = await start(undefined, { SPACEBOT_API_TOKEN: token });
    expect(code).toBe(1);
    const lines = started.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('the API token in SPACEBOT_API_TOKEN is');
    expect(lines[0]).toContain('openssl rand');
    if (token.trim()) expect(lines[0]).not.toContain(token);
  }, 400_000);
});

test('a generated token is long enough, and a good one in the file is used trimmed', () => {
  const dir = path.join(scratch, 'generated');
  const { token, generatedFile } = resolveApiToken(undefined, dir);
  expect(token.length).toBeGreaterThanOrEqual(MIN_API_TOKEN_LENGTH);
  expect(readFileSync(generatedFile ?? '', 'utf8')).toBe(`${token}\n`);
  expect(resolveApiToken(undefined, dir).token).toBe(token);
  expect(resolveApiToken(`  ${TEST_TOKEN}\n`, dir).token).toBe(TEST_TOKEN);
});

test('the API refuses to guard anything with a blank or short token', () => {
  for (const token of ['', '\n', ' '.repeat(40), SHORT]) expect(() => bearerAuth(token)).toThrow(ApiTokenError);
});

describe('the HTTP API', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness({ noWorker: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  const get = (url: string, authorization?: string) =>
    fetch(`${h.baseUrl}${url}`, { headers: authorization === undefined ? {} : { authorization } });

  test('a wrong token is a 401 whatever its length; the right one, trimmed, passes', async () => {
    const sameLength = `${TEST_TOKEN.slice(0, -1)}${TEST_TOKEN.endsWith('x') ? 'y' : 'x'}`;
    expect(sameLength).toHaveLength(TEST_TOKEN.length);
    const wrong = ['', 'Bearer', 'Bearer ', 'Bearer    ', `Bearer ${sameLength}`, `Bearer ${TEST_TOKEN.slice(0, 5)}`, `Bearer ${TEST_TOKEN}${TEST_TOKEN}`, TEST_TOKEN, `Basic ${TEST_TOKEN}`];
    for (const authorization of wrong) {
      const res = await get('/v1/agents', authorization);
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(await res.json()).toMatchObject({ error: 'unauthorized' });
    }
    expect((await get('/v1/agents', `Bearer ${TEST_TOKEN}`)).status).toBe(200);
    expect((await get('/v1/agents', `bearer   ${TEST_TOKEN}  `)).status).toBe(200);
  });

  test('/health without the token says only ok; with it, the detail', async () => {
    for (const authorization of [undefined, `Bearer ${TEST_TOKEN.slice(0, -1)}z`, 'Bearer ']) {
      const res = await get('/health', authorization);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
    const detailed = await get('/health', `Bearer ${TEST_TOKEN}`);
    expect(detailed.status).toBe(200);
    expect(await detailed.json()).toMatchObject({ status: 'ok', temporal: { ok: true }, database: { ok: true }, adapters: [] });
  });
});
