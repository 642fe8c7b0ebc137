import { buildRunsQuery, parseRunStatus, parseSince } from '../../lib/runs/query.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import type { RunSummary } from '../../lib/runs/list.js';

type Run = RunSummary;

interface Step {
  kind: string;
  time: string;
  turn?: number;
  summary?: string;
  [k: string]: unknown;
}

const post = (agent: string, conversation: string, text: string) => h.request('POST', `/v1/agents/${agent}/conversations/${conversation}/messages`, { text, wait: true });
const wfId = (agent: string, conversation: string) => `channel:${agent}:webhook:${conversation}`;

async function listRuns(query: string): Promise<Run[]> {
  const res = await h.request('GET', `/v1/runs?${query}`);
  expect(res.status).toBe(200);
  return res.body.runs as Run[];
}

/** Visibility is eventually consistent: poll until the listing has the expected number of runs. */
function runsEventually(query: string, count: number): Promise<Run[]> {
  return eventually(async () => {
    const runs = await listRuns(query);
    return runs.length === count ? runs : undefined;
  }, 20_000, `${count} runs for ${query}`);
}

let h: Harness;
beforeAll(async () => {
  // Two turns per run: the first run of a two-message conversation continues as new.
  h = await createHarness({ toml: 'continue_as_new_after_turns = 2\n\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "helper"\n' });
  h.fake.script((req) => ({ text: `re ${req.lastUserText}` }));
  for (const text of ['one', 'two']) expect((await post('main', 'runs-a', text)).status).toBe(200);
  expect((await post('helper', 'runs-b', 'hello')).status).toBe(200);
  h.fake.reset();
  h.fake.enqueue({ toolCalls: [{ name: 'reply', input: { wrong: 1 } }] }, { toolCalls: [{ name: 'reply', input: { text: 'fixed' } }] });
  const res = await post('main', 'runs-badtool', 'hi');
  expect(res.status).toBe(200);
  // The first run of runs-a has closed (continued as new) and its successor is running.
  await runsEventually('conversation=runs-a', 2);
});
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/runs', () => {
  test('filtered by conversation: both runs of that conversation and no other, with UI links', async () => {
    const runs = await listRuns('conversation=runs-a');
    expect(runs.map((r) => r.workflowId)).toEqual([wfId('main', 'runs-a'), wfId('main', 'runs-a')]);
    expect(runs.map((r) => r.status).sort()).toEqual(['continued_as_new', 'running']);
    for (const run of runs) {
      expect(run).toMatchObject({ type: 'channelWorkflow', agent: 'main', platform: 'webhook', conversation: 'runs-a', process: 'channel' });
      expect(run.temporalUiUrl).toBe(`http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(wfId('main', 'runs-a'))}/${run.runId}/history`);
      expect(Date.parse(run.startTime)).not.toBeNaN();
    }
    expect(runs.find((r) => r.status === 'continued_as_new')?.closeTime).toBeDefined();
  });

  test('filtered by agent', async () => {
    const runs = await runsEventually('agent=helper', 1);
    expect(runs[0]).toMatchObject({ workflowId: wfId('helper', 'runs-b'), agent: 'helper', conversation: 'runs-b', status: 'running' });
    const main = await listRuns('agent=main');
    expect(main.every((r) => r.agent === 'main')).toBe(true);
    expect(main.map((r) => r.conversation)).toEqual(expect.arrayContaining(['runs-a', 'runs-badtool']));
    expect(main.map((r) => r.conversation)).not.toContain('runs-b');
  });

  test('filtered by status', async () => {
    const closed = await listRuns('conversation=runs-a&status=continued_as_new');
    const open = await listRuns('conversation=runs-a&status=Running');
    expect(closed).toHaveLength(1);
    expect(open).toHaveLength(1);
    expect(closed[0]?.runId).not.toBe(open[0]?.runId);
    const continued = await listRuns('status=continued-as-new');
    expect(continued.map((r) => r.conversation)).toEqual(['runs-a']);
    expect(await listRuns('status=failed')).toEqual([]);
  });

  test('filtered by type: the process or the workflow type', async () => {
    expect(await listRuns('agent=helper&type=channel')).toHaveLength(1);
    expect(await listRuns('agent=helper&type=channelWorkflow')).toHaveLength(1);
    expect(await listRuns('agent=helper&type=branch')).toEqual([]);
  });

  test('limit caps the listing', async () => {
    expect(await listRuns('agent=main&limit=1')).toHaveLength(1);
  });

  test.each([
    ['status=sleeping', 'status', /unknown status "sleeping"/],
    ['limit=0', 'limit', /query\.limit/],
    ["conversation=a'%20OR%20'1'='1", 'conversation', /query\.conversation/],
    ['agent=', 'agent', /query\.agent/],
    ['colour=blue', undefined, /unknown field colour/],
  ])('a bad query %s is a 400 naming the field', async (query, field, message) => {
    const res = await h.request('GET', `/v1/runs?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    if (field) expect(res.body.field).toBe(field);
    expect(String(res.body.message)).toMatch(message);
  });
});

describe('GET /v1/runs/:workflowId', () => {
  test('the timeline of a turn with a bad tool call, then a reply', async () => {
    const res = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('main', 'runs-badtool'))}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ workflowId: wfId('main', 'runs-badtool'), type: 'channelWorkflow', status: 'running', conversation: 'runs-badtool' });
    expect(String(res.body.temporalUiUrl)).toContain(`/${String(res.body.runId)}/history`);
    const steps = res.body.steps as Step[];
    expect(steps.map((s) => s.kind)).toEqual(['run_started', 'message', 'turn', 'llm_call', 'tool_call', 'llm_call', 'delivery']);
    const [, message, turn, call1, tool, call2, delivery] = steps;
    expect(message).toMatchObject({ text: 'hi', duplicate: false });
    expect(turn).toMatchObject({ turn: 1, messageIds: [message?.messageId], outcome: 'completed' });
    expect(call1).toMatchObject({ turn: 1, step: 1, summary: 'LLM call 1 of turn 1', attempts: 1, outcome: 'completed', toolCalls: [{ name: 'reply', arguments: { wrong: 1 } }] });
    expect(typeof call1?.durationMs).toBe('number');
    // The answering model and its tokens appear when callModel's result carries them.
    if (call1?.model !== undefined) expect(call1.model).toBe('anthropic/claude-haiku-5-5');
    expect(tool).toMatchObject({ turn: 1, summary: 'tool reply', tool: 'reply', arguments: { wrong: 1 }, outcome: 'completed', result: { isError: true } });
    expect(String((tool?.result as { content: string }).content)).toContain('Invalid arguments for reply');
    expect(call2).toMatchObject({ turn: 1, step: 2, summary: 'LLM call 2 of turn 1', toolCalls: [{ name: 'reply', arguments: { text: 'fixed' } }] });
    expect(delivery).toMatchObject({ turn: 1, text: 'fixed', replyKind: 'reply', outcome: 'completed', attempts: 1 });
    expect(typeof delivery?.replyMessageId).toBe('string');
    // Times are in order.
    const times = steps.map((s) => Date.parse(s.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  test('a run that continued as new ends with the new run id; ?runId picks the run', async () => {
    const runs = await listRuns('conversation=runs-a');
    const first = runs.find((r) => r.status === 'continued_as_new') as Run;
    const second = runs.find((r) => r.status === 'running') as Run;
    const res = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('main', 'runs-a'))}?runId=${first.runId}`);
    expect(res.status).toBe(200);
    expect(res.body.runId).toBe(first.runId);
    const steps = res.body.steps as Step[];
    expect(steps.filter((s) => s.kind === 'turn').map((s) => s.turn)).toEqual([1, 2]);
    expect(steps.filter((s) => s.kind === 'delivery').map((s) => s.text)).toEqual(['re one', 're two']);
    expect(steps[steps.length - 1]).toMatchObject({ kind: 'continued_as_new', newRunId: second.runId });
    // Without runId: the latest run, which started from the first.
    const latest = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('main', 'runs-a'))}`);
    expect(latest.body.runId).toBe(second.runId);
    expect((latest.body.steps as Step[])[0]).toMatchObject({ kind: 'run_started', continuedFromRunId: first.runId, turnsBefore: 2 });
  });

  test('an unknown workflow or run is a 404', async () => {
    const res = await h.request('GET', `/v1/runs/${encodeURIComponent('channel:main:webhook:never-was')}`);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: 'not_found', field: 'workflowId' });
    const run = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('main', 'runs-a'))}?runId=00000000-0000-4000-8000-000000000000`);
    expect(run.status).toBe(404);
    expect(run.body).toMatchObject({ error: 'not_found', field: 'runId' });
    const bad = await h.request('GET', `/v1/runs/${encodeURIComponent(wfId('main', 'runs-a'))}?runId=nope`);
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe('runId');
  });
});

describe('visibility queries', () => {
  test('values are quoted and escaped', () => {
    expect(buildRunsQuery({ agent: 'main', conversation: "it's", type: 'channel', status: 'running' })).toBe(
      "SpacebotAgent = 'main' AND SpacebotConversation = 'it\\'s' AND (SpacebotProcess = 'channel' OR WorkflowType = 'channel') AND ExecutionStatus = 'Running'",
    );
    expect(buildRunsQuery({})).toBe('');
    expect(buildRunsQuery({ startedAfter: new Date('2026-01-02T03:04:05Z') })).toBe("StartTime > '2026-01-02T03:04:05.000Z'");
  });

  test('statuses and --since values', () => {
    expect(['running', 'ContinuedAsNew', 'CANCELLED', 'timed-out'].map(parseRunStatus)).toEqual(['running', 'continued_as_new', 'canceled', 'timed_out']);
    expect(parseRunStatus('sleeping')).toBeUndefined();
    const now = new Date('2026-01-02T00:00:00Z');
    expect(parseSince('24h', now)?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(parseSince('2025-12-31', now)?.toISOString()).toBe('2025-12-31T00:00:00.000Z');
    expect(parseSince('yesterday', now)).toBeUndefined();
  });
});
