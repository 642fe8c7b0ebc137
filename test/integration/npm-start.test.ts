import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';
import { startPgvectorLessPostgres } from '../helpers/pgvector-less-postgres.js';
import { canListen, freePorts } from '../helpers/ports.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/**
 * `npm start` through its real entry point (workers/main.ts) in a child process: embedded Temporal
 * and PGlite (or, with TEST_DATABASE_URL, a database of its own on that server), worker and API in
 * one process, clean stop on SIGTERM, state kept across restarts, and the one-line errors a user can fix.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startSpacebot(env: Record<string, string>): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(started: Started, text: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!started.output().includes(text)) {
    if (started.child.exitCode !== null) throw new Error(`spacebot exited (${started.child.exitCode}) before "${text}":\n${started.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`no "${text}" within ${timeoutMs} ms:\n${started.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let fake: FakeLlm;
let dir: string;
let server: TestDatabase | undefined;
const running: Started[] = [];
beforeAll(async () => {
  fake = await startFakeLlm();
  server = await createTestDatabase();
  dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-start-'));
});
afterAll(async () => {
  for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
  await Promise.all(running.map((s) => s.exited));
  await fake?.close();
  await server?.drop();
});

test('npm start answers over HTTP, stops cleanly on SIGTERM and keeps the conversation across a restart', async () => {
  fake.script((req) => ({ text: `heard ${req.messages.filter((m) => m.role === 'user').map((m) => m.text).join(' + ')}` }));
  const configFile = path.join(dir, 'spacebot.toml');
  writeFileSync(configFile, '[[agents]]\nid = "main"\nname = "Smoke"\n');
  const [apiPort, temporalPort, uiPort] = (await freePorts(3)) as [number, number, number];
  const env = {
    SPACEBOT_CONFIG: configFile,
    SPACEBOT_DATA_DIR: path.join(dir, 'data'),
    SPACEBOT_PORT: String(apiPort),
    SPACEBOT_TEMPORAL_PORT: String(temporalPort),
    SPACEBOT_TEMPORAL_UI_PORT: String(uiPort),
    ANTHROPIC_API_KEY: 'sk-ant-smoke-test-1234',
    ANTHROPIC_BASE_URL: fake.url,
    ...(server?.url ? { DATABASE_URL: server.url } : {}),
  };
  const post = async (text: string) => {
    const token = readFileSync(path.join(dir, 'data', 'api-token'), 'utf8').trim();
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/agents/main/conversations/smoke/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text, wait: 30_000 }),
    });
    return { status: res.status, body: (await res.json()) as { replies?: { text: string }[]; temporalUiUrl?: string } };
  };

  const first = startSpacebot(env);
  running.push(first);
  await waitFor(first, 'API listening');
  expect(first.output()).toContain(`Temporal Web UI: http://127.0.0.1:${uiPort}`);
  const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
  expect(health.status).toBe(200);
  const one = await post('one');
  expect(one.status).toBe(200);
  expect(one.body.replies?.map((r) => r.text)).toEqual(['heard one']);
  expect(one.body.temporalUiUrl).toContain(`http://127.0.0.1:${uiPort}/namespaces/default/workflows/channel%3Amain%3Awebhook%3Asmoke/`);

  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  // The embedded Temporal server went with it: its port is free again.
  expect(await canListen(temporalPort)).toBe(true);

  const second = startSpacebot(env);
  running.push(second);
  await waitFor(second, 'API listening');
  const two = await post('two');
  expect(two.body.replies?.map((r) => r.text)).toEqual(['heard one + two']);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 180_000);

test('an unknown config key stops start with one line naming the key and the file', async () => {
  const configFile = path.join(dir, 'bad.toml');
  writeFileSync(configFile, '[server]\nprot = 3000\n');
  const started = startSpacebot({ SPACEBOT_CONFIG: configFile, SPACEBOT_DATA_DIR: path.join(dir, 'bad-data') });
  running.push(started);
  expect(await started.exited).toBe(1);
  const lines = started.output().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain('unknown key "server.prot"');
  expect(lines[0]).toContain(configFile);
}, 60_000);

test('a PostgreSQL without pgvector stops start with one line saying how to fix it', async () => {
  // Not the machine's server: CI installs pgvector there (see helpers/pgvector-less-postgres.ts).
  const pgvectorLess = await startPgvectorLessPostgres();
  try {
    const configFile = path.join(dir, 'empty.toml');
    writeFileSync(configFile, '');
    const started = startSpacebot({ SPACEBOT_CONFIG: configFile, DATABASE_URL: pgvectorLess.url, SPACEBOT_DATA_DIR: path.join(dir, 'pg-data') });
    running.push(started);
    expect(await started.exited).toBe(1);
    const lines = started.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/has no pgvector extension: install it .* or unset DATABASE_URL/);
  } finally {
    await pgvectorLess.stop();
  }
}, 180_000);
