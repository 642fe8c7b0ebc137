import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 13, findings 1–3, through the public path: a chat message makes the (fake) model spawn a
 * worker whose tool calls are hostile; the server must stay up and nothing outside the workspace may
 * be read, written or reached. Every hostile command is bounded, writes only at canaries in temporary
 * directories, and connects only to 127.0.0.1.
 */

const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
type Call = { name: string; input: Record<string, unknown> };

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);
const lastIsToolResult = (req: NeutralRequest) => {
  const [before, last] = req.messages.slice(-2);
  return last?.role === 'tool' || (last?.role === 'user' && last.text.startsWith('<status>') && before?.role === 'tool');
};

/** Secrets of the server process's own environment, as `npm start` has them. */
const ENV_CANARIES = { ANTHROPIC_API_KEY: 'sk-ant-env-canary-5b1d0c', SPACEBOT_API_TOKEN: 'api-token-env-canary-77f3e2a9c1d4b6e8f0a2c4e6' };

let env: TestWorkflowEnvironment;
let h: Harness;
let canary: string;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const [k, v] of Object.entries(ENV_CANARIES)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  env = await startTestTemporal();
  h = await createHarness({ env });
});
afterAll(async () => {
  await h?.close();
  await env?.teardown();
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
beforeEach(() => {
  h.fake.reset();
  canary = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'spacebot-canary-')));
  writeFileSync(path.join(canary, 'canary.txt'), 'untouched\n');
});
afterEach(() => {
  if (canary) rmSync(canary, { recursive: true, force: true });
});

/**
 * A worker makes `calls` one per step, then reports; resolves with each call's tool result text (and
 * whether it was an error) once the channel has said so.
 */
async function inWorker(harness: Harness, c: string, calls: Call[]): Promise<{ text: string; isError?: boolean }[]> {
  let results: { text: string; isError?: boolean }[] = [];
  harness.fake.script((req): ScriptStep => {
    if (isWorker(req)) {
      const done = toolResults(req);
      if (done.length < calls.length) return { toolCalls: [calls[done.length]!] };
      results = done.map((r) => ({ text: r.text, isError: r.isError }));
      return { toolCalls: [{ name: 'set_status', input: { status: 'finished', done: true } }] };
    }
    if (req.lastUserText.includes('[Worker worker/1 completed]')) return { toolCalls: [{ name: 'reply', input: { text: 'reported' } }] };
    if (req.lastUserText === 'ping') return { toolCalls: [{ name: 'reply', input: { text: 'pong' } }] };
    if (lastIsToolResult(req)) return { toolCalls: [{ name: 'skip', input: {} }] };
    return { toolCalls: [{ name: 'spawn_worker', input: { task: 'Run the commands.' } }] };
  });
  await harness.request('POST', `${conv(c)}/messages`, { text: 'go', wait: true });
  await eventually(
    async () => {
      const res = await harness.request('GET', `${conv(c)}/messages`);
      return (res.body.messages as { direction: string; text: string }[]).some((m) => m.direction === 'outbound' && m.text === 'reported') ? true : undefined;
    },
    60_000,
    'the worker to report',
  );
  expect(results.length).toBe(calls.length);
  return results;
}

const shell = (command: string): Call => ({ name: 'shell', input: { command, timeout_seconds: 30 } });

async function healthy(harness: Harness, c: string): Promise<void> {
  expect((await harness.request('GET', '/health')).status).toBe(200);
  const res = await harness.request('POST', `${conv(c)}/messages`, { text: 'ping', wait: true });
  expect((res.body.replies as { text: string }[]).map((r) => r.text)).toEqual(['pong']);
}

test('finding 1: kill $PPID and kill -9 $PPID from the shell leave the server running', async () => {
  const [out] = await inWorker(h, 'kill', [shell('kill $PPID; kill -9 $PPID; kill -9 1; sleep 0.2; echo "after the kills"')]);
  expect(out?.text).toContain('after the kills');
  await healthy(h, 'kill');
});

test('finding 1: the shell runs as an unprivileged user without capabilities, and cannot remount /etc', async () => {
  const [out] = await inWorker(h, 'caps', [
    shell('id -u; grep -E "^(CapEff|CapBnd|NoNewPrivs)" /proc/self/status; mount -o remount,rw,bind /etc && echo REMOUNTED; echo "mount exit $?"'),
  ]);
  expect(out?.text).toMatch(/^1000\n/);
  expect(out?.text).toMatch(/CapEff:\s+0+\n/);
  expect(out?.text).toMatch(/CapBnd:\s+0+\n/);
  expect(out?.text).toMatch(/NoNewPrivs:\s+1\n/);
  expect(out?.text).not.toContain('REMOUNTED');
  expect(out?.text).toMatch(/mount exit [1-9]/);
});

test('finding 1: no provider key or API token is visible to the shell, in its environment or any /proc/*/environ', async () => {
  // What the server process was started with (/proc/self/environ: later process.env changes do not show
  // there), minus the names the sandbox sets itself (a host's SHELL=/bin/bash is also the sandbox's).
  const ownEnv = readFileSync('/proc/self/environ', 'utf8')
    .split('\0')
    .filter((e) => e.includes('=') && !/^(PATH|HOME|LANG|PWD|OLDPWD|SHLVL|TERM|SHELL|USER|LOGNAME|TMPDIR|_)=/.test(e) && e.length > 8);
  expect(ownEnv.length).toBeGreaterThan(0);
  const [out] = await inWorker(h, 'env', [
    shell(
      '{ env; tr "\\0" "\\n" < /proc/$PPID/environ; tr "\\0" "\\n" < /proc/1/environ; } 2>/dev/null | sort -u; ' +
        'echo "canaries: $(for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < "$f"; done 2>/dev/null | grep -c -e sk-ant-env-canary -e api-token-env-canary)"',
    ),
  ]);
  expect(out?.text).toMatch(/\ncanaries: 0\n/);
  for (const entry of ownEnv) expect(out?.text).not.toContain(entry);
});

test('finding 2: the data directory, the config and files outside the workspace are neither visible nor writable', async () => {
  const dataDir = h.config.dataDir;
  writeFileSync(path.join(dataDir, 'data-canary.txt'), 'data-dir-secret-3c9e\n');
  const escaped = `spacebot-escaped-${process.pid}-${Date.now()}`;
  const [out] = await inWorker(h, 'files', [
    shell(
      [
        `cat ${dataDir}/data-canary.txt`,
        `echo "data dir holds: $(ls -A ${dataDir} | tr '\\n' ' ')"`,
        `cat ${h.configFile}`,
        `cat ${canary}/canary.txt`,
        `echo pwned > ${canary}/canary.txt`,
        `echo x > ${canary}/${escaped}`,
        `echo x > ${dataDir}/${escaped}`,
        `echo x > /tmp/${escaped}`,
        `rm -f ${canary}/canary.txt`,
        'echo inside > in-workspace.txt',
        'echo finished',
      ].join('; '),
    ),
  ]);
  expect(out?.text).toContain('finished');
  expect(out?.text).not.toContain('data-dir-secret-3c9e');
  expect(out?.text).not.toContain('task_queue');
  expect(out?.text).not.toContain('untouched');
  // Only the path down to the workspace exists inside; nothing else of the data directory.
  expect(out?.text).toContain('data dir holds: agents \n');
  expect(readFileSync(path.join(canary, 'canary.txt'), 'utf8')).toBe('untouched\n');
  expect(existsSync(path.join(canary, escaped))).toBe(false);
  expect(existsSync(path.join(dataDir, escaped))).toBe(false);
  expect(existsSync(path.join(os.tmpdir(), escaped))).toBe(false);
  expect(readFileSync(path.join(h.config.agents[0]!.workspace, 'in-workspace.txt'), 'utf8')).toBe('inside\n');
});

test('finding 2: no loopback port is reachable from the shell (a listener of the test, the API, Temporal)', async () => {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as net.AddressInfo).port;
    const apiPort = new URL(h.baseUrl).port;
    const temporalPort = env.address.split(':').pop();
    const probe = (p: string | number | undefined) => `(exec 3<>/dev/tcp/127.0.0.1/${p}) 2>/dev/null && echo "CONNECTED ${p}"`;
    const [out] = await inWorker(h, 'net', [shell(`${probe(port)}; ${probe(apiPort)}; ${probe(temporalPort)}; echo probed`)]);
    expect(out?.text).toContain('probed');
    expect(out?.text).not.toContain('CONNECTED');
    expect(connections).toBe(0);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('finding 3: a hard link to a host file cannot be made in the sandbox, and the file tools do not follow one', async () => {
  const results = await inWorker(h, 'hl', [
    shell(`ln /etc/passwd hl; ln ${canary}/canary.txt hl2; ls hl hl2`),
    { name: 'file_read', input: { path: 'hl' } },
    { name: 'file_edit', input: { path: 'hl2', old_text: 'untouched', new_text: 'pwned' } },
  ]);
  expect(results[0]?.text).toMatch(/No such file or directory/);
  expect(results[1]).toMatchObject({ isError: true });
  expect(results[1]?.text).not.toContain('root:');
  expect(results[2]).toMatchObject({ isError: true });
  expect(readFileSync(path.join(canary, 'canary.txt'), 'utf8')).toBe('untouched\n');
});

describe('with sandbox = "none" explicitly allowed (the file tools on their own)', () => {
  let hn: Harness;
  beforeAll(async () => {
    hn = await createHarness({ env, toml: '\n[tools]\nsandbox = "none"\nallow_unsandboxed_root = true\n' });
  });
  afterAll(async () => {
    await hn?.close();
  });

  test('finding 3: file_read, file_edit and file_write refuse a hard link to a file outside the workspace', async () => {
    mkdirSync(hn.config.agents[0]!.workspace, { recursive: true });
    // Made on the host, as an unsandboxed shell could: the link itself harms nothing.
    linkSync(path.join(canary, 'canary.txt'), path.join(hn.config.agents[0]!.workspace, 'hl'));
    const results = await inWorker(hn, 'hl-none', [
      { name: 'file_read', input: { path: 'hl' } },
      { name: 'file_edit', input: { path: 'hl', old_text: 'untouched', new_text: 'pwned' } },
      { name: 'file_write', input: { path: 'hl', content: 'pwned' } },
    ]);
    for (const r of results) {
      expect(r).toMatchObject({ isError: true });
      expect(r.text).toMatch(/hard links/);
    }
    expect(readFileSync(path.join(canary, 'canary.txt'), 'utf8')).toBe('untouched\n');
  });
});
