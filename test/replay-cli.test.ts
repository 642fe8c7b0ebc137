import { execFile } from 'node:child_process';
import path from 'node:path';
import { createHarness, eventually, type Harness } from './helpers/harness.js';

/**
 * `npm run replay` (scripts/replay.ts) against runs made here on the real dev server. The script
 * runs in its own process, as it does for people: it fetches the histories over gRPC and replays them.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const wfId = (conversation: string) => `channel:main:webhook:${conversation}`;

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  h.fake.script((req) => ({ text: `re ${req.lastUserText}` }));
  for (const conversation of ['cli-one', 'cli-two']) {
    const res = await h.request('POST', `/v1/agents/main/conversations/${conversation}/messages`, { text: 'hello', wait: true });
    expect(res.status).toBe(200);
  }
  // --all lists through visibility, which is eventually consistent.
  await eventually(async () => {
    let n = 0;
    for await (const _ of h.env.client.workflow.list({ query: "SpacebotProcess = 'channel'" })) n++;
    return n >= 2 ? n : undefined;
  });
});
afterAll(async () => {
  await h?.close();
});

function replay(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts/replay.ts'), ...args],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPORAL_ADDRESS: h.env.address, SPACEBOT_CONFIG: h.configFile, SPACEBOT_DATA_DIR: h.config.dataDir },
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('one run replays cleanly against the current workflow code', async () => {
  const { code, stdout, stderr } = await replay(wfId('cli-one'));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const runId = (await h.env.client.workflow.getHandle(wfId('cli-one')).describe()).runId;
  expect(stdout).toContain(`ok   ${wfId('cli-one')}/${runId}`);
  expect(stdout).toMatch(/replayed 1 run: 1 ok, 0 skipped, 0 failed/);
  // --run-id picks that run.
  const pinned = await replay(wfId('cli-one'), '--run-id', runId, '--json');
  expect(pinned.code).toBe(0);
  expect(JSON.parse(pinned.stdout)).toEqual([{ id: `${wfId('cli-one')}/${runId}`, ok: true }]);
}, 90_000);

test('--all --since 1h replays every run of the last hour, a line each', async () => {
  const { code, stdout } = await replay('--all', '--since', '1h');
  expect(code).toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines.filter((l) => l.startsWith('ok   channel:main:webhook:cli-one/'))).toHaveLength(1);
  expect(lines.filter((l) => l.startsWith('ok   channel:main:webhook:cli-two/'))).toHaveLength(1);
  expect(lines[lines.length - 1]).toMatch(/^replayed 2 runs \(running, or closed since .*\): 2 ok, 0 skipped, 0 failed$/);
}, 90_000);

test('--all checks every running run however long ago it started, and closed runs only within --since', async () => {
  // A conversation whose run is closed (terminated) before the window the replay is asked for.
  const closed = await h.request('POST', '/v1/agents/main/conversations/cli-closed/messages', { text: 'hello', wait: true });
  expect(closed.status).toBe(200);
  await h.env.client.workflow.getHandle(wfId('cli-closed')).terminate('closed before the window');
  await eventually(async () => {
    for await (const info of h.env.client.workflow.list({ query: `WorkflowId = '${wfId('cli-closed')}' AND ExecutionStatus = 'Terminated'` })) return info;
    return undefined;
  });
  // The window opens after every run here started and after cli-closed closed: the two channels,
  // idle but running, are what a deploy would continue, so they are checked all the same.
  const since = new Date(Date.now() + 1).toISOString();
  const { code, stdout } = await replay('--all', '--since', since, '--json');
  expect(code).toBe(0);
  const ids = (JSON.parse(stdout) as { id: string; ok: boolean }[]).map((o) => o.id.split('/')[0]).sort();
  expect(ids).toEqual([wfId('cli-one'), wfId('cli-two')]);
  // A window that holds its close time checks the closed run too.
  const hour = await replay('--all', '--since', '1h', '--json');
  expect(hour.code).toBe(0);
  expect((JSON.parse(hour.stdout) as { id: string }[]).map((o) => o.id.split('/')[0]).sort()).toEqual([wfId('cli-closed'), wfId('cli-one'), wfId('cli-two')]);
}, 120_000);

test('a workflow changed incompatibly fails the replay with a DeterminismViolationError', async () => {
  const { code, stdout } = await replay(wfId('cli-one'), '--workflows', path.join(ROOT, 'test/fixtures/altered-workflows/index.ts'));
  expect(code).toBe(1);
  expect(stdout).toMatch(new RegExp(`^FAIL ${wfId('cli-one')}/[0-9a-f-]+: DeterminismViolationError: `, 'm'));
  expect(stdout).toMatch(/1 failed/);
}, 90_000);

test('an unknown workflow or bad arguments exit 2 with a message', async () => {
  const unknown = await replay(wfId('never-was'));
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain(`no workflow "${wfId('never-was')}"`);
  const since = await replay('--all', '--since', 'yesterday');
  expect(since.code).toBe(2);
  expect(since.stderr).toContain('--since');
  const none = await replay();
  expect(none.code).toBe(2);
  expect(none.stderr).toContain('usage');
}, 90_000);
