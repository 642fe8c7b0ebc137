import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_ATTEMPT_TIMEOUT_MS, DEFAULT_RATE_LIMIT_COOLDOWN_MS, loadConfig } from '../../lib/config/load.js';
import { PROVIDER_IDS, PROVIDER_PRESETS, formatModelRef, type SpacebotConfig } from '../../lib/config/types.js';
import { LlmError } from '../../lib/llm/errors.js';
import { ProviderRegistry, providerSettings } from '../../lib/llm/registry.js';
import { isMoreExpensive, resolveModels } from '../../lib/llm/routing.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'spacebot-routing-test-'));
let count = 0;
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function load(toml: string, env: NodeJS.ProcessEnv = {}): SpacebotConfig {
  const cwd = path.join(scratch, `cwd-${count++}`);
  mkdirSync(cwd);
  writeFileSync(path.join(cwd, 'spacebot.toml'), toml);
  return loadConfig({ cwd, env });
}

function loadError(toml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(toml, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function chain(config: SpacebotConfig, process: Parameters<typeof resolveModels>[1]['process'], agentId = 'main', task?: string): string[] {
  const agent = config.agents.find((a) => a.id === agentId);
  if (!agent) throw new Error(`no agent ${agentId}`);
  return resolveModels(config, { agent, process, task }).models.map(formatModelRef);
}

describe('model references and providers in the config', () => {
  it.each([
    ['[defaults]\nmodel = "foo/bar"\n', 'defaults.model'],
    ['[routing]\nchannel = "foo/bar"\n', 'routing.channel'],
    ['[routing]\nworker = "foo/bar"\n', 'routing.worker'],
    ['[routing.tasks]\ncoding = "foo/bar"\n', 'routing.tasks.coding'],
    ['[routing.fallbacks]\n"anthropic/a" = ["openai/b", "foo/bar"]\n', 'routing.fallbacks.anthropic/a.1'],
    ['[routing.fallbacks]\n"foo/bar" = ["openai/b"]\n', 'routing.fallbacks.foo/bar'],
    ['[models."foo/bar"]\ncost_rank = 1\n', 'models.foo/bar'],
  ])('an unknown provider is a ConfigError naming the key and listing every known provider (%#)', (toml, key) => {
    const error = loadError(toml);
    expect(error.message).toContain(key);
    expect(error.message).toContain('"foo"');
    for (const p of PROVIDER_IDS) expect(error.message).toContain(p);
  });

  it('the known providers listed include custom ones from the file', () => {
    const error = loadError('[providers.office]\nkind = "openai"\nbase_url = "http://10.0.0.2:8000/v1"\n\n[defaults]\nmodel = "offfice/x"\n');
    expect(error.message).toContain('"offfice"');
    expect(error.message).toContain('office');
    expect(error.message).toContain('openrouter');
  });

  it.each(['[routing]\nchannel = "gpt-4"\n', '[routing.fallbacks]\n"anthropic/a" = ["gpt-4"]\n'])('a model without a provider is a ConfigError listing the providers (%#)', (toml) => {
    const error = loadError(toml);
    expect(error.message).toMatch(/provider\/model/);
    for (const p of PROVIDER_IDS) expect(error.message).toContain(p);
  });

  it('a model may contain slashes: the provider is everything before the first', () => {
    const config = load('[defaults]\nmodel = "openrouter/meta-llama/llama-3-70b"\n', { OPENROUTER_API_KEY: 'sk-or-123456789' });
    expect(config.agents[0]?.model).toEqual({ provider: 'openrouter', model: 'meta-llama/llama-3-70b' });
  });

  it('presets have their base URLs and read their keys from the usual env variables', () => {
    const expected: Record<string, [string, string | undefined]> = {
      openrouter: ['https://openrouter.ai/api/v1', 'OPENROUTER_API_KEY'],
      groq: ['https://api.groq.com/openai/v1', 'GROQ_API_KEY'],
      together: ['https://api.together.xyz/v1', 'TOGETHER_API_KEY'],
      fireworks: ['https://api.fireworks.ai/inference/v1', 'FIREWORKS_API_KEY'],
      deepseek: ['https://api.deepseek.com/v1', 'DEEPSEEK_API_KEY'],
      xai: ['https://api.x.ai/v1', 'XAI_API_KEY'],
      mistral: ['https://api.mistral.ai/v1', 'MISTRAL_API_KEY'],
      gemini: ['https://generativelanguage.googleapis.com/v1beta/openai', 'GEMINI_API_KEY'],
      ollama: ['http://127.0.0.1:11434/v1', undefined],
      lmstudio: ['http://127.0.0.1:1234/v1', undefined],
    };
    expect(Object.keys(PROVIDER_PRESETS).sort()).toEqual(Object.keys(expected).sort());
    const env = Object.fromEntries(Object.values(expected).flatMap(([, v]) => (v ? [[v, `key-for-${v}`]] : [])));
    const config = load('', env);
    for (const [name, [baseUrl, keyEnv]] of Object.entries(expected)) {
      const settings = providerSettings(config.providers, name);
      expect(settings).toMatchObject({ kind: 'openai', baseUrl, keyEnv });
      expect(settings?.apiKey).toBe(keyEnv ? `key-for-${keyEnv}` : undefined);
    }
  });

  it('a preset key and base URL can come from the file; the env key wins', () => {
    const toml = '[providers.groq]\napi_key = "file-groq-key"\nbase_url = "http://proxy.local/groq/v1"\ntimeout_ms = 5000\n';
    expect(load(toml).providers.groq).toEqual({ kind: 'openai', apiKey: 'file-groq-key', baseUrl: 'http://proxy.local/groq/v1', timeoutMs: 5000 });
    expect(load(toml, { GROQ_API_KEY: 'env-groq-key' }).providers.groq?.apiKey).toBe('env-groq-key');
  });

  it('keeps the native providers and their env variables as before', () => {
    const config = load('[providers.anthropic]\ntimeout_ms = 3000\n', { ANTHROPIC_API_KEY: 'sk-ant-1', OPENAI_BASE_URL: 'http://x.local/v1' });
    expect(config.providers.anthropic).toEqual({ apiKey: 'sk-ant-1', baseUrl: undefined, timeoutMs: 3000 });
    expect(config.providers.openai.baseUrl).toBe('http://x.local/v1');
    expect(config.agents[0]?.model).toEqual({ provider: 'anthropic', model: 'claude-sonnet-5-5' });
  });

  it('custom providers need a kind and a base_url and may be used in any model reference', () => {
    const config = load(
      '[providers.office]\nkind = "anthropic"\nbase_url = "http://10.0.0.2:8000"\napi_key = "office-secret-key"\n\n[defaults]\nmodel = "office/claude/custom"\n',
    );
    expect(config.providers.office).toEqual({ kind: 'anthropic', baseUrl: 'http://10.0.0.2:8000', apiKey: 'office-secret-key', timeoutMs: undefined });
    expect(config.agents[0]?.model).toEqual({ provider: 'office', model: 'claude/custom' });
    expect(providerSettings(config.providers, 'office')).toMatchObject({ kind: 'anthropic', native: false });

    const noKind = loadError('[providers.office]\nbase_url = "http://10.0.0.2:8000"\n');
    expect(noKind.message).toContain('providers.office');
    expect(noKind.message).toMatch(/kind/);
    const noUrl = loadError('[providers.office]\nkind = "openai"\n');
    expect(noUrl.message).toContain('providers.office.base_url');
    const badKind = loadError('[providers.anthropic]\nkind = "openai"\n');
    expect(badKind.message).toContain('providers.anthropic.kind');
  });

  it('the registry builds clients for keyless local presets and explains a missing preset key', () => {
    const config = load('');
    const registry = new ProviderRegistry(config.providers);
    expect(registry.get({ provider: 'ollama', model: 'llama3.3' }).id).toBe('ollama');
    expect(registry.get({ provider: 'lmstudio', model: 'qwen' }).id).toBe('lmstudio');
    let error: unknown;
    try {
      registry.get({ provider: 'groq', model: 'llama-3.3-70b' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LlmError);
    expect((error as LlmError).kind).toBe('not_configured');
    expect((error as LlmError).message).toContain('GROQ_API_KEY');
  });

  it('routing timeouts and cooldowns have defaults and can be set', () => {
    expect(load('').routing).toMatchObject({ attemptTimeoutMs: DEFAULT_ATTEMPT_TIMEOUT_MS, rateLimitCooldownMs: DEFAULT_RATE_LIMIT_COOLDOWN_MS });
    expect(load('[routing]\nattempt_timeout_ms = 1500\nrate_limit_cooldown_ms = 200\n').routing).toMatchObject({ attemptTimeoutMs: 1500, rateLimitCooldownMs: 200 });
  });

  it('an unknown key under [routing] is an error naming it', () => {
    expect(loadError('[routing]\nchanel = "openai/x"\n').message).toContain('routing.chanel');
  });
});

describe('resolveModels', () => {
  const toml = `
[defaults]
model = "anthropic/claude-sonnet-5-5"

[routing]
branch = "openai/gpt-5.4"
worker = "groq/llama-3.3-70b"
compactor = "anthropic/claude-haiku-5-5"

[routing.tasks]
coding = "openrouter/qwen/qwen3-coder"

[routing.fallbacks]
"anthropic/claude-sonnet-5-5" = ["openai/gpt-5.4", "anthropic/claude-sonnet-5-5", "openai/gpt-5.4", "deepseek/deepseek-chat"]
"openai/gpt-5.4" = ["anthropic/claude-sonnet-5-5"]

[[agents]]
id = "main"

[[agents]]
id = "cheap"
model = "openai/gpt-5-mini"
`;

  it('picks the default model per process type, the agent model for channels, and appends the fallbacks in order without duplicates', () => {
    const config = load(toml);
    expect(chain(config, 'channel')).toEqual(['anthropic/claude-sonnet-5-5', 'openai/gpt-5.4', 'deepseek/deepseek-chat']);
    expect(chain(config, 'branch')).toEqual(['openai/gpt-5.4', 'anthropic/claude-sonnet-5-5']);
    expect(chain(config, 'worker')).toEqual(['groq/llama-3.3-70b']);
    expect(chain(config, 'compactor')).toEqual(['anthropic/claude-haiku-5-5']);
    // No cortex default: the agent's model.
    expect(chain(config, 'cortex')).toEqual(['anthropic/claude-sonnet-5-5', 'openai/gpt-5.4', 'deepseek/deepseek-chat']);
  });

  it('an agent model overrides the channel default; other processes keep theirs', () => {
    const config = load(toml);
    expect(chain(config, 'channel', 'cheap')).toEqual(['openai/gpt-5-mini']);
    expect(chain(config, 'branch', 'cheap')).toEqual(['openai/gpt-5.4', 'anthropic/claude-sonnet-5-5']);
  });

  it('routing.channel is the model of agents without their own', () => {
    const config = load('[defaults]\nmodel = "anthropic/a"\n\n[routing]\nchannel = "openai/b"\n\n[[agents]]\nid = "main"\n\n[[agents]]\nid = "own"\nmodel = "anthropic/c"\n');
    expect(chain(config, 'channel')).toEqual(['openai/b']);
    expect(chain(config, 'channel', 'own')).toEqual(['anthropic/c']);
  });

  it('a task type override wins over the process default; an unknown task type is ignored', () => {
    const config = load(toml);
    expect(chain(config, 'worker', 'main', 'coding')).toEqual(['openrouter/qwen/qwen3-coder']);
    expect(chain(config, 'branch', 'main', 'coding')).toEqual(['openrouter/qwen/qwen3-coder']);
    expect(chain(config, 'worker', 'main', 'poetry')).toEqual(['groq/llama-3.3-70b']);
  });

  it('no model configured gives an empty chain', () => {
    const config = load('');
    expect(chain(config, 'channel')).toEqual([]);
  });

  describe('cost', () => {
    const priced = `
[defaults]
model = "anthropic/mid"

[models."anthropic/mid"]
cost_rank = 2
[models."openai/dear"]
cost_rank = 3
[models."openai/cheap"]
cost_rank = 1
`;
    it('leaves out fallbacks the config marks as more expensive, and says so', () => {
      const config = load(`${priced}\n[routing.fallbacks]\n"anthropic/mid" = ["openai/dear", "openai/cheap", "openai/unpriced"]\n`);
      const agent = config.agents[0]!;
      const route = resolveModels(config, { agent, process: 'channel' });
      expect(route.models.map(formatModelRef)).toEqual(['anthropic/mid', 'openai/cheap', 'openai/unpriced']);
      expect(route.skipped).toEqual([{ model: 'openai/dear', reason: 'more_expensive' }]);
    });

    it('a per-entry allow_more_expensive lets that entry through', () => {
      const config = load(`${priced}\n[routing.fallbacks]\n"anthropic/mid" = [{ model = "openai/dear", allow_more_expensive = true }, "openai/cheap"]\n`);
      expect(chain(config, 'channel')).toEqual(['anthropic/mid', 'openai/dear', 'openai/cheap']);
    });

    it('a chain-level allow_more_expensive lets every entry through', () => {
      const config = load(`${priced}\n[routing.fallbacks."anthropic/mid"]\nmodels = ["openai/dear", "openai/cheap"]\nallow_more_expensive = true\n`);
      expect(chain(config, 'channel')).toEqual(['anthropic/mid', 'openai/dear', 'openai/cheap']);
    });

    it('compares rank when both have one, else input + output price, else nothing is more expensive', () => {
      expect(isMoreExpensive({ costRank: 3 }, { costRank: 2 })).toBe(true);
      expect(isMoreExpensive({ costRank: 2 }, { costRank: 2 })).toBe(false);
      expect(isMoreExpensive({ inputPerMtok: 3, outputPerMtok: 15 }, { inputPerMtok: 1, outputPerMtok: 5 })).toBe(true);
      expect(isMoreExpensive({ inputPerMtok: 1, outputPerMtok: 5 }, { inputPerMtok: 3, outputPerMtok: 15 })).toBe(false);
      expect(isMoreExpensive({ costRank: 9 }, { inputPerMtok: 1, outputPerMtok: 1 })).toBe(false);
      expect(isMoreExpensive({ inputPerMtok: 9 }, { inputPerMtok: 1, outputPerMtok: 1 })).toBe(false);
      expect(isMoreExpensive(undefined, { costRank: 1 })).toBe(false);
    });
  });
});

describe('docs/models.md', () => {
  it('every TOML example in it loads', () => {
    const doc = readFileSync(path.join(path.dirname(new URL(import.meta.url).pathname), '../../docs/models.md'), 'utf8');
    const blocks = [...doc.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    for (const block of blocks) expect(() => load(block, { ANTHROPIC_API_KEY: 'sk-ant-doc-123456' })).not.toThrow();
    const example = load(blocks.at(-1) ?? '', { ANTHROPIC_API_KEY: 'sk-ant-doc-123456', OPENROUTER_API_KEY: 'sk-or-doc-123456' });
    expect(chain(example, 'channel')).toEqual(['anthropic/claude-sonnet-5-5', 'openai/gpt-5.4', 'openrouter/meta-llama/llama-3-70b']);
    expect(chain(example, 'worker')).toEqual(['office/qwen3-32b', 'ollama/qwen3:32b']);
    expect(chain(example, 'worker', 'main', 'coding')).toEqual(['openrouter/qwen/qwen3-coder']);
  });
});
