import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../api/server.js';
import { ChannelClient } from '../../lib/channel/channel-client.js';
import { createLogger } from '../../lib/logger.js';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 14, findings 3 and 4: a crowd of waiting clients gets 200 or 429 (never 500), request rates
 * are capped per token and per client address, open SSE streams and concurrent replays are capped;
 * every refusal is a JSON 429 with Retry-After.
 */

let env: TestWorkflowEnvironment;
/** Default limits, except tiny SSE and replay caps. */
let h: Harness;
/**
 * The API over a Temporal client that does not retry (as when its retries run out), with a waiter cap
 * above what Temporal takes: Temporal's own RESOURCE_EXHAUSTED reaches the API and must be a 429.
 */
let crowd: { api: FastifyInstance; baseUrl: string; connection: Connection };
/** Tiny request rates, no worker. */
let rates: Harness;

beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, toml: '[server]\nmax_sse_streams = 2\nmax_concurrent_replays = 1\n' });
  // An empty interceptor list drops the client's default gRPC retries.
  const connection = await Connection.connect({ address: env.address, interceptors: [] });
  const temporal = new Client({ connection, namespace: env.namespace ?? 'default' });
  const config = { ...h.config, server: { ...h.config.server, limits: { ...h.config.server.limits, maxWaitersPerConversation: 1000 } } };
  const api = buildApi({ config, db: h.database.db, temporal, temporalAddress: env.address, channels: new ChannelClient(temporal, config), logger: createLogger('crowd', 'silent'), apiToken: TEST_TOKEN });
  await api.listen({ port: 0, host: '127.0.0.1' });
  const address = api.server.address();
  crowd = { api, connection, baseUrl: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
  rates = await createHarness({ env, noWorker: true, toml: '[server]\nrate_limit_per_token = 5\nrate_limit_per_address = 8\n' });
});
afterAll(async () => {
  await rates?.close();
  await crowd?.api.close();
  await crowd?.connection.close();
  await h?.close();
  await env?.teardown();
});

interface Answer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

async function call(harness: { baseUrl: string }, method: string, url: string, body?: unknown, token = TEST_TOKEN): Promise<Answer> {
  const res = await fetch(harness.baseUrl + url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function expectTooMany(answer: Answer): void {
  expect(answer.status).toBe(429);
  expect(answer.body.error).toBe('rate_limited');
  expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
}

async function crowdOfWaiters(harness: { baseUrl: string }, conversation: string): Promise<Answer[]> {
  const url = `/v1/agents/main/conversations/${conversation}/messages`;
  return Promise.all(Array.from({ length: 150 }, (_, i) => call(harness, 'POST', url, { text: `waiting ${i}`, messageId: `w-${i}`, wait: 120_000 })));
}

test('150 clients waiting on one conversation get 200 or 429, never 500', async () => {
  const answers = await crowdOfWaiters(h, 'crowd');
  expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  const refused = answers.filter((a) => a.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  for (const a of refused) expectTooMany(a);
  expect(refused[0]?.body.field).toBe('wait');
});

test("Temporal's own limit on updates in flight is a 429 with Retry-After too, never a 500", async () => {
  const answers = await crowdOfWaiters(crowd, 'crowd-uncapped');
  expect(answers.filter((a) => a.status !== 200 && a.status !== 429)).toEqual([]);
  const refused = answers.filter((x) => x.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  for (const a of refused) expectTooMany(a);
});

test('requests per token are capped: 429 with Retry-After past the limit', async () => {
  const answers: Answer[] = [];
  for (let i = 0; i < 6; i++) answers.push(await call(rates, 'GET', '/v1/agents'));
  expect(answers.slice(0, 5).map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
  expectTooMany(answers[5] as Answer);
  expect(String(answers[5]?.body.message)).toMatch(/more than 5 requests a minute from this API token/);
});

test('requests per client address are capped before the token is checked, so guessing tokens is capped too', async () => {
  // The address has made 6 requests in the test above; 2 more pass (as 401s), then 429.
  const answers: Answer[] = [];
  for (let i = 0; i < 3; i++) answers.push(await call(rates, 'GET', '/v1/agents', undefined, `wrong-token-${i}-0123456789`));
  expect(answers.slice(0, 2).map((a) => a.status)).toEqual([401, 401]);
  expectTooMany(answers[2] as Answer);
  expect(String(answers[2]?.body.message)).toMatch(/from this client address/);
});

test('open SSE streams are capped: the third is a 429, and a slot frees when a stream closes', async () => {
  const url = `${h.baseUrl}/v1/agents/main/conversations/sse-cap/messages/stream`;
  const open = async () => {
    const abort = new AbortController();
    const res = await fetch(url, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, signal: abort.signal });
    return { res, abort };
  };
  const first = await open();
  const second = await open();
  expect([first.res.status, second.res.status]).toEqual([200, 200]);
  const third = await open();
  expect(third.res.status).toBe(429);
  expect(Number(third.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(await third.res.json()).toMatchObject({ error: 'rate_limited' });

  first.abort.abort();
  let fourth: Awaited<ReturnType<typeof open>> | undefined;
  for (let i = 0; i < 50 && fourth?.res.status !== 200; i++) {
    if (fourth) await new Promise((r) => setTimeout(r, 100));
    fourth = await open();
  }
  expect(fourth?.res.status).toBe(200);
  second.abort.abort();
  fourth?.abort.abort();
});

test('replays run one at a time here (max_concurrent_replays = 1): the others get 429 with Retry-After', async () => {
  h.fake.enqueue({ text: 'hello back' });
  expect((await call(h, 'POST', '/v1/agents/main/conversations/replay-cap/messages', { text: 'hello', wait: 60_000 })).status).toBe(200);
  const url = '/v1/runs/channel:main:webhook:replay-cap/replay';
  const answers = await Promise.all([call(h, 'POST', url), call(h, 'POST', url), call(h, 'POST', url)]);
  expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
  expect(answers.find((a) => a.status === 200)?.body).toMatchObject({ ok: true });
  const refused = answers.filter((a) => a.status === 429);
  expect(refused).toHaveLength(2);
  for (const a of refused) expectTooMany(a);
  // The slot is free again once the replay finished.
  expect((await call(h, 'POST', url)).status).toBe(200);
});
