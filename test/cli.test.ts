import { spawn } from 'node:child_process';
import path from 'node:path';
import { createHarness, eventually, TEST_TOKEN, type Harness } from './helpers/harness.js';

/** The `spacebot` command against a running API: what a person at a terminal sees. */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(h: Harness, args: string[], stdin = '', env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/spacebot.mjs'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SPACEBOT_URL: h.baseUrl, SPACEBOT_API_TOKEN: TEST_TOKEN, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

test('agents list prints the configured agents', async () => {
  const res = await cli(h, ['agents', 'list']);
  expect(res.code).toBe(0);
  expect(res.stdout).toMatch(/^ID\s+NAME\s+MODEL\nmain\s+main\s+anthropic\/claude-haiku-5-5\n$/);
});

test('chat sends each line and prints the replies', async () => {
  h.fake.script((req) => ({ text: `you said ${req.lastUserText.replace(/^\[[^\]]+\] /, '')}` }));
  const res = await cli(h, ['chat', 'main', '--conversation', 'cli-chat'], 'hello\nsecond line\n');
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  expect(res.stdout).toBe('main> you said hello\nmain> you said second line\n');
});

test("runs list and runs show describe the conversation's workflow", async () => {
  const list = await cli(h, ['runs', 'list', '--conversation', 'cli-chat']);
  expect(list.stderr).toBe('');
  expect(list.code).toBe(0);
  expect(list.stdout).toContain('channel:main:webhook:cli-chat');
  expect(list.stdout).toContain('running');
  const show = await cli(h, ['runs', 'show', 'channel:main:webhook:cli-chat']);
  expect(show.stderr).toBe('');
  expect(show.code).toBe(0);
  expect(show.stdout.split('\n')[0]).toMatch(/^channel:main:webhook:cli-chat: running/);
  expect(show.stdout).toMatch(/llm_call .*summary="LLM call 1 of turn 1"/);
});

test('replay checks a run against the current workflow code', async () => {
  const res = await cli(h, ['replay', 'channel:main:webhook:cli-chat'], '', { TEMPORAL_ADDRESS: h.env.address, SPACEBOT_CONFIG: h.configFile });
  expect(res.code).toBe(0);
  expect(res.stdout).toContain('channel:main:webhook:cli-chat');
}, 60_000);

test('heartbeats: create, list, trigger, pause, unpause and delete from the terminal', async () => {
  h.fake.script(() => ({ text: 'daily summary: all quiet' }));
  const created = await cli(h, ['heartbeats', 'create', 'main', 'daily', '--prompt', 'Summarise the day', '--every', '1h', '--timezone', 'UTC', '--to', 'cli-reports']);
  expect(created.stderr).toBe('');
  expect(created.stdout).toBe('created heartbeat daily (heartbeat:main:daily)\n');
  const listed = await cli(h, ['heartbeats', 'list', 'main']);
  expect(listed.stdout).toMatch(/^ID\s+SCHEDULE\s+PAUSED/);
  expect(listed.stdout).toMatch(/daily\s+every 3600s\s+false\s+UTC/);
  expect((await cli(h, ['heartbeats', 'trigger', 'main', 'daily'])).stdout).toBe('triggered heartbeat daily\n');
  const delivered = await eventually(async () => {
    const t = await h.request('GET', '/v1/agents/main/conversations/cli-reports/messages');
    return (t.body.messages as { text: string }[]).find((m) => m.text === 'daily summary: all quiet');
  });
  expect(delivered).toBeDefined();
  expect((await cli(h, ['heartbeats', 'pause', 'main', 'daily'])).stdout).toBe('paused heartbeat daily\n');
  expect((await cli(h, ['heartbeats', 'list', 'main'])).stdout).toMatch(/daily\s+every 3600s\s+true/);
  expect((await cli(h, ['heartbeats', 'unpause', 'main', 'daily'])).stdout).toBe('unpaused heartbeat daily\n');
  expect((await cli(h, ['heartbeats', 'delete', 'main', 'daily'])).stdout).toBe('deleted heartbeat daily\n');
  const tooOften = await cli(h, ['heartbeats', 'create', 'main', 'spam', '--prompt', 'x', '--every', '10s']);
  expect(tooOften.code).toBe(1);
  expect(tooOften.stderr).toMatch(/intervalSeconds.*at least 60 seconds/);
}, 60_000);

test('errors are one clear line with a non-zero exit', async () => {
  const unknown = await cli(h, ['agents', 'dance']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('unknown command "agents dance"');
  const missing = await cli(h, ['runs', 'show', 'no-such-workflow']);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/^spacebot: GET \/v1\/runs\/no-such-workflow: 404 /);
  const down = await cli(h, ['agents', 'list'], '', { SPACEBOT_URL: 'http://127.0.0.1:9' });
  expect(down.code).toBe(1);
  expect(down.stderr).toContain('cannot reach Spacebot at http://127.0.0.1:9');
});
