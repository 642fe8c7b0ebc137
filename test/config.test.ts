import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_MODELS, SHIPPED_PROMPTS_DIR, loadConfig } from '../lib/config/load.js';
import { DEFAULT_AGENT_POLICY } from '../lib/policy/config.js';
import { PROVIDER_IDS, type SpacebotConfig } from '../lib/config/types.js';

/** Every test gets its own empty directory as cwd; all are removed at the end. */
/** What an agent's channels run with when the config says nothing (docs/processes.md). */
const DEFAULT_PROCESSES = { queueMode: 'steer', maxBranches: 5, maxWorkers: 5, workerTimeLimitMs: 30 * 60_000, workerMaxLlmCalls: 50, branchMaxLlmCalls: 10, requireReplyTool: false };

const scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-config-test-'));
let dirCount = 0;

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function freshDir(): string {
  const dir = path.join(scratch, `cwd-${dirCount++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

interface Loaded {
  config: SpacebotConfig;
  cwd: string;
  file: string;
}

/** Writes `toml` (if given) as <cwd>/spacebot.toml and loads with exactly `env`, nothing from process.env. */
function load(toml: string | undefined, env: NodeJS.ProcessEnv = {}): Loaded {
  const cwd = freshDir();
  const file = path.join(cwd, 'spacebot.toml');
  if (toml !== undefined) writeFileSync(file, toml);
  return { config: loadConfig({ env, cwd }), cwd, file };
}

/** Runs `fn`, expecting a ConfigError, and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but loading succeeded');
}

/** Writes `toml` as <cwd>/spacebot.toml, expects loading to fail, and returns the error and the file. */
function loadError(toml: string, env: NodeJS.ProcessEnv = {}): { error: ConfigError; file: string } {
  const cwd = freshDir();
  const file = path.join(cwd, 'spacebot.toml');
  writeFileSync(file, toml);
  return { error: configError(() => loadConfig({ env, cwd })), file };
}

function expectListsKnownProviders(message: string): void {
  for (const provider of PROVIDER_IDS) expect(message).toContain(provider);
}

describe('loadConfig defaults', () => {
  it('with no file and an empty env gives one agent "main" without a model and the documented defaults', () => {
    const { config, cwd } = load(undefined, {});

    expect(config.source).toBeUndefined();
    expect(config.agents).toHaveLength(1);
    const [main] = config.agents;
    expect(main).toEqual({
      id: 'main',
      name: 'main',
      model: undefined,
      promptsDir: SHIPPED_PROMPTS_DIR,
      workspace: path.join(cwd, 'data', 'agents', 'main', 'workspace'),
      maxLlmCallsPerTurn: 5,
      maxOutputTokens: 4096,
      processes: DEFAULT_PROCESSES,
      memoryToolsForWorkers: false,
      policy: DEFAULT_AGENT_POLICY,
      streaming: undefined,
    });
    expect(config.server.port).toBe(3000);
    expect(config.server.host).toBe('127.0.0.1');
    expect(config.server.apiToken).toBeUndefined();
    expect(config.dataDir).toBe(path.join(cwd, 'data'));
    expect(config.temporal).toEqual({ address: undefined, namespace: 'default', taskQueue: 'spacebot', devServerPort: 7233, devUiPort: 8233, encryptHistory: false, versioning: { enabled: true, deploymentName: 'spacebot', setCurrentVersion: true } });
    expect(config.database).toEqual({ url: undefined, poolSize: 10 });
    expect(config.providers).toEqual({
      anthropic: { apiKey: undefined, baseUrl: undefined },
      openai: { apiKey: undefined, baseUrl: undefined },
    });
  });

  it('reads <cwd>/spacebot.toml when no file is named', () => {
    const { config, file } = load('[server]\nport = 4100\n');

    expect(config.source).toBe(file);
    expect(config.server.port).toBe(4100);
  });

  it('reads the file named by SPACEBOT_CONFIG, relative to cwd, instead of <cwd>/spacebot.toml', () => {
    const cwd = freshDir();
    writeFileSync(path.join(cwd, 'spacebot.toml'), '[server]\nport = 4100\n');
    mkdirSync(path.join(cwd, 'etc'));
    writeFileSync(path.join(cwd, 'etc', 'other.toml'), '[server]\nport = 4200\n');

    const config = loadConfig({ env: { SPACEBOT_CONFIG: 'etc/other.toml' }, cwd });

    expect(config.source).toBe(path.join(cwd, 'etc', 'other.toml'));
    expect(config.server.port).toBe(4200);
  });
});

describe('loadConfig provider keys', () => {
  it('with only ANTHROPIC_API_KEY the agent uses the default Anthropic model', () => {
    const { config } = load(undefined, { ANTHROPIC_API_KEY: 'sk-ant-1' });

    expect(config.providers.anthropic.apiKey).toBe('sk-ant-1');
    expect(config.providers.openai.apiKey).toBeUndefined();
    expect(config.agents[0]?.model).toEqual({ provider: 'anthropic', model: DEFAULT_MODELS.anthropic });
  });

  it('with only OPENAI_API_KEY the agent uses the default OpenAI model', () => {
    const { config } = load(undefined, { OPENAI_API_KEY: 'sk-openai-1' });

    expect(config.providers.openai.apiKey).toBe('sk-openai-1');
    expect(config.providers.anthropic.apiKey).toBeUndefined();
    expect(config.agents[0]?.model).toEqual({ provider: 'openai', model: DEFAULT_MODELS.openai });
  });

  it('a key in the file selects that provider just like a key in the env', () => {
    const { config } = load('[providers.openai]\napi_key = "sk-file"\n');

    expect(config.agents[0]?.model).toEqual({ provider: 'openai', model: DEFAULT_MODELS.openai });
  });

  it('[defaults] model wins over the provider default', () => {
    const { config } = load('[defaults]\nmodel = "openai/gpt-5-mini"\n', { ANTHROPIC_API_KEY: 'sk-ant-1' });

    expect(config.agents[0]?.model).toEqual({ provider: 'openai', model: 'gpt-5-mini' });
  });

  it('takes base URLs from ANTHROPIC_BASE_URL and OPENAI_BASE_URL', () => {
    const { config } = load(undefined, {
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9001',
      OPENAI_BASE_URL: 'http://127.0.0.1:9002/v1',
    });

    expect(config.providers.anthropic.baseUrl).toBe('http://127.0.0.1:9001');
    expect(config.providers.openai.baseUrl).toBe('http://127.0.0.1:9002/v1');
  });
});

describe('loadConfig: the environment beats the file', () => {
  const toml = `
[server]
port = 4000
data_dir = "file-data"

[temporal]
address = "file-temporal:7233"
namespace = "file-namespace"
dev_server_port = 7300
dev_ui_port = 8300

[database]
url = "postgres://file-host:5432/file"

[providers.anthropic]
api_key = "file-anthropic-key"
base_url = "http://file-anthropic.example"

[providers.openai]
api_key = "file-openai-key"
base_url = "http://file-openai.example/v1"
`;

  type Case = [envName: string, envValue: string, read: (c: SpacebotConfig) => unknown, fromFile: (cwd: string) => unknown, fromEnv: (cwd: string) => unknown];
  const cases: Case[] = [
    ['ANTHROPIC_API_KEY', 'env-anthropic-key', (c) => c.providers.anthropic.apiKey, () => 'file-anthropic-key', () => 'env-anthropic-key'],
    ['OPENAI_API_KEY', 'env-openai-key', (c) => c.providers.openai.apiKey, () => 'file-openai-key', () => 'env-openai-key'],
    ['ANTHROPIC_BASE_URL', 'http://env-anthropic', (c) => c.providers.anthropic.baseUrl, () => 'http://file-anthropic.example', () => 'http://env-anthropic'],
    ['OPENAI_BASE_URL', 'http://env-openai/v1', (c) => c.providers.openai.baseUrl, () => 'http://file-openai.example/v1', () => 'http://env-openai/v1'],
    ['DATABASE_URL', 'postgres://env-host:5432/env', (c) => c.database.url, () => 'postgres://file-host:5432/file', () => 'postgres://env-host:5432/env'],
    ['TEMPORAL_ADDRESS', 'env-temporal:7233', (c) => c.temporal.address, () => 'file-temporal:7233', () => 'env-temporal:7233'],
    ['TEMPORAL_NAMESPACE', 'env-namespace', (c) => c.temporal.namespace, () => 'file-namespace', () => 'env-namespace'],
    ['SPACEBOT_PORT', '5000', (c) => c.server.port, () => 4000, () => 5000],
    ['SPACEBOT_TEMPORAL_PORT', '7400', (c) => c.temporal.devServerPort, () => 7300, () => 7400],
    ['SPACEBOT_TEMPORAL_UI_PORT', '8400', (c) => c.temporal.devUiPort, () => 8300, () => 8400],
    ['SPACEBOT_DATA_DIR', 'env-data', (c) => c.dataDir, (cwd) => path.join(cwd, 'file-data'), (cwd) => path.join(cwd, 'env-data')],
  ];

  it.each(cases)('%s overrides the file', (envName, envValue, read, fromFile, fromEnv) => {
    const withoutEnv = load(toml, {});
    expect(read(withoutEnv.config)).toEqual(fromFile(withoutEnv.cwd));

    const withEnv = load(toml, { [envName]: envValue });
    expect(read(withEnv.config)).toEqual(fromEnv(withEnv.cwd));
  });

  it('an empty env variable does not override the file', () => {
    const { config } = load(toml, { DATABASE_URL: '', SPACEBOT_PORT: '', ANTHROPIC_API_KEY: '' });

    expect(config.database.url).toBe('postgres://file-host:5432/file');
    expect(config.server.port).toBe(4000);
    expect(config.providers.anthropic.apiKey).toBe('file-anthropic-key');
  });

  it('SPACEBOT_API_TOKEN sets the API token (it is read from the environment only)', () => {
    expect(load(toml, {}).config.server.apiToken).toBeUndefined();
    expect(load(toml, { SPACEBOT_API_TOKEN: 'env-token-123' }).config.server.apiToken).toBe('env-token-123');
  });

  it('SPACEBOT_DATA_DIR also moves the default agent workspaces', () => {
    const { config, cwd } = load(undefined, { SPACEBOT_DATA_DIR: '/srv/spacebot' });

    expect(config.dataDir).toBe('/srv/spacebot');
    expect(config.agents[0]?.workspace).toBe(path.join('/srv/spacebot', 'agents', 'main', 'workspace'));
    expect(config.agents[0]?.workspace.startsWith(cwd)).toBe(false);
  });
});

describe('loadConfig errors', () => {
  it('an unknown top-level key names the key and the file', () => {
    const { error, file } = loadError('colour = "blue"\n');

    expect(error.message).toContain('"colour"');
    expect(error.message).toContain(file);
  });

  it('an unknown nested key names its full path and the file', () => {
    const { error, file } = loadError('[server]\nprot = 1\n');

    expect(error.message).toContain('"server.prot"');
    expect(error.message).toContain(file);
  });

  it('an unknown key inside [[agents]] names the agent index and the file', () => {
    const { error, file } = loadError('[[agents]]\nid = "ok"\n\n[[agents]]\nid = "helper"\nmodle = "openai/gpt-5.4"\n');

    expect(error.message).toContain('"agents.1.modle"');
    expect(error.message).toContain(file);
  });

  it('a value of the wrong type names the key and the file', () => {
    const { error, file } = loadError('[server]\nport = "abc"\n');

    expect(error.message).toContain('server.port');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/number/);
  });

  it('invalid TOML names the file', () => {
    const { error, file } = loadError('[server\nport = 3000\n');

    expect(error.message).toContain(file);
    expect(error.message).toMatch(/TOML/);
  });

  it.each([
    ['[defaults]\nmodel = "gpt-4"\n', 'defaults.model'],
    ['[[agents]]\nid = "main"\nmodel = "gpt-4"\n', 'agents.0.model'],
  ])('a model without a provider is an error naming the key and the known providers (%#)', (toml, key) => {
    const { error, file } = loadError(toml);

    expect(error.message).toContain(key);
    expect(error.message).toContain(file);
    expectListsKnownProviders(error.message);
  });

  it.each([
    ['[defaults]\nmodel = "foo/bar"\n', 'defaults.model'],
    ['[[agents]]\nid = "main"\nmodel = "foo/bar"\n', 'agents.0.model'],
  ])('an unknown provider is an error naming it and the known providers (%#)', (toml, key) => {
    const { error, file } = loadError(toml);

    expect(error.message).toContain(key);
    expect(error.message).toContain('"foo"');
    expect(error.message).toContain(file);
    expectListsKnownProviders(error.message);
  });

  it('duplicate agent ids are an error naming the id and the file', () => {
    const { error, file } = loadError('[[agents]]\nid = "twin"\n\n[[agents]]\nid = "twin"\n');

    expect(error.message).toMatch(/duplicate/);
    expect(error.message).toContain('"twin"');
    expect(error.message).toContain('agents.1');
    expect(error.message).toContain(file);
  });

  it('SPACEBOT_CONFIG pointing at a missing file is an error naming the resolved path', () => {
    const cwd = freshDir();
    // A spacebot.toml in cwd must not be used as a silent fallback.
    writeFileSync(path.join(cwd, 'spacebot.toml'), '');

    const error = configError(() => loadConfig({ env: { SPACEBOT_CONFIG: 'missing.toml' }, cwd }));

    expect(error.message).toContain(path.join(cwd, 'missing.toml'));
    expect(error.message).toMatch(/does not exist/);
  });

  it('an explicit file option pointing at a missing file is an error', () => {
    const cwd = freshDir();

    const error = configError(() => loadConfig({ file: '/nonexistent/spacebot.toml', env: {}, cwd }));

    expect(error.message).toContain('/nonexistent/spacebot.toml');
  });

  it.each(['abc', '3000.5', '-1', '70000'])('SPACEBOT_PORT=%s is an error naming the variable and the value', (value) => {
    const error = configError(() => load(undefined, { SPACEBOT_PORT: value }));

    expect(error.message).toContain('SPACEBOT_PORT');
    expect(error.message).toContain(`"${value}"`);
  });
});

describe('loadConfig agents from the file', () => {
  it('keep their own model, prompts_dir and workspace, resolved against cwd', () => {
    const { config, cwd } = load(
      `
[defaults]
model = "anthropic/claude-haiku-5-5"
max_llm_calls_per_turn = 7
queue_mode = "followup"

[[agents]]
id = "support"
name = "Support Bot"
model = "openai/gpt-5-mini"
prompts_dir = "prompts/support"
workspace = "spaces/support"
max_output_tokens = 1000
queue_mode = "interrupt"
max_workers = 2
worker_time_limit_minutes = 5
memory_tools_for_workers = true

[[agents]]
id = "ops"
workspace = "/var/lib/ops-workspace"
max_llm_calls_per_turn = 2
`,
      { ANTHROPIC_API_KEY: 'sk-ant-1', OPENAI_API_KEY: 'sk-openai-1' },
    );

    expect(config.agents).toEqual([
      {
        id: 'support',
        name: 'Support Bot',
        model: { provider: 'openai', model: 'gpt-5-mini' },
        promptsDir: path.join(cwd, 'prompts', 'support'),
        workspace: path.join(cwd, 'spaces', 'support'),
        maxLlmCallsPerTurn: 7,
        maxOutputTokens: 1000,
        processes: { ...DEFAULT_PROCESSES, queueMode: 'interrupt', maxWorkers: 2, workerTimeLimitMs: 5 * 60_000 },
        memoryToolsForWorkers: true,
        policy: DEFAULT_AGENT_POLICY,
        streaming: undefined,
      },
      {
        id: 'ops',
        name: 'ops',
        model: { provider: 'anthropic', model: 'claude-haiku-5-5' },
        promptsDir: SHIPPED_PROMPTS_DIR,
        workspace: '/var/lib/ops-workspace',
        maxLlmCallsPerTurn: 2,
        maxOutputTokens: 4096,
        processes: { ...DEFAULT_PROCESSES, queueMode: 'followup' },
        memoryToolsForWorkers: false,
        policy: DEFAULT_AGENT_POLICY,
        streaming: undefined,
      },
    ]);
  });

  it('an agent without a workspace gets one under the data dir', () => {
    const { config, cwd } = load('[server]\ndata_dir = "state"\n\n[[agents]]\nid = "helper"\n');

    expect(config.agents.map((a) => a.id)).toEqual(['helper']);
    expect(config.agents[0]?.workspace).toBe(path.join(cwd, 'state', 'agents', 'helper', 'workspace'));
  });
});
