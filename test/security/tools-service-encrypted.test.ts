import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConfigError, loadConfig } from '../../lib/config/load.js';
import type { SpacebotConfig } from '../../lib/config/types.js';
import { createLogger } from '../../lib/logger.js';
import { startSpacebot, type RunningApp } from '../../lib/runtime/app.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { startToolsService, ToolsServiceSecretsError, type ToolsService } from '../../lib/runtime/tools-service.js';
import { loadMasterKeys } from '../../lib/secrets/master-key.js';
import { derivePayloadKeys, formatPayloadKey } from '../../lib/temporal/payload-key.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { startFakeLlm, type FakeLlm } from '../fake-llm/server.js';
import { eventually } from '../helpers/harness.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 13's two halves together: `[temporal] encrypt_history = true` and the tools service without
 * secrets. The app (worker + API, real start-up, master key in its data dir) leaves the tools queue
 * to a tools service started as workers/tools.ts starts it, whose environment holds only the payload
 * key printed by `spacebot keys payload-key`, no master key. The worker's file and shell tools run
 * there, the task completes, and the history the Temporal server stores holds none of their text.
 */
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const TOKEN = 'tools-encrypted-test-token-0123456789';
const logger = createLogger('tools-encrypted-test', process.env.LOG_LEVEL ?? 'silent');
/** The file tool's input (written), and the shell tool's command and its output, all distinct. */
const FILE_TEXT = 'aubergine-7781';
const COMMAND = "printf 'quince-%s\\n' 4412; wc -c < notes/secret.txt";
const OUTPUT = 'quince-4412';

let env: TestWorkflowEnvironment;
let fake: FakeLlm;
let dir: string;
let workspace: string;
let app: RunningApp | undefined;
let tools: ToolsService | undefined;
let toolsEnv: NodeJS.ProcessEnv;
const previousMasterKey = process.env.SPACEBOT_MASTER_KEY;

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);

function cli(args: string[], extraEnv: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/spacebot.mjs'), ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** All bytes and strings of a history, so a search cannot miss text inside a Uint8Array. */
function historyBytes(node: unknown, out: Buffer[] = [], depth = 0): Buffer[] {
  if (node instanceof Uint8Array) out.push(Buffer.from(node));
  else if (typeof node === 'string') out.push(Buffer.from(node));
  else if (node && typeof node === 'object' && depth < 40) for (const value of Object.values(node)) historyBytes(value, out, depth + 1);
  return out;
}

const encodingOf = (p: { metadata?: Record<string, Uint8Array> | null } | undefined) => Buffer.from(p?.metadata?.encoding ?? new Uint8Array()).toString();

describe('encrypted history with the tools service holding only the payload key', () => {
  let server: TestDatabase | undefined;
  beforeAll(async () => {
    // The app reads its master key from its data dir, as a single-host install does: nothing in this
    // process's environment for the tools service to inherit.
    delete process.env.SPACEBOT_MASTER_KEY;
    env = await startTestTemporal();
    fake = await startFakeLlm();
    server = await createTestDatabase();
    dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-tools-encrypted-'));
    workspace = path.join(dir, 'workspace');
    mkdirSync(workspace);
    const taskQueue = `tools-encrypted-${path.basename(dir)}`;
    const agents = ['[[agents]]', 'id = "main"', `workspace = "${workspace}"`];
    writeFileSync(
      path.join(dir, 'spacebot.toml'),
      [
        '[temporal]',
        `address = "${env.address}"`,
        `task_queue = "${taskQueue}"`,
        'encrypt_history = true',
        '[providers.anthropic]',
        'api_key = "sk-ant-test-key-123456"',
        `base_url = "${fake.url}"`,
        '[defaults]',
        'model = "anthropic/claude-haiku-5-5"',
        '[cortex]',
        'enabled = false',
        '[memory]',
        'embedder = "none"',
        '[tools]',
        'service = "external"',
        ...agents,
        '',
      ].join('\n'),
    );
    // The tools service's own config: the same queue, encryption and workspaces, no key.
    writeFileSync(path.join(dir, 'spacebot-tools.toml'), ['[temporal]', `task_queue = "${taskQueue}"`, 'encrypt_history = true', ...agents, ''].join('\n'));
    const config: SpacebotConfig = loadConfig({
      cwd: dir,
      env: { SPACEBOT_DATA_DIR: path.join(dir, 'data'), SPACEBOT_API_TOKEN: TOKEN, SPACEBOT_PORT: '0', DATABASE_URL: server.url },
    });
    app = await startSpacebot(config, logger, { api: true, worker: true, watchIngest: false, tools: false });
  }, 240_000);

  afterAll(async () => {
    await tools?.stop();
    await app?.stop();
    await fake?.close();
    await server?.drop();
    await env?.teardown();
    if (previousMasterKey !== undefined) process.env.SPACEBOT_MASTER_KEY = previousMasterKey;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('`spacebot keys payload-key` prints the derived payload key from the data dir’s master key, never the master key', async () => {
    const dataDir = path.join(dir, 'data');
    const master = loadMasterKeys(dataDir, {});
    const printed = await cli(['keys', 'payload-key'], { SPACEBOT_DATA_DIR: dataDir });
    expect(printed).toMatchObject({ code: 0, stderr: '' });
    expect(printed.stdout).toBe(`SPACEBOT_PAYLOAD_KEY=${formatPayloadKey(derivePayloadKeys(master).current)}\n`);
    expect(printed.stdout).not.toContain(readFileSync(path.join(dataDir, 'master-key'), 'utf8').trim());
    // The tools service's whole environment: Temporal, a data dir of its own, the payload key.
    toolsEnv = {
      TEMPORAL_ADDRESS: env.address,
      TEMPORAL_NAMESPACE: env.namespace ?? 'default',
      SPACEBOT_CONFIG: path.join(dir, 'spacebot-tools.toml'),
      SPACEBOT_DATA_DIR: path.join(dir, 'tools-data'),
      SPACEBOT_PAYLOAD_KEY: printed.stdout.trim().slice('SPACEBOT_PAYLOAD_KEY='.length),
    };

    // Without a master key there is nothing to derive, and none is created.
    const none = await cli(['keys', 'payload-key'], { SPACEBOT_DATA_DIR: path.join(dir, 'empty') });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('spacebot: no master key here: set SPACEBOT_MASTER_KEY');
    expect(existsSync(path.join(dir, 'empty', 'master-key'))).toBe(false);
  }, 60_000);

  test('the worker’s file and shell tools run in the tools service; the stored history holds none of their text', async () => {
    expect(toolsEnv).toBeDefined();
    const toolsConfig = loadConfig({ cwd: dir, env: toolsEnv });
    expect(toolsConfig.temporal.encryptHistory).toBe(true);
    tools = await startToolsService(toolsConfig, logger, toolsEnv);
    // Only the payload key on the tools side: no master key in its environment, config or data dir.
    expect(Object.keys(toolsEnv).filter((k) => /KEY|TOKEN|SECRET|DATABASE/.test(k))).toEqual(['SPACEBOT_PAYLOAD_KEY']);
    expect(process.env.SPACEBOT_MASTER_KEY).toBeUndefined();
    expect(existsSync(path.join(toolsConfig.dataDir, 'master-key'))).toBe(false);

    fake.script((req): ScriptStep => {
      if (isWorker(req)) {
        const done = toolResults(req);
        if (done.length === 0) return { toolCalls: [{ name: 'file_write', input: { path: 'notes/secret.txt', content: FILE_TEXT } }] };
        if (done.length === 1) return { toolCalls: [{ name: 'shell', input: { command: COMMAND } }] };
        const out = done[done.length - 1]?.text ?? '';
        return { toolCalls: [{ name: 'set_status', input: { status: out.includes(OUTPUT) ? `shell said the word, file has ${/\n\s*(\d+)/.exec(out)?.[1] ?? '?'} bytes` : 'no output', done: true } }] };
      }
      if (req.lastUserText.includes('[Worker worker/1 completed]')) {
        const outcome = /Outcome: (.*)/.exec(req.lastUserText)?.[1] ?? '';
        return { toolCalls: [{ name: 'reply', input: { text: `Done: ${outcome}` } }] };
      }
      if (req.messages.at(-1)?.role === 'tool' || req.lastUserText.startsWith('<status>')) return { toolCalls: [{ name: 'skip', input: {} }] };
      return { toolCalls: [{ name: 'reply', input: { text: 'Starting a worker on it.' } }, { name: 'spawn_worker', input: { task: 'Write the note and run the command.' } }] };
    });

    const apiUrl = app?.apiUrl as string;
    const api = async (method: string, route: string, body?: unknown) => {
      const res = await fetch(apiUrl + route, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const posted = await api('POST', '/v1/agents/main/conversations/enc/messages', { text: 'please do it', wait: 60_000 });
    expect(posted.status).toBe(200);
    const done = await eventually(
      async () => ((await api('GET', '/v1/agents/main/conversations/enc/messages')).body.messages as { direction: string; text: string }[]).find((m) => m.direction === 'outbound' && m.text.startsWith('Done: ')),
      90_000,
      'the worker outcome reply',
    );
    expect(done.text).toBe(`Done: shell said the word, file has ${FILE_TEXT.length} bytes`);
    expect(readFileSync(path.join(workspace, 'notes/secret.txt'), 'utf8')).toBe(FILE_TEXT);

    // The raw history as the Temporal server stores it, through a client without the codec.
    const workerId = `${posted.body.workflowId as string}/worker/1`;
    const history = await env.client.workflow.getHandle(workerId).fetchHistory();
    const events = history.events ?? [];
    const onTools = events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a?.activityType?.name === 'runWorkspaceTool' ? [a] : [];
    });
    expect(onTools.map((a) => a.taskQueue?.name?.endsWith('-tools'))).toEqual([true, true]);
    // Inputs the tools service decoded and results it encoded: ciphertext under the payload key.
    expect(onTools.flatMap((a) => a.input?.payloads ?? []).map(encodingOf)).toEqual(['binary/encrypted', 'binary/encrypted']);
    const results = events.flatMap((e) => e.activityTaskCompletedEventAttributes?.result?.payloads ?? []);
    expect(results.length).toBeGreaterThanOrEqual(2);
    expect(new Set(results.map(encodingOf))).toEqual(new Set(['binary/encrypted']));
    const bytes = Buffer.concat(historyBytes(history));
    for (const plain of [FILE_TEXT, OUTPUT, 'quince-%s', 'notes/secret.txt']) expect({ plain, found: bytes.includes(Buffer.from(plain)) }).toEqual({ plain, found: false });
  }, 180_000);
});

describe('the tools service with encrypt_history', () => {
  let scratch: string;
  let configFile: string;
  let base: NodeJS.ProcessEnv;
  const payloadKey = () => formatPayloadKey(derivePayloadKeys(loadMasterKeys(path.join(scratch, 'main-data'), {})).current);
  beforeAll(() => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-tools-payload-key-'));
    configFile = path.join(scratch, 'spacebot-tools.toml');
    writeFileSync(configFile, '[temporal]\ntask_queue = "tools-payload-key-test"\nencrypt_history = true\n');
    // An address nothing listens on: every case here must be decided before connecting.
    base = { TEMPORAL_ADDRESS: '127.0.0.1:9', SPACEBOT_DATA_DIR: path.join(scratch, 'tools-data') };
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const startWith = (extra: NodeJS.ProcessEnv) => {
    const all = { ...base, ...extra };
    return startToolsService(loadConfig({ file: configFile, cwd: scratch, env: all }), logger, all).then(
      async (service) => {
        await service.stop();
        return undefined;
      },
      (e: unknown) => e as Error,
    );
  };

  test('refuses to start without a payload key, in one line naming what to set', async () => {
    const err = await startWith({});
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toBe(
      '[temporal] encrypt_history is true but SPACEBOT_PAYLOAD_KEY is not set: the tools service cannot read encrypted activity tasks; set it to the output of `spacebot keys payload-key` (never the master key; docs/security.md, "History at rest")',
    );
  });

  test('a malformed payload key is refused naming the variable, not its value', async () => {
    const err = await startWith({ SPACEBOT_PAYLOAD_KEY: 'not-a-key-value-0001' });
    expect(err).toBeInstanceOf(ConfigError);
    expect(err?.message).toMatch(/^SPACEBOT_PAYLOAD_KEY: expected/);
    expect(err?.message).not.toContain('not-a-key-value-0001');
  });

  test('the payload key passes the secret check; the master key beside it (variable or file) is still refused', async () => {
    const key = payloadKey();
    // Passes every check and only then fails to reach Temporal (nothing listens on port 9).
    const reached = await startWith({ SPACEBOT_PAYLOAD_KEY: key });
    expect(reached).toBeDefined();
    expect(reached).not.toBeInstanceOf(ConfigError);
    const master = readFileSync(path.join(scratch, 'main-data', 'master-key'), 'utf8').trim();
    const withVariable = await startWith({ SPACEBOT_PAYLOAD_KEY: key, SPACEBOT_MASTER_KEY: master });
    expect(withVariable).toBeInstanceOf(ToolsServiceSecretsError);
    expect(withVariable?.message).toContain('found SPACEBOT_MASTER_KEY;');
    expect(withVariable?.message).not.toContain(master);
    // The master key file in the tools service's data dir is as reachable as the variable.
    const withFile = await startWith({ SPACEBOT_PAYLOAD_KEY: key, SPACEBOT_DATA_DIR: path.join(scratch, 'main-data') });
    expect(withFile).toBeInstanceOf(ToolsServiceSecretsError);
    expect(withFile?.message).toContain(`the master key file ${path.join(scratch, 'main-data', 'master-key')}`);
  });
});
