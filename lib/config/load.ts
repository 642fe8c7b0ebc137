import { existsSync, readFileSync } from 'node:fs';
import { resolveIngestLimits } from '../ingest/limits.js';
import { resolveNetwork } from '../net/config.js';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import type { z } from 'zod';
import { configFileSchema, type ConfigFile } from './schema.js';
import { resolveHeartbeats } from '../heartbeats/config.js';
import { resolveApiLimits } from './api-limits.js';
import { resolveBudgets, resolvePricing } from '../costs/config.js';
import { resolveGatewayConfig } from '../gateway/config.js';
import { resolveCortex } from '../cortex/config.js';
import { resolveWorkerTuning } from '../runtime/worker-tuning.js';
import { resolveMemory } from '../memory/embedders/config.js';
import { resolveSandboxSettings } from '../sandbox/config.js';
import { resolveAgentPolicy } from '../policy/config.js';
import { DEFAULT_MAX_PENDING_MESSAGES } from '../../workflows/channel-contract.js';
import {
  NATIVE_PROVIDER_IDS,
  PROCESS_TYPES,
  PROVIDER_IDS,
  PROVIDER_PRESETS,
  formatModelRef,
  type AgentConfig,
  type FallbackChain,
  type ModelRef,
  type ModelSettings,
  type NativeProviderId,
  type ProviderConfig,
  type ProvidersConfig,
  type RoutingConfig,
  type SpacebotConfig,
} from './types.js';

/** Raised for any invalid configuration; the message names the file and the offending key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Per-attempt timeout of an LLM request when neither the provider nor [routing] sets one. */
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 120_000;
/** Cooldown of a model after a 429 without retry-after. */
export const DEFAULT_RATE_LIMIT_COOLDOWN_MS = 60_000;
/** How long one LLM call may keep failing over before the user is told (= LLM_OPTIONS.scheduleToCloseTimeout). */
export const DEFAULT_TOTAL_TIMEOUT_MS = 600_000;

/** Used when only a provider key is given. Overridable per agent or in [defaults]. */
export const DEFAULT_MODELS: Record<NativeProviderId, string> = {
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

/**
 * Splits "provider/model" at the first slash (the model may contain more, as in
 * "openrouter/meta-llama/llama-3-70b") and checks the provider is known.
 */
export function parseModelRef(ref: string, where: string, file: string | undefined, known: readonly string[] = PROVIDER_IDS): ModelRef {
  const slash = ref.indexOf('/');
  const provider = slash > 0 ? ref.slice(0, slash) : '';
  const model = slash > 0 ? ref.slice(slash + 1) : '';
  if (!provider || !model) {
    throw new ConfigError(`${file ?? 'configuration'}: "${where}": expected "provider/model" in "${ref}"; known providers: ${known.join(', ')}`);
  }
  if (!known.includes(provider)) {
    throw new ConfigError(`${file ?? 'configuration'}: "${where}": unknown provider "${provider}" in "${ref}"; known providers: ${known.join(', ')}`);
  }
  return { provider, model };
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(`environment variable ${name}: expected a port number, got "${value}"`);
  return n;
}

/** A configured build id, checked as Temporal checks it, so a bad one stops start-up with its name. */
function buildIdFrom(value: string | undefined): { buildId?: string } {
  if (value === undefined || value === '') return {};
  if (value.length > 255 || value.startsWith('__') || /\s/.test(value)) {
    throw new ConfigError(`SPACEBOT_BUILD_ID / temporal.build_id: expected at most 255 characters, no whitespace, not starting with "__", got "${value.slice(0, 80)}"`);
  }
  return { buildId: value };
}

function resolveConfig(cfg: ConfigFile, env: NodeJS.ProcessEnv, cwd: string, file: string | undefined): SpacebotConfig {
  const providers = resolveProviders(cfg, env, file);
  const known = [...PROVIDER_IDS, ...Object.keys(providers).filter((p) => !PROVIDER_IDS.includes(p))];
  const ref = (value: string, where: string) => parseModelRef(value, where, file, known);
  const routing = resolveRouting(cfg, ref);
  const models: Record<string, ModelSettings> = {};
  for (const [key, m] of Object.entries(cfg.models ?? {})) {
    models[formatModelRef(ref(key, `models.${key}`))] = {
      costRank: m.cost_rank,
      inputPerMtok: m.input_per_mtok,
      outputPerMtok: m.output_per_mtok,
      ...(m.context_window !== undefined ? { contextWindow: m.context_window } : {}),
    };
  }
  const defaultModel = cfg.defaults?.model ? ref(cfg.defaults.model, 'defaults.model') : firstKeyedProviderDefault(providers);
  const channelDefault = routing.processes.channel ?? defaultModel;
  const dataDir = path.resolve(cwd, env.SPACEBOT_DATA_DIR || cfg.server?.data_dir || 'data');
  const agentsIn = cfg.agents?.length ? cfg.agents : [{ id: 'main' }];
  const seen = new Set<string>();
  const agents = agentsIn.map((a, i): AgentConfig => {
    if (seen.has(a.id)) throw new ConfigError(`${file ?? 'configuration'}: "agents.${i}.id": duplicate agent id "${a.id}"`);
    seen.add(a.id);
    return {
      id: a.id,
      name: a.name ?? a.id,
      model: a.model ? ref(a.model, `agents.${i}.model`) : channelDefault,
      promptsDir: a.prompts_dir ? path.resolve(cwd, a.prompts_dir) : SHIPPED_PROMPTS_DIR,
      workspace: path.resolve(cwd, a.workspace ?? path.join(dataDir, 'agents', a.id, 'workspace')),
      maxLlmCallsPerTurn: a.max_llm_calls_per_turn ?? cfg.defaults?.max_llm_calls_per_turn ?? 5,
      maxOutputTokens: a.max_output_tokens ?? cfg.defaults?.max_output_tokens ?? 4096,
      // Left undefined unless configured: absent means on.
      streaming: a.streaming ?? cfg.defaults?.streaming,
      processes: {
        queueMode: a.queue_mode ?? cfg.defaults?.queue_mode ?? 'steer',
        maxBranches: a.max_branches ?? cfg.defaults?.max_branches ?? 5,
        maxWorkers: a.max_workers ?? cfg.defaults?.max_workers ?? 5,
        workerTimeLimitMs: (a.worker_time_limit_minutes ?? cfg.defaults?.worker_time_limit_minutes ?? 30) * 60_000,
        workerMaxLlmCalls: a.worker_max_llm_calls ?? cfg.defaults?.worker_max_llm_calls ?? 50,
        branchMaxLlmCalls: a.branch_max_llm_calls ?? cfg.defaults?.branch_max_llm_calls ?? 10,
        requireReplyTool: a.require_reply_tool ?? cfg.defaults?.require_reply_tool ?? false,
      },
      memoryToolsForWorkers: a.memory_tools_for_workers ?? cfg.defaults?.memory_tools_for_workers ?? false,
      policy: resolveAgentPolicy(a, `agents.${i}`, (message) => {
        throw new ConfigError(`${file ?? 'configuration'}: ${message}`);
      }),
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
      limits: resolveApiLimits(cfg.server),
    },
    temporal: {
      address: env.TEMPORAL_ADDRESS || cfg.temporal?.address || undefined,
      namespace: env.TEMPORAL_NAMESPACE || cfg.temporal?.namespace || 'default',
      taskQueue: env.SPACEBOT_TASK_QUEUE || cfg.temporal?.task_queue || 'spacebot',
      devServerPort: intFromEnv(env, 'SPACEBOT_TEMPORAL_PORT') ?? cfg.temporal?.dev_server_port ?? 7233,
      devUiPort: intFromEnv(env, 'SPACEBOT_TEMPORAL_UI_PORT') ?? cfg.temporal?.dev_ui_port ?? 8233,
      encryptHistory: cfg.temporal?.encrypt_history ?? false,
      versioning: {
        enabled: cfg.temporal?.worker_versioning ?? true,
        deploymentName: cfg.temporal?.deployment_name ?? 'spacebot',
        ...buildIdFrom(env.SPACEBOT_BUILD_ID || cfg.temporal?.build_id),
        setCurrentVersion: cfg.temporal?.set_current_version ?? true,
      },
    },
    database: { url: env.DATABASE_URL || cfg.database?.url || undefined, poolSize: cfg.database?.pool_size ?? 10 },
    heartbeats: resolveHeartbeats(cfg.heartbeats, cfg.heartbeat_defaults, agents.map((a) => a.id), (message) => {
      throw new ConfigError(`${file ?? 'configuration'}: ${message}`);
    }),
    providers,
    routing,
    models,
    continueAsNewAfterTurns: cfg.defaults?.continue_as_new_after_turns ?? 500,
    maxPendingMessages: cfg.defaults?.max_pending_messages ?? DEFAULT_MAX_PENDING_MESSAGES,
    historyTurns: cfg.defaults?.history_turns ?? 40,
    agents,
    pricing: resolvePricing(cfg.pricing, cfg.models, ref),
    budgets: resolveBudgets(cfg.budgets, agents.map((a) => a.id), (message) => {
      throw new ConfigError(`${file ?? 'configuration'}: ${message}`);
    }),
    ...resolveGatewayConfig({ adapters: cfg.adapters, bindings: cfg.bindings, gateway: cfg.gateway }, agents.map((a) => a.id), (message) => {
      throw new ConfigError(`${file ?? 'configuration'}: ${message}`);
    }),
    cortex: resolveCortex(cfg.cortex),
    ingest: resolveIngestLimits(cfg.ingest),
    network: resolveNetwork(cfg.network),
    memory: resolveMemory(cfg.memory, { env, cwd, dataDir, openaiBaseUrl: providers.openai.baseUrl }),
    tools: {
      ...resolveSandboxSettings(cfg.tools),
      shellTimeoutSeconds: cfg.tools?.shell_timeout_seconds ?? 60,
      maxOutputBytes: cfg.tools?.max_output_bytes ?? 51_200,
      service: toolsServiceFrom(env) ?? cfg.tools?.service ?? 'local',
    },
    worker: resolveWorkerTuning(cfg.worker),
  };
}

/** SPACEBOT_TOOLS_SERVICE, checked: a typo must not silently run tools beside the secrets. */
function toolsServiceFrom(env: NodeJS.ProcessEnv): 'local' | 'external' | undefined {
  const value = env.SPACEBOT_TOOLS_SERVICE?.trim();
  if (!value) return undefined;
  if (value === 'local' || value === 'external') return value;
  throw new ConfigError(`environment variable SPACEBOT_TOOLS_SERVICE: expected "local" or "external", got "${value}"`);
}

function firstKeyedProviderDefault(providers: ProvidersConfig): ModelRef | undefined {
  const keyed = NATIVE_PROVIDER_IDS.find((p) => providers[p].apiKey);
  return keyed ? { provider: keyed, model: DEFAULT_MODELS[keyed] } : undefined;
}

/**
 * Native providers are always listed; a preset once it has a key (file or its env variable) or a
 * file entry; a custom provider when declared with a `kind` and a `base_url`.
 */
function resolveProviders(cfg: ConfigFile, env: NodeJS.ProcessEnv, file: string | undefined): ProvidersConfig {
  const where = file ?? 'configuration';
  const fromFile = cfg.providers ?? {};
  const native = (id: NativeProviderId, keyEnv: string, urlEnv: string): ProviderConfig => {
    const entry = fromFile[id];
    if (entry?.kind && entry.kind !== id) throw new ConfigError(`${where}: "providers.${id}.kind": the ${id} provider is always kind "${id}"`);
    return { apiKey: env[keyEnv] || entry?.api_key, baseUrl: env[urlEnv] || entry?.base_url, ...(entry?.timeout_ms ? { timeoutMs: entry.timeout_ms } : {}) };
  };
  const providers: ProvidersConfig = {
    anthropic: native('anthropic', 'ANTHROPIC_API_KEY', 'ANTHROPIC_BASE_URL'),
    openai: native('openai', 'OPENAI_API_KEY', 'OPENAI_BASE_URL'),
  };
  for (const [name, preset] of Object.entries(PROVIDER_PRESETS)) {
    const entry = fromFile[name];
    const envKey = preset.keyEnv ? env[preset.keyEnv] : undefined;
    if (!entry && !envKey) continue;
    if (entry?.kind && entry.kind !== preset.kind) {
      throw new ConfigError(`${where}: "providers.${name}.kind": ${name} is a preset of kind "${preset.kind}"; declare a provider under another name for a different kind`);
    }
    providers[name] = { kind: preset.kind, apiKey: envKey || entry?.api_key, baseUrl: entry?.base_url ?? preset.baseUrl, timeoutMs: entry?.timeout_ms };
  }
  for (const [name, entry] of Object.entries(fromFile)) {
    if (PROVIDER_IDS.includes(name)) continue;
    if (!entry.kind) {
      throw new ConfigError(
        `${where}: "providers.${name}": unknown provider "${name}"; a custom provider needs kind = "openai" or "anthropic" and a base_url (built-in providers: ${PROVIDER_IDS.join(', ')})`,
      );
    }
    if (!entry.base_url) throw new ConfigError(`${where}: "providers.${name}.base_url": a custom provider needs a base_url`);
    providers[name] = { kind: entry.kind, apiKey: entry.api_key, baseUrl: entry.base_url, timeoutMs: entry.timeout_ms };
  }
  return providers;
}

function resolveRouting(cfg: ConfigFile, ref: (value: string, where: string) => ModelRef): RoutingConfig {
  const r = cfg.routing;
  const processes: RoutingConfig['processes'] = {};
  for (const p of PROCESS_TYPES) {
    const value = r?.[p];
    if (value) processes[p] = ref(value, `routing.${p}`);
  }
  const tasks: RoutingConfig['tasks'] = {};
  for (const [task, value] of Object.entries(r?.tasks ?? {})) tasks[task] = ref(value, `routing.tasks.${task}`);
  const fallbacks: Record<string, FallbackChain> = {};
  for (const [primary, chain] of Object.entries(r?.fallbacks ?? {})) {
    const at = `routing.fallbacks.${primary}`;
    const key = formatModelRef(ref(primary, at));
    const entries = Array.isArray(chain) ? chain : chain.models;
    fallbacks[key] = {
      allowMoreExpensive: !Array.isArray(chain) && chain.allow_more_expensive === true,
      models: entries.map((e, i) =>
        typeof e === 'string'
          ? { model: ref(e, `${at}.${i}`), allowMoreExpensive: false }
          : { model: ref(e.model, `${at}.${i}.model`), allowMoreExpensive: e.allow_more_expensive === true },
      ),
    };
  }
  return {
    processes,
    tasks,
    fallbacks,
    attemptTimeoutMs: r?.attempt_timeout_ms ?? DEFAULT_ATTEMPT_TIMEOUT_MS,
    rateLimitCooldownMs: r?.rate_limit_cooldown_ms ?? DEFAULT_RATE_LIMIT_COOLDOWN_MS,
    totalTimeoutMs: r?.total_timeout_ms ?? DEFAULT_TOTAL_TIMEOUT_MS,
  };
}

export function findAgent(config: SpacebotConfig, id: string): AgentConfig | undefined {
  return config.agents.find((a) => a.id === id);
}
