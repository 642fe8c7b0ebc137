import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { connectDatabase, type Db } from '../../lib/db/database.js';
import { createLogger } from '../../lib/logger.js';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 14 with more than one API process: the per-token and per-address counters live in Postgres,
 * so two APIs on one database share one budget (with in-memory counters each would allow the full
 * rate). The table holds no raw token, and an unreachable database still limits, per process, never 500.
 */

const PER_TOKEN = 5;
const PER_ADDRESS = 20;

let env: TestWorkflowEnvironment;
/** API "one" (the harness) and API "two": two servers on the same database. */
let one: Harness;
let two: { api: FastifyInstance; baseUrl: string };
/** An API whose database is unreachable (nothing listens on port 1). */
let orphan: { api: FastifyInstance; baseUrl: string; db: Db; logLines: string[] };

async function listen(api: FastifyInstance): Promise<string> {
  await api.listen({ port: 0, host: '127.0.0.1' });
  const address = api.server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

beforeAll(async () => {
  env = await startTestTemporal();
  one = await createHarness({ env, noWorker: true, toml: `[server]\nrate_limit_per_token = ${PER_TOKEN}\nrate_limit_per_address = ${PER_ADDRESS}\n` });
  const deps = { config: one.config, temporal: env.client, temporalAddress: env.address, channels: new ChannelClient(env.client, one.config), apiToken: TEST_TOKEN };
  const api = buildApi({ ...deps, db: one.database.db, logger: createLogger('second-api', 'silent') });
  two = { api, baseUrl: await listen(api) };

  const logLines: string[] = [];
  const db = connectDatabase('postgres://spacebot@127.0.0.1:1/unreachable', 2);
  const logger = createLogger('orphan-api', 'warn', { write: (line: string) => void logLines.push(line) });
  const orphanApi = buildApi({ ...deps, db: db.db, logger });
  orphan = { api: orphanApi, baseUrl: await listen(orphanApi), db, logLines };
});
afterAll(async () => {
  await orphan?.api.close();
  await orphan?.db.close();
  await two?.api.close();
  await one?.close();
  await env?.teardown();
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function get(server: { baseUrl: string }, token = TEST_TOKEN): Promise<Answer> {
  const res = await fetch(`${server.baseUrl}/v1/agents`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function expectTooMany(answer: Answer | undefined, who: RegExp): void {
  expect(answer?.status).toBe(429);
  expect(answer?.body.error).toBe('rate_limited');
  expect(Number(answer?.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(String(answer?.body.message)).toMatch(who);
}

test('two API processes on one database share one budget per token: a burst through both passes at most the limit', async () => {
  // 12 requests at once, 6 through each API: exactly PER_TOKEN pass in total, the rest are 429.
  const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => get(i % 2 === 0 ? one : two)));
  expect(burst.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
  expect(burst.filter((a) => a.status === 200)).toHaveLength(PER_TOKEN);
  for (const a of burst.filter((x) => x.status === 429)) expectTooMany(a, /from this API token/);
  // The next request, through either API, is refused too.
  expectTooMany(await get(one), /more than 5 requests a minute from this API token/);
  expectTooMany(await get(two), /from this API token/);
});

test('two API processes share one budget per client address (token guessing through both is capped)', async () => {
  // The address has made 14 requests above; 6 more pass (as 401s) through the two APIs together, then 429.
  const answers: Answer[] = [];
  for (let i = 0; i < 7; i++) answers.push(await get(i % 2 === 0 ? two : one, `wrong-token-${i}-0123456789abcdefghij`));
  expect(answers.slice(0, 6).map((a) => a.status)).toEqual([401, 401, 401, 401, 401, 401]);
  expectTooMany(answers[6], /more than 20 requests a minute from this client address/);
  expectTooMany(await get(two, 'another-wrong-token-0123456789abcdef'), /from this client address/);
});

test('the counters table holds hashed token keys, never a raw token', async () => {
  const rows = await one.database.db.selectFrom('api_rate_limits').select(['key', 'count']).execute();
  const keys = rows.map((r) => r.key);
  expect(keys).toContain('address:127.0.0.1');
  expect(keys.filter((k) => k.startsWith('token:'))).toHaveLength(1);
  for (const key of keys) {
    expect(key).not.toContain(TEST_TOKEN);
    expect(key).not.toContain('wrong-token');
    expect(key).not.toContain('Bearer');
  }
});

test('with its database unreachable the API still limits (per process) and warns once, never a 500', async () => {
  const answers: Answer[] = [];
  for (let i = 0; i < PER_TOKEN + 2; i++) answers.push(await get(orphan));
  expect(answers.slice(0, PER_TOKEN).map((a) => a.status)).toEqual(Array(PER_TOKEN).fill(200));
  expectTooMany(answers[PER_TOKEN], /from this API token/);
  expectTooMany(answers[PER_TOKEN + 1], /from this API token/);
  const warnings = orphan.logLines.filter((l) => l.includes('rate-limit counters unreachable'));
  expect(warnings).toHaveLength(1);
  expect(warnings.join('')).not.toContain(TEST_TOKEN);
});
