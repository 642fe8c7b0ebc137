import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { configFileSchema, type ConfigFile } from './schema.js';
import { PROVIDER_IDS, type AgentConfig, type ModelRef, type ProviderId, type SpacebotConfig } from './types.js';

/** Raised for any invalid configuration; the message names the file and the offending key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Used when only a provider key is given. Overridable per agent or in [defaults]. */
export const DEFAULT_MODELS: Record<ProviderId, string> = {
  anthropic: 'claude-sonnet-5-5',
  openai: 'gpt-5.4',
};

import { SHIPPED_PROMPTS_DIR } from '../paths.js';

export { SHIPPED_PROMPTS_DIR };

export interface LoadOptions {
  /** Explicit config path; else SPACEBOT_CONFIG, else ./spacebot.toml when it exists. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function loadConfig(options: LoadOptions = {}): SpacebotConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = resolveConfigPath(options.file ?? env.SPACEBOT_CONFIG, cwd);
  const raw = file ? readToml(file) : {};
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error, file ?? 'configuration'));
  return resolveConfig(parsed.data, env, cwd, file);
}

function resolveConfigPath(explicit: string | undefined, cwd: string): string | undefined {
  if (explicit) {
    const full = path.resolve(cwd, explicit);
    if (!existsSync(full)) throw new ConfigError(`config file ${full} does not exist (from SPACEBOT_CONFIG or --config)`);
    return full;
  }
  const fallback = path.join(cwd, 'spacebot.toml');
  return existsSync(fallback) ? fallback : undefined;
}

function readToml(file: string): unknown {
  try {
    return parseToml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: not valid TOML: ${(err as Error).message}`);
  }
}

function formatIssues(error: z.ZodError, file: string): string {
  const lines = error.issues.map((issue) => {
    const at = issue.path.length ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const keys = issue.keys.map((k) => (issue.path.length ? `${at}.${k}` : k));
      return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `"${at}": ${issue.message}`;
  });
  return `${file}: invalid configuration: ${lines.join('; ')}`;
}

function parseModelRef(ref: string, where: string, file: string | undefined): ModelRef {
  const slash = ref.indexOf('/');
  const provider = ref.slice(0, slash);
  if (!PROVIDER_IDS.includes(provider as ProviderId)) {
    throw new ConfigError(
      `${file ?? 'configuration'}: "${where}": unknown provider "${provider}" in "${ref}"; known providers: ${PROVIDER_IDS.join(', ')}`,
    );
  }
  return { provider: provider as ProviderId, model: ref.slice(slash + 1) };
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(`environment variable ${name}: expected a port number, got "${value}"`);
  return n;
}

function resolveConfig(cfg: ConfigFile, env: NodeJS.ProcessEnv, cwd: string, file: string | undefined): SpacebotConfig {
  const providers: SpacebotConfig['providers'] = {
    anthropic: {
      apiKey: env.ANTHROPIC_API_KEY || cfg.providers?.anthropic?.api_key,
      baseUrl: env.ANTHROPIC_BASE_URL || cfg.providers?.anthropic?.base_url,
    },
    openai: {
      apiKey: env.OPENAI_API_KEY || cfg.providers?.openai?.api_key,
      baseUrl: env.OPENAI_BASE_URL || cfg.providers?.openai?.base_url,
    },
  };
  const defaultModel = cfg.defaults?.model
    ? parseModelRef(cfg.defaults.model, 'defaults.model', file)
    : firstKeyedProviderDefault(providers);
  const dataDir = path.resolve(cwd, env.SPACEBOT_DATA_DIR || cfg.server?.data_dir || 'data');
  const agentsIn = cfg.agents?.length ? cfg.agents : [{ id: 'main' }];
  const seen = new Set<string>();
  const agents = agentsIn.map((a, i): AgentConfig => {
    if (seen.has(a.id)) throw new ConfigError(`${file ?? 'configuration'}: "agents.${i}.id": duplicate agent id "${a.id}"`);
    seen.add(a.id);
    return {
      id: a.id,
      name: a.name ?? a.id,
      model: a.model ? parseModelRef(a.model, `agents.${i}.model`, file) : defaultModel,
      promptsDir: a.prompts_dir ? path.resolve(cwd, a.prompts_dir) : SHIPPED_PROMPTS_DIR,
      workspace: path.resolve(cwd, a.workspace ?? path.join(dataDir, 'agents', a.id, 'workspace')),
      maxLlmCallsPerTurn: a.max_llm_calls_per_turn ?? cfg.defaults?.max_llm_calls_per_turn ?? 5,
      maxOutputTokens: a.max_output_tokens ?? cfg.defaults?.max_output_tokens ?? 4096,
    };
  });
  return {
    source: file,
    dataDir,
    server: {
      port: intFromEnv(env, 'SPACEBOT_PORT') ?? cfg.server?.port ?? 3000,
      host: env.SPACEBOT_HOST || cfg.server?.host || '127.0.0.1',
      bodyLimitBytes: cfg.server?.body_limit_bytes ?? 256 * 1024,
      apiToken: env.SPACEBOT_API_TOKEN || undefined,
      temporalUiUrl: env.TEMPORAL_UI_URL || cfg.server?.temporal_ui_url,
    },
    temporal: {
      address: env.TEMPORAL_ADDRESS || cfg.temporal?.address || undefined,
      namespace: env.TEMPORAL_NAMESPACE || cfg.temporal?.namespace || 'default',
      taskQueue: env.SPACEBOT_TASK_QUEUE || cfg.temporal?.task_queue || 'spacebot',
      devServerPort: intFromEnv(env, 'SPACEBOT_TEMPORAL_PORT') ?? cfg.temporal?.dev_server_port ?? 7233,
      devUiPort: intFromEnv(env, 'SPACEBOT_TEMPORAL_UI_PORT') ?? cfg.temporal?.dev_ui_port ?? 8233,
    },
    database: { url: env.DATABASE_URL || cfg.database?.url || undefined, poolSize: cfg.database?.pool_size ?? 10 },
    providers,
    continueAsNewAfterTurns: cfg.defaults?.continue_as_new_after_turns ?? 500,
    historyTurns: cfg.defaults?.history_turns ?? 40,
    agents,
  };
}

function firstKeyedProviderDefault(providers: SpacebotConfig['providers']): ModelRef | undefined {
  const keyed = PROVIDER_IDS.find((p) => providers[p].apiKey);
  return keyed ? { provider: keyed, model: DEFAULT_MODELS[keyed] } : undefined;
}

export function findAgent(config: SpacebotConfig, id: string): AgentConfig | undefined {
  return config.agents.find((a) => a.id === id);
}
