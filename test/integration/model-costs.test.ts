/**
 * Costs end to end: the ledger row and exact cost of every LLM call of a conversation, unknown models
 * priced by the default and flagged, the budget warning announced once, the hard stop (no request
 * reaches the model), and GET /v1/usage. Each test uses its own agent, so budgets never mix.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createHarness, TEST_TOKEN, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

interface Reply {
  text: string;
  kind: string;
}

let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({
    env,
    toml: `
[pricing."anthropic/priced-model"]
input_per_mtok = 2
output_per_mtok = 10
cache_read_per_mtok = 0.2
cache_write_per_mtok = 2.5

[budgets]
warn_at = 0.5

[budgets.agents.warned]
daily_usd = 0.10

[budgets.agents.capped]
daily_usd = 0.01

${['ledger', 'unknown', 'warned', 'capped', 'usage']
  .map((id) => `[[agents]]\nid = "${id}"\nmodel = "anthropic/${id === 'unknown' ? 'mystery-model' : 'priced-model'}"\n`)
  .join('\n')}
`,
  });
});

afterAll(async () => {
  await h?.close();
  await env?.teardown();
});

beforeEach(() => {
  h.fake.reset();
});

const send = (agent: string, conversation: string, text: string) =>
  h.request('POST', `/v1/agents/${agent}/conversations/${conversation}/messages`, { text, wait: true });
const repliesOf = (res: { body: Record<string, unknown> }) => res.body.replies as Reply[];
const wfId = (agent: string, conversation: string) => `channel:${agent}:webhook:${conversation}`;

async function ledger(agent: string) {
  return h.database.db
    .selectFrom('llm_calls')
    .select(['agent_id', 'channel_id', 'process', 'provider', 'model', 'input_tokens', 'output_tokens', 'cache_read_tokens', 'cache_write_tokens', 'cost_usd', 'priced_by_default', 'created_at', 'latency_ms'])
    .where('agent_id', '=', agent)
    .orderBy('id')
    .execute();
}

test('every call of a multi-turn conversation writes a ledger row with its tokens by kind and exact cost', async () => {
  h.fake.enqueue(
    { text: 'one', usage: { input: 1000, output: 200, cacheWrite: 3000 } },
    { text: 'two', usage: { input: 100, output: 300, cacheRead: 3000, cacheWrite: 500 } },
    { text: 'three', usage: { input: 50, output: 100, cacheRead: 3500 } },
  );
  for (const [i, text] of ['first', 'second', 'third'].entries()) {
    const res = await send('ledger', 'multi', text);
    expect(repliesOf(res).map((r) => r.text)).toEqual([['one', 'two', 'three'][i]]);
  }
  const rows = await ledger('ledger');
  expect(rows.map((r) => ({ ...r, cost_usd: Number(r.cost_usd), created_at: undefined, latency_ms: undefined }))).toEqual([
    // 1000 × $2 + 200 × $10 + 3000 × $2.5 per Mtok = $0.0115
    { agent_id: 'ledger', channel_id: wfId('ledger', 'multi'), process: 'channel', provider: 'anthropic', model: 'priced-model', input_tokens: 1000, output_tokens: 200, cache_read_tokens: 0, cache_write_tokens: 3000, cost_usd: 0.0115, priced_by_default: false, created_at: undefined, latency_ms: undefined },
    // 100 × 2 + 300 × 10 + 3000 × 0.2 + 500 × 2.5 = 5050 µ$ = $0.00505
    { agent_id: 'ledger', channel_id: wfId('ledger', 'multi'), process: 'channel', provider: 'anthropic', model: 'priced-model', input_tokens: 100, output_tokens: 300, cache_read_tokens: 3000, cache_write_tokens: 500, cost_usd: 0.00505, priced_by_default: false, created_at: undefined, latency_ms: undefined },
    // 50 × 2 + 100 × 10 + 3500 × 0.2 = 1800 µ$ = $0.0018
    { agent_id: 'ledger', channel_id: wfId('ledger', 'multi'), process: 'channel', provider: 'anthropic', model: 'priced-model', input_tokens: 50, output_tokens: 100, cache_read_tokens: 3500, cache_write_tokens: 0, cost_usd: 0.0018, priced_by_default: false, created_at: undefined, latency_ms: undefined },
  ]);
  for (const r of rows) {
    expect(r.created_at).toBeInstanceOf(Date);
    expect(r.latency_ms).toBeGreaterThanOrEqual(0);
  }
  expect(rows.map((r) => r.cost_usd)).toEqual(['0.01150000', '0.00505000', '0.00180000']);
});

test('an unknown model is priced by the default price and flagged', async () => {
  h.fake.enqueue({ text: 'who knows', usage: { input: 1000, output: 1000 } });
  await send('unknown', 'mystery', 'hello');
  const [row] = await ledger('unknown');
  // Default: $3 in / $15 out per Mtok.
  expect(row).toMatchObject({ model: 'mystery-model', priced_by_default: true });
  expect(Number(row?.cost_usd)).toBe(0.018);
});

test('crossing warn_at of the daily budget is announced once in the conversation', async () => {
  // $0.02 per call against a $0.10 daily budget warned at 50%: the 3rd call crosses it.
  h.fake.script(() => ({ text: 'answer', usage: { input: 0, output: 2000 } }));
  const turns: Reply[][] = [];
  for (let i = 1; i <= 4; i++) turns.push(repliesOf(await send('warned', 'budget', `question ${i}`)));
  expect(turns.map((t) => t.length)).toEqual([1, 1, 2, 1]);
  const [notice, answer] = turns[2]!;
  expect(notice?.kind).toBe('reply');
  expect(notice?.text).toMatch(/^Heads-up: I have used \$0\.06 of my daily budget of \$0\.10 \(60%\)/);
  expect(answer?.text).toBe('answer');
  const notices = await h.database.db.selectFrom('budget_notices').select(['agent_id', 'period', 'kind', 'channel_id', 'turn_seq']).where('agent_id', '=', 'warned').execute();
  expect(notices).toEqual([{ agent_id: 'warned', period: 'day', kind: 'warning', channel_id: wfId('warned', 'budget'), turn_seq: 3 }]);
  // A new conversation of the same agent is not warned again in the same day.
  const other = repliesOf(await send('warned', 'another', 'hi'));
  expect(other.map((r) => r.text)).toEqual(['answer']);
});

test('at the cap no LLM call is made and the user gets a clear message', async () => {
  h.fake.script(() => ({ text: 'pricey answer', usage: { input: 0, output: 2000 } }));
  const first = repliesOf(await send('capped', 'stop', 'first'));
  expect(first.map((r) => r.text).at(-1)).toBe('pricey answer');
  expect(h.fake.requests).toHaveLength(1);

  const second = repliesOf(await send('capped', 'stop', 'second'));
  expect(second).toHaveLength(1);
  expect(second[0]?.kind).toBe('error');
  expect(second[0]?.text).toBe(
    "Sorry, I can't answer right now: I have reached my daily spending limit of $0.01 ($0.02 spent today). " +
      "I'll be able to answer again once it resets at midnight UTC, or sooner if an operator raises budgets.daily_usd.",
  );
  // The fake saw no second request: the activity refused before calling the model.
  expect(h.fake.requests).toHaveLength(1);
  expect(await ledger('capped')).toHaveLength(1);
});

test('GET /v1/usage groups tokens and cost by model, process or day, and names bad fields', async () => {
  const row = (model: string, process: string, day: string, cost: number, pricedByDefault = false) => ({
    call_key: `usage:${model}:${process}:${day}:${cost}`,
    agent_id: 'usage',
    channel_id: null,
    process,
    provider: 'anthropic',
    model,
    input_tokens: 100,
    output_tokens: 10,
    cache_read_tokens: 1000,
    cache_write_tokens: 5,
    latency_ms: 1,
    stop_reason: 'end_turn',
    cost_usd: cost,
    priced_by_default: pricedByDefault,
    created_at: `${day}T12:00:00Z`,
  });
  await h.database.db
    .insertInto('llm_calls')
    .values([
      row('priced-model', 'channel', '2026-03-01', 0.5),
      row('priced-model', 'channel', '2026-03-02', 0.25),
      row('priced-model', 'cortex', '2026-03-02', 0.125),
      row('mystery-model', 'branch', '2026-03-03', 1, true),
    ])
    .execute();
  const usage = async (query: string) => {
    const res = await h.request('GET', `/v1/usage?agent=usage&from=2026-03-01&to=2026-03-03${query}`);
    expect(res.status).toBe(200);
    return res.body as { group: string; rows: Record<string, unknown>[]; total: Record<string, number> };
  };

  const byModel = await usage('&group=model');
  expect(byModel.rows).toEqual([
    { key: 'anthropic/mystery-model', calls: 1, inputTokens: 100, outputTokens: 10, cacheReadTokens: 1000, cacheWriteTokens: 5, costUsd: 1, pricedByDefaultCalls: 1 },
    { key: 'anthropic/priced-model', calls: 3, inputTokens: 300, outputTokens: 30, cacheReadTokens: 3000, cacheWriteTokens: 15, costUsd: 0.875, pricedByDefaultCalls: 0 },
  ]);
  expect(byModel.total).toEqual({ calls: 4, inputTokens: 400, outputTokens: 40, cacheReadTokens: 4000, cacheWriteTokens: 20, costUsd: 1.875, pricedByDefaultCalls: 1 });
  expect((await usage('&group=process')).rows.map((r) => [r.key, r.calls, r.costUsd])).toEqual([
    ['branch', 1, 1],
    ['channel', 2, 0.75],
    ['cortex', 1, 0.125],
  ]);
  // Without group: by model. A date-only `to` includes that day.
  expect((await usage('')).group).toBe('model');
  expect((await usage('&group=day')).rows.map((r) => [r.key, r.calls, r.costUsd])).toEqual([
    ['2026-03-01', 1, 0.5],
    ['2026-03-02', 2, 0.375],
    ['2026-03-03', 1, 1],
  ]);
  const narrow = await h.request('GET', '/v1/usage?agent=usage&from=2026-03-02T00:00:00Z&to=2026-03-02T23:59:59Z&group=day');
  expect((narrow.body.rows as { key: string }[]).map((r) => r.key)).toEqual(['2026-03-02']);

  const bad = async (query: string, field: string) => {
    const res = await h.request('GET', `/v1/usage?${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field });
    expect(String(res.body.message)).toContain(field);
  };
  await bad('group=week', 'group');
  await bad('from=yesterday', 'from');
  await bad('to=2026-13-45', 'to');
  await bad('agent=Not%20An%20Id', 'agent');
  await bad('from=2026-03-03&to=2026-03-01', 'to');
  const unknown = await h.request('GET', '/v1/usage?colour=blue');
  expect(unknown.status).toBe(400);
  expect(unknown.body.message).toMatch(/unknown field colour/);
  const noToken = await fetch(`${h.baseUrl}/v1/usage`);
  expect(noToken.status).toBe(401);
  const ok = await fetch(`${h.baseUrl}/v1/usage`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  expect(ok.status).toBe(200);
});
