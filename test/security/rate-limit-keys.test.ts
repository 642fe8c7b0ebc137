import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Review findings: the codec routes (/v1/codec/decode, /v1/codec/session) were registered before the
 * rate-limit plugin and had no per-address or per-token limit; and the per-token budget was keyed by
 * the whole Authorization header, so `Bearer X` and `bearer  X` each had a budget of their own.
 */

let env: TestWorkflowEnvironment;
/** Per-token limit 3, generous per-address limit. */
let perToken: Harness;
/** Per-address limit 3. */
let perAddress: Harness;

beforeAll(async () => {
  env = await startTestTemporal();
  perToken = await createHarness({ env, noWorker: true, toml: '[server]\nrate_limit_per_token = 3\nrate_limit_per_address = 1000\n' });
  perAddress = await createHarness({ env, noWorker: true, toml: '[server]\nrate_limit_per_token = 1000\nrate_limit_per_address = 3\n' });
});
afterAll(async () => {
  await perAddress?.close();
  await perToken?.close();
  await env?.teardown();
});

async function call(h: Harness, method: string, url: string, authorization?: string, body?: unknown): Promise<{ status: number; retryAfter: string | null; error?: unknown }> {
  const res = await fetch(h.baseUrl + url, {
    method,
    headers: { ...(authorization !== undefined ? { authorization } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), error: text ? (JSON.parse(text) as { error?: unknown }).error : undefined };
}

test('one token spelt three ways shares one per-token budget', async () => {
  expect((await call(perToken, 'GET', '/v1/agents', `Bearer ${TEST_TOKEN}`)).status).toBe(200);
  expect((await call(perToken, 'GET', '/v1/agents', `bearer   ${TEST_TOKEN}`)).status).toBe(200);
  expect((await call(perToken, 'GET', '/v1/agents', `BEARER\t${TEST_TOKEN}`)).status).toBe(200);
  // The fourth request of the same token in the minute, whatever its spelling: refused.
  const fourth = await call(perToken, 'GET', '/v1/agents', `bearer ${TEST_TOKEN}`);
  expect(fourth).toMatchObject({ status: 429, error: 'rate_limited' });
  expect(Number(fourth.retryAfter)).toBeGreaterThanOrEqual(1);
  // The codec routes draw on the same token budget.
  expect((await call(perToken, 'POST', '/v1/codec/session', `Bearer ${TEST_TOKEN}`)).status).toBe(429);
});

test('the codec routes are under the per-address limit, before their token check', async () => {
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push((await call(perAddress, 'POST', '/v1/codec/decode', undefined, { payloads: [] })).status);
  // Guessing the token through the codec route is capped like anywhere under /v1.
  expect(answers).toEqual([401, 401, 401]);
  const over = await call(perAddress, 'POST', '/v1/codec/decode', undefined, { payloads: [] });
  expect(over).toMatchObject({ status: 429, error: 'rate_limited' });
  expect((await call(perAddress, 'POST', '/v1/codec/session', `Bearer ${TEST_TOKEN}`)).status).toBe(429);
});
