import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities/index.js';
import type { CortexStepInput } from '../../activities/contract.js';
import { OutboundAdapters } from '../../adapters/outbound.js';
import { WebhookOutbound } from '../../adapters/webhook.js';
import { ensureCortexWorkflows } from '../../lib/cortex/start.js';
import { ProviderRegistry } from '../../lib/llm/registry.js';
import { createLogger } from '../../lib/logger.js';
import { cortexStatusQuery, cortexWorkflowId, type CortexStatus } from '../../workflows/cortex-contract.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { activityTaskQueue } from '../../workflows/task-queues.js';
import { startTestTemporal, testWorkflowBundle } from '../helpers/temporal-env.js';
import { recordHistories } from '../helpers/histories.js';

interface CortexBody {
  execution: string;
  status?: CortexStatus;
}

let env: TestWorkflowEnvironment;
let h: Harness;
/** Unversioned Workers (the workflows' and the background queue's, where the cortex's steps run). */
let workers: Worker[] = [];
let running: Promise<unknown>;
/** Agents whose decay step fails (the deps seam: the worker's activity wraps the real one). */
const failing = new Set<string>();

beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({
    env,
    noWorker: true,
    toml: '\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "second"\n\n[[agents]]\nid = "idle"\n',
  });
  const deps = {
    config: h.config,
    db: h.database.db,
    providers: new ProviderRegistry(h.config.providers),
    outbound: new OutboundAdapters([new WebhookOutbound()]),
    logger: createLogger('cortex-test', process.env.LOG_LEVEL ?? 'silent'),
    temporal: env.client,
  };
  const real = createActivities(deps);
  const activities = {
    ...real,
    async decayMemories(input: CortexStepInput) {
      if (failing.has(input.agentId)) throw new Error(`injected failure: database unavailable for ${input.agentId}`);
      return real.decayMemories(input);
    },
  };
  const common = { connection: env.nativeConnection, namespace: env.namespace ?? 'default', activities };
  workers = [
    await Worker.create({ ...common, taskQueue: h.config.temporal.taskQueue, workflowBundle: await testWorkflowBundle(false) }),
    await Worker.create({ ...common, taskQueue: activityTaskQueue(h.config.temporal.taskQueue, 'background') }),
  ];
  running = Promise.all(workers.map((w) => w.run()));
});

afterAll(async () => {
  for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  await running;
  await h?.close();
  await env?.teardown();
});

async function cortex(agent: string): Promise<CortexBody> {
  const res = await h.request('GET', `/v1/agents/${agent}/cortex`);
  expect(res.status).toBe(200);
  return res.body as unknown as CortexBody;
}

/** Waits until the cortex of `agent` has finished `passes` passes and is not running one. */
async function afterPasses(agent: string, passes: number): Promise<CortexStatus> {
  return eventually(
    async () => {
      const { status } = await cortex(agent);
      return status && status.passes >= passes && status.state !== 'running' ? status : undefined;
    },
    60_000,
    `${passes} cortex passes of ${agent}`,
  );
}

async function save(agent: string, content: string, type: string, importance?: number): Promise<string> {
  const res = await h.request('POST', `/v1/agents/${agent}/memories`, { content, type, ...(importance !== undefined ? { importance } : {}) });
  expect(res.status).toBe(201);
  return (res.body.memory as { id: string }).id;
}

test('a pass runs every step as its own activity, records its counts and renders the memory context', async () => {
  const fact = await save('main', 'The deploy pipeline runs on Fridays.', 'fact');
  await save('main', 'I am Spacebot, a helpful agent.', 'identity');
  await save('main', 'Alice prefers short answers.', 'preference');

  const ensured = await ensureCortexWorkflows(env.client, h.config, { agents: ['main'] });
  expect(ensured.ensured).toEqual(['cortex:main']);
  // A new cortex makes its first pass at once.
  const status = await afterPasses('main', 1);
  expect(status.state).toBe('waiting');
  expect(status.consecutiveFailures).toBe(0);
  expect(status.lastPass).toMatchObject({ ok: true, trigger: 'schedule' });
  expect(status.lastPass?.counts).toEqual({
    decay: { decayed: 2, days: expect.closeTo(1 / 24, 5), at: status.lastPass?.startedAt }, // identity is exempt; a first pass decays one interval
    prune: { pruned: 0, edgesRemoved: 0 },
    merge: { merged: 0, edgesRepointed: 0 },
    link: { linked: 0 },
    context: { contexts: 1, changed: 1, memories: 3, words: expect.any(Number), version: 1 },
  });
  const next = Date.parse(status.nextPassAt ?? '') - Date.parse(status.lastPass?.finishedAt ?? '');
  expect(next).toBe(60 * 60_000);

  // The decay is in the database, once.
  const row = await h.database.db.selectFrom('memories').select('importance').where('id', '=', fact).executeTakeFirstOrThrow();
  expect(row.importance).toBeLessThan(0.6);
  expect(row.importance).toBeGreaterThan(0.58);

  // Each step is an activity in the workflow's history, in order, with its summary.
  const history = await env.client.workflow.getHandle(cortexWorkflowId('main')).fetchHistory();
  const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name);
  expect(scheduled).toEqual(['decayMemories', 'pruneMemories', 'mergeMemories', 'linkMemories', 'renderMemoryContext']);

  // The rendered context is what the API serves, and a second start keeps the running cortex.
  const context = await h.request('GET', '/v1/agents/main/memory-context');
  expect(context.status).toBe(200);
  expect(context.body).toMatchObject({ memoryVersion: 1, memoryCount: 3 });
  expect(String(context.body.text).split('\n').slice(2)).toEqual([
    '- (identity) I am Spacebot, a helpful agent.',
    '- (preference) Alice prefers short answers.',
    '- (fact) The deploy pipeline runs on Fridays.',
  ]);
  await ensureCortexWorkflows(env.client, h.config, { agents: ['main'] });
  expect((await cortex('main')).status?.passes).toBe(1);

  // A manual run through the API: a second pass, context unchanged (same bytes, same version).
  const run = await h.request('POST', '/v1/agents/main/cortex/run');
  expect(run.status).toBe(202);
  const second = await afterPasses('main', 2);
  expect(second.lastPass).toMatchObject({ ok: true, trigger: 'manual' });
  expect(second.lastPass?.counts.context).toMatchObject({ changed: 0, version: 1 });
  const again = await h.request('GET', '/v1/agents/main/memory-context');
  expect(again.body.text).toBe(context.body.text);
  expect(again.body.renderedAt).toBe(context.body.renderedAt);
});

test('three failed passes in a row pause the cortex for 30 minutes, visible in the API; a successful manual run closes the breaker', async () => {
  await afterPasses('main', 2);
  failing.add('main');
  try {
    for (let n = 1; n <= 3; n++) {
      expect((await h.request('POST', '/v1/agents/main/cortex/run')).status).toBe(202);
      const s = await afterPasses('main', 2 + n);
      expect(s.consecutiveFailures).toBe(n);
      expect(s.lastPass).toMatchObject({ ok: false, failedStep: 'decay', counts: {} });
      expect(s.lastPass?.error).toContain('injected failure');
      expect(s.state).toBe(n < 3 ? 'waiting' : 'paused');
    }
    const paused = (await cortex('main')).status as CortexStatus;
    expect(paused.state).toBe('paused');
    const pausedFor = Date.parse(paused.pausedUntil ?? '') - Date.parse(paused.lastPass?.finishedAt ?? '');
    expect(pausedFor).toBe(30 * 60_000);
    expect(paused.nextPassAt).toBe(paused.pausedUntil);
    // The query (needs a worker) agrees with the memo the API reads.
    const queried = await env.client.workflow.getHandle(cortexWorkflowId('main')).query(cortexStatusQuery);
    expect(queried).toMatchObject({ state: 'paused', consecutiveFailures: 3, pausedUntil: paused.pausedUntil });
  } finally {
    failing.delete('main');
  }
  expect((await h.request('POST', '/v1/agents/main/cortex/run')).status).toBe(202);
  const recovered = await afterPasses('main', 6);
  expect(recovered).toMatchObject({ state: 'waiting', consecutiveFailures: 0, lastPass: { ok: true } });
  expect(recovered.pausedUntil).toBeUndefined();
  // Scheduled, manual, failed and paused passes, and the recovery: one replay fixture of them all.
  await recordHistories(env, cortexWorkflowId('main'), 'cortex-passes-and-breaker');
});

test('a paused cortex resumes on its own after the pause, and stops when disabled', async () => {
  failing.add('second');
  // Short retry and pause so the whole cycle runs unattended within the test.
  await ensureCortexWorkflows(env.client, h.config, { agents: ['second'], settings: { retryMinutes: 0.01, pauseMinutes: 0.1 } });
  const paused = await eventually(
    async () => {
      const { status } = await cortex('second');
      return status?.state === 'paused' ? status : undefined;
    },
    60_000,
    'the breaker to open',
  );
  expect(paused.consecutiveFailures).toBeGreaterThanOrEqual(3);
  expect(paused.passes).toBe(paused.consecutiveFailures);
  failing.delete('second');
  const resumed = await eventually(
    async () => {
      const { status } = await cortex('second');
      return status?.lastPass?.ok ? status : undefined;
    },
    60_000,
    'an automatic pass after the pause',
  );
  expect(resumed.consecutiveFailures).toBe(0);
  expect(resumed.lastPass?.trigger).toBe('schedule');

  const stopped = await ensureCortexWorkflows(env.client, { ...h.config, cortex: { ...h.config.cortex, enabled: false } }, { agents: ['second', 'idle'] });
  expect(stopped).toEqual({ ensured: [], stopped: ['cortex:second'] });
  await env.client.workflow.getHandle(cortexWorkflowId('second')).result();
  const view = await cortex('second');
  expect(view.execution).toBe('completed');
  expect(view.status?.state).toBe('stopped');
});

test('the API answers 404 for an unknown agent and 409 for a run without a cortex', async () => {
  expect((await h.request('GET', '/v1/agents/nobody/cortex')).status).toBe(404);
  expect((await h.request('GET', '/v1/agents/idle/cortex')).body).toMatchObject({ execution: 'not_started' });
  const run = await h.request('POST', '/v1/agents/idle/cortex/run');
  expect(run.status).toBe(409);
  expect(run.body).toMatchObject({ error: 'cortex_not_running', field: 'agent' });
  expect((await h.request('GET', '/v1/agents/idle/memory-context?bogus=1')).status).toBe(400);
  expect((await h.request('GET', '/v1/agents/idle/memory-context')).body).toMatchObject({ text: '', memoryCount: 0 });
});
