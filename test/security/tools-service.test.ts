import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../lib/config/load.js';
import { createLogger } from '../../lib/logger.js';
import { startToolsService, ToolsServiceSecretsError, type ToolsService } from '../../lib/runtime/tools-service.js';
import { makeWorkerTools } from '../../lib/tools/workspace/index.js';
import { WORKSPACE_TOOL_NAMES } from '../../workflows/workspace-tools.js';
import type { NeutralRequest, ScriptStep } from '../fake-llm/script.js';
import { createHarness, eventually, type Harness } from '../helpers/harness.js';
import { recordHistories } from '../helpers/histories.js';
import { startTestTemporal } from '../helpers/temporal-env.js';

/**
 * Issue 13: "the tools task queue runs in its own service with no provider keys, tokens or database
 * URL". The worker here does not poll the tools queue; a tools service started exactly as
 * workers/tools.ts starts it (startToolsService with a config and environment holding no secret)
 * runs the worker's shell and file tools, and the task still completes end to end.
 */

const conv = (c: string) => `/v1/agents/main/conversations/${c}`;
const wfId = (c: string) => `channel:main:webhook:${c}`;
const logger = createLogger('tools-service-test', process.env.LOG_LEVEL ?? 'silent');
/** Printed by the worker's shell; an AWS access key's shape, which the tools service must scrub. */
const FAKE_AWS_KEY = 'AKIAABCDEFGHIJKLMNOP';

let env: TestWorkflowEnvironment;
let h: Harness;
let tools: ToolsService;

const isWorker = (req: NeutralRequest) => req.tools.includes('set_status');
const toolResults = (req: NeutralRequest) => req.messages.flatMap((m) => m.toolResults ?? []);

describe('with the tools service running beside a worker that leaves it the tools queue', () => {
  beforeAll(async () => {
    env = await startTestTemporal();
    // Workers may use the memory tools: those need the database and must stay on the main queue.
    // `[tools] service = "external"`, as the compose file sets it for spacebot-worker.
    h = await createHarness({ env, pollTools: false, toml: '[tools]\nservice = "external"\n\n[[agents]]\nid = "main"\nmemory_tools_for_workers = true\n' });
    // Only what a spacebot-tools container gets: no DATABASE_URL, provider key or token.
    const toolsEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: env.namespace ?? 'default', SPACEBOT_DATA_DIR: h.config.dataDir };
    const config = loadConfig({ file: h.configFile, cwd: path.dirname(h.configFile), env: toolsEnv });
    tools = await startToolsService(config, logger, toolsEnv);
  }, 60_000);
  afterAll(async () => {
    await tools?.stop();
    await h?.close();
    await env?.teardown();
  });

  test('a worker whose shell and file tools run in the secret-free tools service completes its task, results in the transcript', async () => {
    // The all-in-one worker really left the tools queue to the service.
    expect(h.worker?.tools).toBeUndefined();
    h.fake.script((req): ScriptStep => {
      if (isWorker(req)) {
        const done = toolResults(req);
        if (done.length === 0) {
          return {
            toolCalls: [
              { name: 'file_write', input: { path: 'notes/hello.txt', content: 'hello' } },
              { name: 'memory_recall', input: { mode: 'recent' } },
            ],
          };
        }
        if (done.length === 2) return { toolCalls: [{ name: 'shell', input: { command: "wc -c < notes/hello.txt; printf 'AKIA%s\\n' ABCDEFGHIJKLMNOP" } }] };
        const bytes = /^\s*(\d+)/.exec(done[done.length - 1]?.text ?? '')?.[1] ?? '?';
        return { toolCalls: [{ name: 'set_status', input: { status: `notes/hello.txt holds ${bytes} bytes`, done: true } }] };
      }
      if (req.lastUserText.includes('[Worker worker/1 completed]')) {
        const outcome = /Outcome: (.*)/.exec(req.lastUserText)?.[1] ?? '';
        return { toolCalls: [{ name: 'reply', input: { text: `Done: ${outcome}` } }] };
      }
      if (req.messages.at(-1)?.role === 'tool' || req.lastUserText.startsWith('<status>')) return { toolCalls: [{ name: 'skip', input: {} }] };
      return { toolCalls: [{ name: 'reply', input: { text: 'Starting a worker on it.' } }, { name: 'spawn_worker', input: { task: 'Write hello into notes/hello.txt and count its bytes.' } }] };
    });
    const posted = await h.request('POST', `${conv('t1')}/messages`, { text: 'please make the file', wait: true });
    expect(posted.status).toBe(200);

    const done = await eventually(
      async () => ((await h.request('GET', `${conv('t1')}/messages`)).body.messages as { direction: string; text: string }[]).find((m) => m.direction === 'outbound' && m.text.startsWith('Done: ')),
      60_000,
      'the worker outcome reply',
    );
    expect(done.text).toBe('Done: notes/hello.txt holds 5 bytes');
    expect(readFileSync(path.join(h.config.agents[0]!.workspace, 'notes/hello.txt'), 'utf8')).toBe('hello');

    // The worker's transcript holds every tool result: the file write and shell output (recorded by
    // the workflow on the main queue), the memory tool's (stored by runTool beside the database).
    const workerId = `${wfId('t1')}/worker/1`;
    const rows = await h.database.db.selectFrom('context_entries').select(['step', 'idx', 'role', 'content']).where('channel_id', '=', workerId).where('role', '=', 'tool').orderBy('step').orderBy('idx').execute();
    const results = rows.map((r) => r.content as { toolCallId: string; content: string; isError?: boolean });
    expect(results.map((r) => r.content)).toEqual([
      'Created notes/hello.txt (5 bytes, 1 line).',
      'No memories found.',
      expect.stringMatching(/^5\n\[redacted: aws access key\]\n\[exit code 0 · /),
      'Outcome recorded. Finish now (answer without tools).',
    ]);
    expect(JSON.stringify(results)).not.toContain(FAKE_AWS_KEY);
    expect(results.filter((r) => r.isError)).toEqual([]);

    // Shell and files ran as runWorkspaceTool on the tools queue; only the memory tool used the main one.
    const history = await h.env.client.workflow.getHandle(workerId).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a ? [`${a.activityType?.name}@${a.taskQueue?.name?.endsWith('-tools') ? 'tools' : 'main'}`] : [];
    });
    expect(scheduled.filter((s) => s !== 'callModel@main').sort()).toEqual(['runTool@main', 'runWorkspaceTool@tools', 'runWorkspaceTool@tools']);
    expect(JSON.stringify(history.events)).not.toContain(FAKE_AWS_KEY);
    await recordHistories(h.env, workerId, 'worker-tools-without-db');
  }, 120_000);
});

describe('the tools service holds no secrets', () => {
  let dir: string;
  let configFile: string;
  let toolsEnv: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-tools-secrets-'));
    configFile = path.join(dir, 'spacebot.toml');
    writeFileSync(configFile, '[temporal]\ntask_queue = "tools-secrets-test"\n');
    // An address nothing listens on: every case here must be refused before connecting.
    toolsEnv = { TEMPORAL_ADDRESS: '127.0.0.1:9', SPACEBOT_DATA_DIR: path.join(dir, 'data') };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const start = (extra: NodeJS.ProcessEnv) => {
    const withSecrets = { ...toolsEnv, ...extra };
    return startToolsService(loadConfig({ file: configFile, cwd: dir, env: withSecrets }), logger, withSecrets);
  };

  test('refuses to start with a provider key, database URL, API token or adapter token in its environment, naming each but no value', async () => {
    const secrets = {
      ANTHROPIC_API_KEY: 'sk-ant-never-in-the-tools-service-0001',
      DATABASE_URL: 'postgres://spacebot:db-password-0002@postgres:5432/spacebot',
      SPACEBOT_API_TOKEN: 'api-token-never-here-0003',
      TELEGRAM_BOT_TOKEN: '123456:telegram-token-never-here-0004',
    };
    for (const [name, value] of Object.entries(secrets)) {
      const err = await start({ [name]: value }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect({ name, refused: err instanceof ToolsServiceSecretsError }).toEqual({ name, refused: true });
      expect(err?.message).toContain(name);
      expect(err?.message).not.toContain(value);
    }
  });

  test('refuses a config file that carries a provider key', async () => {
    const file = path.join(dir, 'with-key.toml');
    writeFileSync(file, `${readFileSync(configFile, 'utf8')}\n[providers.anthropic]\napi_key = "sk-ant-from-the-file-000000005"\n`);
    const err = await startToolsService(loadConfig({ file, cwd: dir, env: toolsEnv }), logger, toolsEnv).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(ToolsServiceSecretsError);
    expect(err?.message).toMatch(/providers\.anthropic\.apiKey/);
    expect(err?.message).not.toContain('sk-ant-from-the-file');
  });

  test('needs a Temporal address: it never starts an embedded server of its own', async () => {
    const { TEMPORAL_ADDRESS: _none, ...withoutAddress } = toolsEnv;
    await expect(startToolsService(loadConfig({ file: configFile, cwd: dir, env: withoutAddress }), logger, withoutAddress)).rejects.toThrow(/TEMPORAL_ADDRESS/);
  });
});

test('SPACEBOT_TOOLS_SERVICE (or [tools] service) says where tools run, and a wrong value is named', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spacebot-tools-mode-'));
  try {
    expect(loadConfig({ cwd: dir, env: {} }).tools.service).toBe('local');
    expect(loadConfig({ cwd: dir, env: { SPACEBOT_TOOLS_SERVICE: 'external' } }).tools.service).toBe('external');
    writeFileSync(path.join(dir, 'spacebot.toml'), '[tools]\nservice = "external"\n');
    expect(loadConfig({ cwd: dir, env: {} }).tools.service).toBe('external');
    expect(() => loadConfig({ cwd: dir, env: { SPACEBOT_TOOLS_SERVICE: 'remote' } })).toThrow(/SPACEBOT_TOOLS_SERVICE.*"remote"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the workflow routes exactly the workspace tools to the tools service', () => {
  expect([...WORKSPACE_TOOL_NAMES].sort()).toEqual(makeWorkerTools().map((t) => t.name).sort());
});
