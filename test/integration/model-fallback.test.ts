/**
 * The model layer end to end: routing, fallback chains, cooldowns and scrubbing, through the real
 * SDKs against fake LLM servers, with the Temporal dev server and PGlite. Fake A (the harness's own)
 * serves `anthropic/*` and `openai/*`; fake B is the custom provider `backup` (OpenAI-compatible);
 * fake C is `slow`, an Anthropic-compatible endpoint with a one-second per-attempt timeout. Every test
 * uses its own agent and models, so cooldowns never leak between tests.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { ModelAttempt } from '../../activities/contract.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

interface Reply {
  text: string;
  kind: string;
}

const BACKUP_KEY = 'backup-literal-secret-42';

let env: TestWorkflowEnvironment;
let h: Harness;
let b: FakeLlm;
let c: FakeLlm;

const AGENTS = ['rl', 'err', 'slowly', 'all', 'auth', 'leak', 'cost', 'allow', 'routed', 'own'];

beforeAll(async () => {
  env = await startTestTemporal();
  b = await startFakeLlm();
  c = await startFakeLlm();
  const toml = `
[providers.backup]
kind = "openai"
base_url = "${b.url}/v1"
api_key = "${BACKUP_KEY}"

[providers.slow]
kind = "anthropic"
base_url = "${c.url}"
api_key = "slow-provider-key-0001"
timeout_ms = 1000

[routing]
channel = "backup/routed-channel"
rate_limit_cooldown_ms = 200

[routing.fallbacks]
"anthropic/rl-primary" = ["backup/rl-fallback"]
"anthropic/err-primary" = ["backup/err-fallback"]
"slow/timeout-primary" = ["backup/timeout-fallback"]
"anthropic/all-primary" = ["backup/all-fallback"]
"anthropic/auth-primary" = ["backup/auth-fallback"]
"anthropic/leak-primary" = ["backup/leak-fallback"]
"anthropic/cost-primary" = ["backup/cost-dear", "backup/cost-cheap"]
"anthropic/allow-primary" = [{ model = "backup/cost-dear", allow_more_expensive = true }, "backup/cost-cheap"]

[models."anthropic/cost-primary"]
cost_rank = 2
[models."anthropic/allow-primary"]
cost_rank = 2
[models."backup/cost-dear"]
cost_rank = 3
[models."backup/cost-cheap"]
cost_rank = 1

${AGENTS.map((id) => {
  const model: Record<string, string | undefined> = {
    rl: 'anthropic/rl-primary',
    err: 'anthropic/err-primary',
    slowly: 'slow/timeout-primary',
    all: 'anthropic/all-primary',
    auth: 'anthropic/auth-primary',
    leak: 'anthropic/leak-primary',
    cost: 'anthropic/cost-primary',
    allow: 'anthropic/allow-primary',
    routed: undefined,
    own: 'openai/own-model',
  };
  return `[[agents]]\nid = "${id}"\n${model[id] ? `model = "${model[id]}"\n` : ''}`;
}).join('\n')}
`;
  h = await createHarness({ env, toml });
});

afterAll(async () => {
  await h?.close();
  await b?.close();
  await c?.close();
  await env?.teardown();
});

beforeEach(() => {
  for (const fake of [h.fake, b, c]) {
    fake.reset();
    fake.script((req) => ({ text: `${req.model} answered` }));
  }
});

const send = (agent: string, conversation: string, text = 'hi') =>
  h.request('POST', `/v1/agents/${agent}/conversations/${conversation}/messages`, { text, wait: true });
const repliesOf = (res: { body: Record<string, unknown> }) => res.body.replies as Reply[];
const wfId = (agent: string, conversation: string) => `channel:${agent}:webhook:${conversation}`;
const models = (fake: FakeLlm) => fake.requests.map((r) => r.neutral?.model);

/** The callModel results recorded in the workflow's history. */
async function modelSteps(agent: string, conversation: string): Promise<{ model?: string; attempts?: ModelAttempt[] }[]> {
  const history = await h.env.client.workflow.getHandle(wfId(agent, conversation)).fetchHistory();
  const scheduled = new Map<string, string>();
  const out: { model?: string; attempts?: ModelAttempt[] }[] = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
    const done = event.activityTaskCompletedEventAttributes;
    if (done && scheduled.get(String(done.scheduledEventId)) === 'callModel') {
      const data = done.result?.payloads?.[0]?.data;
      if (data) out.push(JSON.parse(Buffer.from(data).toString('utf8')) as { model?: string; attempts?: ModelAttempt[] });
    }
  }
  return out;
}

async function llmCalls(agent: string, conversation: string) {
  return h.database.db.selectFrom('llm_calls').select(['provider', 'model']).where('channel_id', '=', wfId(agent, conversation)).execute();
}

test('a 429 falls back at once, and within the cooldown the primary is not called at all', async () => {
  h.fake.script(() => ({ fault: 'rate_limit', retryAfterSeconds: 30 }));
  const first = await send('rl', 'rl-1');
  expect(repliesOf(first).map((r) => r.text)).toEqual(['rl-fallback answered']);
  expect(models(h.fake)).toEqual(['rl-primary']);
  expect(models(b)).toEqual(['rl-fallback']);

  const second = await send('rl', 'rl-2');
  expect(repliesOf(second).map((r) => r.text)).toEqual(['rl-fallback answered']);
  expect(models(h.fake)).toEqual(['rl-primary']);
  expect(models(b)).toEqual(['rl-fallback', 'rl-fallback']);

  // The attempts are in the activity result (and so in the Temporal UI), and the ledger row names
  // the model that answered.
  const [step1] = await modelSteps('rl', 'rl-1');
  expect(step1?.model).toBe('backup/rl-fallback');
  expect(step1?.attempts?.map((a) => [a.model, a.outcome, a.status])).toEqual([
    ['anthropic/rl-primary', 'rate_limit', 429],
    ['backup/rl-fallback', 'ok', undefined],
  ]);
  expect(step1?.attempts?.[1]?.outputTokens).toBeGreaterThan(0);
  const [step2] = await modelSteps('rl', 'rl-2');
  expect(step2?.attempts?.map((a) => a.outcome)).toEqual(['cooldown', 'ok']);
  expect(step2?.attempts?.[0]?.cooldownMs).toBeGreaterThan(20_000);
  expect(await llmCalls('rl', 'rl-1')).toEqual([{ provider: 'backup', model: 'rl-fallback' }]);
});

test.each(['server_error', 'overloaded', 'malformed', 'stream_error'] as const)('a %s from the primary falls back to the next model', async (fault) => {
  h.fake.script(() => ({ fault }));
  const res = await send('err', `err-${fault}`);
  expect(repliesOf(res).map((r) => [r.kind, r.text])).toEqual([['reply', 'err-fallback answered']]);
  expect(models(h.fake)).toEqual(['err-primary']);
  expect(models(b)).toEqual(['err-fallback']);
  const [step] = await modelSteps('err', `err-${fault}`);
  expect(step?.attempts?.map((a) => a.outcome)).toEqual([expect.not.stringMatching(/^ok$/), 'ok']);
});

test('an empty answer falls back to the next model', async () => {
  h.fake.script(() => ({ text: '' }));
  const res = await send('err', 'err-empty');
  expect(repliesOf(res).map((r) => r.text)).toEqual(['err-fallback answered']);
  const [step] = await modelSteps('err', 'err-empty');
  expect(step?.attempts?.map((a) => a.outcome)).toEqual(['empty', 'ok']);
});

test('a primary that does not answer within its per-attempt timeout falls back', async () => {
  c.script(() => ({ fault: 'timeout' }));
  const started = Date.now();
  const res = await send('slowly', 'timeout');
  expect(repliesOf(res).map((r) => r.text)).toEqual(['timeout-fallback answered']);
  expect(models(c)).toEqual(['timeout-primary']);
  expect(models(b)).toEqual(['timeout-fallback']);
  // One second of waiting for the primary, not the default two minutes.
  expect(Date.now() - started).toBeLessThan(15_000);
  const [step] = await modelSteps('slowly', 'timeout');
  expect(step?.attempts?.[0]).toMatchObject({ model: 'slow/timeout-primary', outcome: 'timeout' });
  expect(step?.attempts?.[0]?.latencyMs).toBeGreaterThanOrEqual(900);
});

test('when every model is rate limited the turn waits for the earliest recovery and answers once', async () => {
  h.fake.enqueue({ fault: 'rate_limit', retryAfterSeconds: 1 });
  b.enqueue({ fault: 'rate_limit', retryAfterSeconds: 2 });
  const res = await send('all', 'all');
  expect(repliesOf(res).map((r) => [r.kind, r.text])).toEqual([['reply', 'all-primary answered']]);
  expect(models(h.fake)).toEqual(['all-primary', 'all-primary']);
  expect(models(b)).toEqual(['all-fallback']);
  // The retry came after the primary's retry-after, not sooner (and no extra attempt in between).
  const [first, second] = h.fake.requests;
  expect((second?.time ?? 0) - (first?.time ?? 0)).toBeGreaterThanOrEqual(900);
  const transcript = await h.request('GET', '/v1/agents/all/conversations/all/messages');
  const outbound = (transcript.body.messages as { direction: string }[]).filter((m) => m.direction === 'outbound');
  expect(outbound).toHaveLength(1);
  expect(await llmCalls('all', 'all')).toEqual([{ provider: 'anthropic', model: 'all-primary' }]);
});

test('an auth error is a clear reply at once: no retry, no fallback', async () => {
  h.fake.script(() => ({ fault: 'auth' }));
  const res = await send('auth', 'auth');
  const replies = repliesOf(res);
  expect(replies).toHaveLength(1);
  expect(replies[0]?.kind).toBe('error');
  expect(replies[0]?.text).toMatch(/rejected our credentials/);
  expect(models(h.fake)).toEqual(['auth-primary']);
  expect(models(b)).toEqual([]);
});

test('keys in a provider error message are scrubbed from the reply and the workflow history', async () => {
  const leaked = `bad request: key ${BACKUP_KEY} and sk-proj-abcdefghijklmnopqrstuv are not allowed here`;
  h.fake.script(() => ({ fault: 'invalid_request', message: leaked }));
  const res = await send('leak', 'leak');
  const [reply] = repliesOf(res);
  expect(reply?.kind).toBe('error');
  expect(reply?.text).toMatch(/refused the request/);
  expect(reply?.text).toContain('[redacted]');
  expect(reply?.text).not.toContain(BACKUP_KEY);
  expect(reply?.text).not.toContain('abcdefghijklmnopqrstuv');
  const history = JSON.stringify(await h.env.client.workflow.getHandle(wfId('leak', 'leak')).fetchHistory());
  expect(history).not.toContain(BACKUP_KEY);
  expect(history).not.toContain('abcdefghijklmnopqrstuv');
  expect(models(b)).toEqual([]);
});

test('routing: agents without a model use routing.channel; an agent model overrides it', async () => {
  const routed = await send('routed', 'routed');
  expect(repliesOf(routed).map((r) => r.text)).toEqual(['routed-channel answered']);
  expect(models(b)).toEqual(['routed-channel']);
  const own = await send('own', 'own');
  expect(repliesOf(own).map((r) => r.text)).toEqual(['own-model answered']);
  expect(h.fake.requests.map((r) => [r.provider, r.neutral?.model])).toEqual([['openai', 'own-model']]);
});

test('a fallback the config marks as more expensive is skipped unless the chain allows it', async () => {
  h.fake.script(() => ({ fault: 'server_error' }));
  const cost = await send('cost', 'cost');
  expect(repliesOf(cost).map((r) => r.text)).toEqual(['cost-cheap answered']);
  expect(models(b)).toEqual(['cost-cheap']);

  b.reset();
  b.script((req) => ({ text: `${req.model} answered` }));
  const allowed = await send('allow', 'allow');
  expect(repliesOf(allowed).map((r) => r.text)).toEqual(['cost-dear answered']);
  expect(models(b)).toEqual(['cost-dear']);
});
