import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Resource limits of the worker sandbox, through the public path (a chat message makes the fake model
 * spawn a worker whose shell commands are hostile): a sized /tmp, RLIMIT_FSIZE, RLIMIT_AS and a bounded
 * process count. Every hostile command is bounded in itself as well, so that a missing limit cannot
 * hurt the machine: the "fork bomb" is a loop of at most 300 `sleep`s under `timeout -s KILL 10`, the
 * fills are a few tens of MB, and the allocation is never touched (zero pages, no RAM used).
 */

const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
type Call = { name: string; input: Record<string, unknown> };

const MB = 1024 * 1024;
const LIMITS = { tmpMb: 16, maxProcesses: 64, memoryMb: 1024, maxFileMb: 24 };
const TOML =
  `\n[tools]\nsandbox_tmp_mb = ${LIMITS.tmpMb}\nsandbox_max_processes = ${LIMITS.maxProcesses}\n` +
  `sandbox_memory_mb = ${LIMITS.memoryMb}\nsandbox_max_file_mb = ${LIMITS.maxFileMb}\n`;

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};

let env: TestWorkflowEnvironment;
let h: Harness;

beforeAll(async () => {
  env = await startTestTemporal();
  h = await createHarness({ env, toml: TOML });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
});
beforeEach(() => h.fake.reset());

/** A worker runs `calls`, one per step, then reports; resolves with each call's tool result text. */
async function inWorker(c: string, calls: Call[]): Promise<string[]> {
  let results: string[] = [];
  h.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const done = toolResults(req);
      if (done.length < calls.length) return { toolCalls: [calls[done.length]!] };
      results = done.map((r) => r.text);
      return { toolCalls: [{ name: 'set_status', input: { status: 'finished', done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: 'reported' } }] };
    if (req.lastUserText === 'ping') return { toolCalls: [{ name: 'reply', input: { text: 'pong' } }] };
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'Run the commands.' } }] };
  });
  await h.request('POST', `${conv(c)}/messages`, { text: 'go', wait: true });
  await eventually(
    async () => {
      const res = await h.request('GET', `${conv(c)}/messages`);
      return (res.body.messages as { direction: string; text: string }[]).some((m) => m.direction === 'outbound' && m.text === 'reported') ? true : undefined;
    },
    90_000,
    'the worker to report',
  );
  expect(results.length).toBe(calls.length);
  return results;
}

const shell = (command: string): Call => ({ name: 'shell', input: { command, timeout_seconds: 60 } });

async function healthy(c: string): Promise<void> {
  expect((await h.request('GET', '/health')).status).toBe(200);
  const res = await h.request('POST', `${conv(c)}/messages`, { text: 'ping', wait: true });
  expect((res.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['pong']);
}

const workspaceFile = (name: string) => path.join(h.config.agents[0]!.workspace, name);

test('a fork loop stops at sandbox_max_processes with "Resource temporarily unavailable", and the server can still spawn', async () => {
  // Bounded twice over: at most 300 sleeps, and the loop is killed after 10 s whatever happens.
  const [out] = await inWorker('forks', [
    shell(
      'timeout -s KILL 10 bash -c \'for i in $(seq 1 300); do sleep 30 >/dev/null 2>&1 & echo $i > started; done\' 2>fork.err; ' +
        'echo "started $(cat started)"; echo "eagain $(grep -c "Resource temporarily unavailable" fork.err)"',
    ),
  ]);
  const started = Number(/started (\d+)/.exec(out ?? '')?.[1]);
  expect(started).toBeGreaterThan(5);
  expect(started).toBeLessThan(LIMITS.maxProcesses);
  expect(out).toMatch(/eagain [1-9]/);
  // The test process (and so the server's uid) can still start processes.
  expect(spawnSync('/bin/true').status).toBe(0);
  await healthy('forks');
}, 180_000);

test('filling /tmp stops at sandbox_tmp_mb with "No space left on device"', async () => {
  const [out] = await inWorker('tmpfill', [shell(`head -c ${2 * LIMITS.tmpMb}M /dev/zero > /tmp/fill; echo "head exit $?"; echo "size $(stat -c %s /tmp/fill)"`)]);
  expect(out).toContain('No space left on device');
  expect(out).toMatch(/head exit [1-9]/);
  expect(Number(/size (\d+)/.exec(out ?? '')?.[1])).toBeLessThanOrEqual(LIMITS.tmpMb * MB);
  await healthy('tmpfill');
}, 180_000);

test('a file larger than sandbox_max_file_mb cannot be written', async () => {
  const [out] = await inWorker('fsize', [shell(`head -c ${2 * LIMITS.maxFileMb}M /dev/zero > big.bin; echo "head exit $?"`)]);
  // 128 + SIGXFSZ (25): the kernel stops the writer at the limit.
  expect(out).toContain('head exit 153');
  expect(statSync(workspaceFile('big.bin')).size).toBe(LIMITS.maxFileMb * MB);
}, 180_000);

test('allocating more than sandbox_memory_mb fails', async () => {
  // A zero-filled ArrayBuffer is never touched: without the limit it succeeds without using RAM.
  const [out] = await inWorker('memory', [
    shell(`node -e 'try { new ArrayBuffer(${LIMITS.memoryMb + 512} * 2 ** 20); console.log("ALLOCATED") } catch (e) { console.log("refused:", e.message) }'`),
  ]);
  expect(out).toContain('refused: Array buffer allocation failed');
  expect(out).not.toContain('ALLOCATED');
}, 180_000);
