import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../lib/config/load.js';
import { HeartbeatError, HeartbeatService } from '../../lib/heartbeats/schedules.js';
import { toDefinition } from '../../lib/heartbeats/validation.js';
import type { HeartbeatRunResult } from '../../workflows/heartbeat-contract.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';
import { recordHistories } from '../helpers/histories.js';

const hbPath = (agent = 'main') => `/v1/agents/${agent}/heartbeats`;
/** Never fires on its own during a test run (1 January, midnight): runs come only from `trigger`. */
const NEVER = '0 0 1 1 *';

interface TranscriptMessage {
  direction: string;
  text: string;
}

let env: TestWorkflowEnvironment;
let h: Harness;
beforeAll(async () => {
  env = await startTestTemporal();
  // The webhook test's receiver listens on loopback, which the outbound URL guard refuses unless allowed.
  h = await createHarness({ env, toml: '\n[network]\nallow = ["127.0.0.1"]\n\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "second"\n' });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

async function transcript(conversation: string): Promise<TranscriptMessage[]> {
  const res = await h.request('GET', `/v1/agents/main/conversations/${conversation}/messages`);
  return res.body.messages as TranscriptMessage[];
}

/** Triggers the heartbeat and waits for its `n`-th run (counted from the schedule's actions) to close. */
async function triggerAndWait(id: string, n: number): Promise<{ workflowId: string; result?: HeartbeatRunResult; error?: Error }> {
  const res = await h.request('POST', `${hbPath()}/${id}/trigger`);
  expect(res.status).toBe(202);
  const action = await eventually(
    async () => {
      const d = await h.env.client.schedule.getHandle(`heartbeat:main:${id}`).describe();
      return d.info.recentActions.length >= n ? d.info.recentActions[n - 1] : undefined;
    },
    20_000,
    `run ${n} of ${id}`,
  );
  const { workflowId } = action.action.workflow;
  const handle = h.env.client.workflow.getHandle(workflowId, action.action.workflow.firstExecutionRunId);
  try {
    return { workflowId, result: (await handle.result()) as HeartbeatRunResult };
  } catch (err) {
    return { workflowId, error: err as Error };
  }
}

test('an every-minute heartbeat created through the API fires on trigger and its reply lands in the target conversation', async () => {
  h.fake.script((req) => ({ text: `status report for: ${req.lastUserText.split('\n')[0]}` }));
  const created = await h.request('POST', hbPath(), {
    id: 'minute',
    prompt: 'Check the build',
    intervalSeconds: 60,
    timezone: 'UTC',
    target: { kind: 'channel', platform: 'webhook', conversation: 'hb-target' },
  });
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ id: 'minute', scheduleId: 'heartbeat:main:minute', intervalSeconds: 60, overlap: 'skip', timeoutSeconds: 1500, source: 'api', paused: false });
  const d = await h.env.client.schedule.getHandle('heartbeat:main:minute').describe();
  expect(d.memo).toMatchObject({ agent: 'main', process: 'heartbeat', source: 'api' });
  expect(d.typedSearchAttributes.getAll().map((p) => [p.key.name, p.value])).toEqual(
    expect.arrayContaining([
      ['SpacebotAgent', 'main'],
      ['SpacebotProcess', 'heartbeat'],
    ]),
  );

  const { workflowId, result, error } = await triggerAndWait('minute', 1);
  expect(error).toBeUndefined();
  expect(result).toMatchObject({ status: 'ok', delivered: true, text: 'status report for: Check the build' });
  await recordHistories(h.env, workflowId, 'heartbeat-to-channel');
  const messages = await transcript('hb-target');
  expect(messages.map((m) => [m.direction, m.text])).toContainEqual(['outbound', 'status report for: Check the build']);

  // Its runs, with Temporal UI links.
  const runs = await eventually(async () => {
    const r = await h.request('GET', `${hbPath()}/minute/runs`);
    const list = r.body.runs as { status: string; temporalUiUrl: string; process: string }[];
    return list.some((x) => x.status === 'completed') ? list : undefined;
  });
  expect(runs[0]).toMatchObject({ process: 'heartbeat', temporalUiUrl: expect.stringContaining('/workflows/heartbeat%3Amain%3Aminute') });

  const listed = await eventually(async () => {
    const r = await h.request('GET', hbPath());
    const list = r.body.heartbeats as { id: string }[];
    return list.some((x) => x.id === 'minute') ? list : undefined;
  });
  expect(listed.find((x) => x.id === 'minute')).toMatchObject({ prompt: 'Check the build' });

  const patched = await h.request('PATCH', `${hbPath()}/minute`, { prompt: 'Check the build again', cron: '*/5 * * * *' });
  expect(patched.status).toBe(200);
  expect(patched.body).toMatchObject({ prompt: 'Check the build again', cron: '*/5 * * * *' });
  expect(patched.body.intervalSeconds).toBeUndefined();
  expect((await h.request('DELETE', `${hbPath()}/minute`)).status).toBe(204);
  expect((await h.request('GET', `${hbPath()}/minute`)).status).toBe(404);
});

test('a run outside the active hours is skipped without calling the model', async () => {
  const hour = new Date().getUTCHours();
  const pad = (n: number) => String(n % 24).padStart(2, '0');
  const created = await h.request('POST', hbPath(), {
    id: 'hours',
    prompt: 'Only during the day',
    cron: NEVER,
    timezone: 'UTC',
    activeHours: { start: `${pad(hour + 2)}:00`, end: `${pad(hour + 4)}:00` },
    target: { kind: 'channel', conversation: 'hb-hours' },
  });
  expect(created.status).toBe(201);
  const { result } = await triggerAndWait('hours', 1);
  expect(result).toMatchObject({ status: 'skipped', delivered: false });
  expect(h.fake.requests).toHaveLength(0);
  expect(await transcript('hb-hours')).toEqual([]);
});

test('HEARTBEAT_OK or a skip call delivers nothing', async () => {
  await h.request('POST', hbPath(), { id: 'quiet', prompt: 'Anything new?', cron: NEVER, target: { kind: 'channel', conversation: 'hb-quiet' } });
  h.fake.enqueue({ text: 'HEARTBEAT_OK' }, { toolCalls: [{ name: 'skip', input: { reason: 'nothing new' } }] });
  const first = await triggerAndWait('quiet', 1);
  expect(first.result).toMatchObject({ status: 'ok', delivered: false });
  const second = await triggerAndWait('quiet', 2);
  expect(second.result).toMatchObject({ status: 'ok', delivered: false });
  expect(h.fake.requests).toHaveLength(2);
  expect(await transcript('hb-quiet')).toEqual([]);
});

test('three failed runs in a row pause the schedule with a note; a success or an unpause resets the count', async () => {
  await h.request('POST', hbPath(), { id: 'flaky', prompt: 'Report', cron: NEVER, target: { kind: 'channel', conversation: 'hb-flaky' } });
  h.fake.script(() => ({ fault: 'auth' }));
  for (let i = 1; i <= 3; i++) {
    const run = await triggerAndWait('flaky', i);
    expect(run.error).toBeDefined();
  }
  const paused = await h.request('GET', `${hbPath()}/flaky`);
  expect(paused.body).toMatchObject({ paused: true, consecutiveFailures: 3 });
  expect(paused.body.note).toMatch(/paused after 3 consecutive failed runs/);

  const unpaused = await h.request('POST', `${hbPath()}/flaky/unpause`, {});
  expect(unpaused.body).toMatchObject({ paused: false, consecutiveFailures: 0 });

  await triggerAndWait('flaky', 4);
  expect((await h.request('GET', `${hbPath()}/flaky`)).body).toMatchObject({ paused: false, consecutiveFailures: 1 });
  h.fake.script(() => ({ text: 'all good' }));
  const ok = await triggerAndWait('flaky', 5);
  expect(ok.result).toMatchObject({ status: 'ok', delivered: true });
  expect((await h.request('GET', `${hbPath()}/flaky`)).body).toMatchObject({ paused: false, consecutiveFailures: 0 });
});

test('a run that overruns its timeout counts as a failed run and delivers nothing', async () => {
  await h.request('POST', hbPath(), { id: 'slow', prompt: 'Think hard', cron: NEVER, timeoutSeconds: 10, target: { kind: 'channel', conversation: 'hb-slow' } });
  h.fake.script(() => ({ text: 'too late', delayMs: 60_000 }));
  const run = await triggerAndWait('slow', 1);
  expect(run.error).toBeDefined();
  const view = await h.request('GET', `${hbPath()}/slow`);
  expect(view.body).toMatchObject({ paused: false, consecutiveFailures: 1 });
  const transcript = await h.request('GET', '/v1/agents/main/conversations/hb-slow/messages');
  expect(transcript.body.messages).toEqual([]);
}, 60_000);

test('a webhook target receives the result as JSON', async () => {
  const received: unknown[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await h.request('POST', hbPath(), { id: 'hook', prompt: 'Ping', cron: NEVER, target: { kind: 'webhook', url: `http://127.0.0.1:${port}/hook` } });
    h.fake.script(() => ({ text: 'pong' }));
    const run = await triggerAndWait('hook', 1);
    expect(run.result).toMatchObject({ delivered: true });
    expect(received).toEqual([expect.objectContaining({ agent: 'main', heartbeat: 'hook', text: 'pong' })]);
  } finally {
    server.close();
  }
});

test('the cron tool creates a heartbeat from a conversation, and refuses bad arguments', async () => {
  h.fake.enqueue(
    { toolCalls: [{ name: 'cron', input: { action: 'create', id: 'too-fast', prompt: 'x', interval_seconds: 30 } }] },
    { toolCalls: [{ name: 'cron', input: { action: 'create', id: 'news', prompt: 'Summarise the news', interval_seconds: 3600 } }] },
    { text: 'Done, I will report hourly.' },
  );
  const res = await h.request('POST', '/v1/agents/main/conversations/cron-chat/messages', { text: 'Report the news every hour', wait: true });
  expect(res.status).toBe(200);
  const results = h.fake.requests.flatMap((r) => r.neutral?.messages.flatMap((m) => m.toolResults ?? []) ?? []);
  expect(results.find((r) => r.isError)?.text).toMatch(/Invalid arguments for cron: interval_seconds/);
  expect(results.some((r) => !r.isError && /Created heartbeat "news"/.test(r.text))).toBe(true);
  const got = await h.request('GET', `${hbPath()}/news`);
  expect(got.status).toBe(200);
  expect(got.body).toMatchObject({ source: 'tool', intervalSeconds: 3600, target: { kind: 'channel', platform: 'webhook', conversation: 'cron-chat' } });
  expect((await h.request('GET', `${hbPath()}/too-fast`)).status).toBe(404);
});

test('the API validates heartbeats: interval, prompt length, fields, unknown ids and agents', async () => {
  const short = await h.request('POST', hbPath(), { id: 'fast', prompt: 'x', intervalSeconds: 30 });
  expect(short.status).toBe(400);
  expect(short.body.field).toBe('intervalSeconds');
  const long = await h.request('POST', hbPath(), { id: 'long', prompt: 'x'.repeat(10_001), intervalSeconds: 60 });
  expect(long.status).toBe(400);
  expect(long.body.field).toBe('prompt');
  const both = await h.request('POST', hbPath(), { id: 'both', prompt: 'x' });
  expect(both.status).toBe(400);
  expect(both.body.field).toBe('cron');
  const zone = await h.request('POST', hbPath(), { id: 'zone', prompt: 'x', cron: NEVER, timezone: 'Mars/Olympus' });
  expect(zone.body.field).toBe('timezone');
  const hours = await h.request('POST', hbPath(), { id: 'hrs', prompt: 'x', cron: NEVER, activeHours: { start: '25:00', end: '10:00' } });
  expect(hours.body.field).toBe('activeHours.start');
  expect((await h.request('POST', hbPath(), { id: 'x', prompt: 'x', cron: NEVER, color: 'red' })).status).toBe(400);
  expect((await h.request('GET', `${hbPath()}/nope`)).status).toBe(404);
  expect((await h.request('POST', `${hbPath()}/nope/trigger`)).status).toBe(404);
  expect((await h.request('GET', hbPath('ghost'))).status).toBe(404);
  const noAuth = await fetch(`${h.baseUrl}${hbPath()}`);
  expect(noAuth.status).toBe(401);
});

test('an agent cannot have more heartbeats than the limit', async () => {
  const service = new HeartbeatService(h.env.client, { ...h.config, heartbeats: { ...h.config.heartbeats, maxPerAgent: 2 } }, h.database.db);
  const def = (id: string) => toDefinition('second', 'api', { id, prompt: 'p', cron: NEVER }, h.config.heartbeats);
  await service.create(def('one'));
  await service.create(def('two'));
  await eventually(async () => ((await service.listIds('second')).length === 2 ? true : undefined));
  await expect(service.create(def('three'))).rejects.toThrow(HeartbeatError);
  await expect(service.create(def('three'))).rejects.toThrow(/at most 2/);
});

test('config heartbeats are reconciled into schedules: added, updated, removed; others left alone', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-hb-'));
  const configWith = (toml: string) => {
    const file = path.join(dir, 'spacebot.toml');
    writeFileSync(file, `[temporal]\ntask_queue = "${h.config.temporal.taskQueue}"\n\n[heartbeat_defaults]\ntimezone = "Europe/Berlin"\n\n${toml}`);
    return loadConfig({ file, cwd: dir, env: { SPACEBOT_DATA_DIR: path.join(dir, 'data') } });
  };
  await h.request('POST', hbPath(), { id: 'manual', prompt: 'made by hand', cron: NEVER });

  const first = configWith(`[[heartbeats]]\nid = "cfg-a"\nprompt = "A"\ncron = "${NEVER}"\n\n[[heartbeats]]\nid = "cfg-b"\nprompt = "B"\ninterval_seconds = 86400\n`);
  const r1 = await new HeartbeatService(h.env.client, first, h.database.db).reconcileConfig();
  expect(r1.created.sort()).toEqual(['heartbeat:main:cfg-a', 'heartbeat:main:cfg-b']);
  const a = await h.request('GET', `${hbPath()}/cfg-a`);
  expect(a.body).toMatchObject({ source: 'config', prompt: 'A', timezone: 'Europe/Berlin' });
  await eventually(async () => {
    const ids: string[] = [];
    for await (const s of h.env.client.schedule.list()) ids.push(s.scheduleId);
    return ['heartbeat:main:cfg-a', 'heartbeat:main:cfg-b', 'heartbeat:main:manual'].every((id) => ids.includes(id)) ? true : undefined;
  });

  const second = configWith(`[[heartbeats]]\nid = "cfg-a"\nprompt = "A, changed"\ncron = "${NEVER}"\nactive_hours = { start = "22:00", end = "06:00" }\n`);
  const r2 = await new HeartbeatService(h.env.client, second, h.database.db).reconcileConfig();
  expect(r2).toEqual({ created: [], updated: ['heartbeat:main:cfg-a'], removed: ['heartbeat:main:cfg-b'] });
  expect((await h.request('GET', `${hbPath()}/cfg-a`)).body).toMatchObject({ prompt: 'A, changed', activeHours: { start: '22:00', end: '06:00' } });
  expect((await h.request('GET', `${hbPath()}/cfg-b`)).status).toBe(404);
  expect((await h.request('GET', `${hbPath()}/manual`)).body).toMatchObject({ source: 'api', prompt: 'made by hand' });
});
