import type { BudgetsConfig, PricingConfig } from '../costs/types.js';

import type { HeartbeatsConfig } from '../heartbeats/config.js';
import type { ApiLimits } from './api-limits.js';
import type { AdapterInstanceConfig, BindingConfig, GatewayConfig } from '../gateway/config.js';
import type { CortexConfig } from '../cortex/config.js';
import type { WorkerTuning } from '../runtime/worker-tuning.js';
import type { MemoryConfig } from '../memory/embedders/config.js';
import type { AgentPolicy } from '../policy/config.js';
import type { IngestLimits } from '../ingest/limits.js';
import type { NetworkConfig } from '../net/config.js';
import type { SandboxSettings } from '../sandbox/config.js';
/** The resolved, validated configuration the rest of the code reads (camelCase, defaults applied). */

/** Providers with their own SDK. */
export type NativeProviderId = 'anthropic' | 'openai';
export const NATIVE_PROVIDER_IDS: readonly NativeProviderId[] = ['anthropic', 'openai'];

/** The wire protocol a provider speaks: Anthropic Messages or OpenAI Chat Completions. */
export type ProviderKind = NativeProviderId;

export interface ProviderPreset {
  kind: ProviderKind;
  baseUrl: string;
  /** Environment variable the key is read from; undefined for local servers that need none. */
  keyEnv?: string;
}

/** OpenAI-compatible providers known by name, with their usual base URL and key variable. */
export const PROVIDER_PRESETS: Readonly<Record<string, ProviderPreset>> = {
  openrouter: { kind: 'openai', baseUrl: 'https://openrouter.ai/api/v1', keyEnv: 'OPENROUTER_API_KEY' },
  groq: { kind: 'openai', baseUrl: 'https://api.groq.com/openai/v1', keyEnv: 'GROQ_API_KEY' },
  together: { kind: 'openai', baseUrl: 'https://api.together.xyz/v1', keyEnv: 'TOGETHER_API_KEY' },
  fireworks: { kind: 'openai', baseUrl: 'https://api.fireworks.ai/inference/v1', keyEnv: 'FIREWORKS_API_KEY' },
  deepseek: { kind: 'openai', baseUrl: 'https://api.deepseek.com/v1', keyEnv: 'DEEPSEEK_API_KEY' },
  xai: { kind: 'openai', baseUrl: 'https://api.x.ai/v1', keyEnv: 'XAI_API_KEY' },
  mistral: { kind: 'openai', baseUrl: 'https://api.mistral.ai/v1', keyEnv: 'MISTRAL_API_KEY' },
  gemini: { kind: 'openai', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai', keyEnv: 'GEMINI_API_KEY' },
  ollama: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1' },
  lmstudio: { kind: 'openai', baseUrl: 'http://127.0.0.1:1234/v1' },
};

/** A provider name: a native one, a preset, or a `[providers.<name>]` entry with a `kind`. */
export type ProviderId = string;
/** The built-in provider names (custom ones from the config come on top). */
export const PROVIDER_IDS: readonly ProviderId[] = [...NATIVE_PROVIDER_IDS, ...Object.keys(PROVIDER_PRESETS)];

/** Env variables of the native providers' keys, for error messages. */
export const NATIVE_KEY_ENV: Readonly<Record<NativeProviderId, string>> = { anthropic: 'ANTHROPIC_API_KEY', openai: 'OPENAI_API_KEY' };

export interface ProviderConfig {
  apiKey?: string;
  baseUrl?: string;
  /** Set for custom providers (and presets, which are OpenAI-compatible); native ones are implied by their name. */
  kind?: ProviderKind;
  /** Per-attempt timeout for this provider; else `routing.attemptTimeoutMs`. */
  timeoutMs?: number;
}

/**
 * `anthropic` and `openai` are always present; presets appear once they have a key or a file entry,
 * custom providers when declared. Unlisted presets (ollama, lmstudio) resolve from PROVIDER_PRESETS.
 */
export type ProvidersConfig = Record<NativeProviderId, ProviderConfig> & Record<string, ProviderConfig>;

export interface ModelRef {
  provider: ProviderId;
  model: string;
}

export interface AgentConfig {
  id: string;
  name: string;
  /**
   * The agent's channel model: its own `model`, else `routing.channel`, else `defaults.model`, else the
   * default of the first keyed provider. Undefined when none: turns answer with a configuration error.
   */
  model?: ModelRef;
  promptsDir: string;
  workspace: string;
  maxLlmCallsPerTurn: number;
  maxOutputTokens: number;
  /** Branches, workers and queue behaviour of the agent's channels (docs/processes.md). */
  processes: AgentProcessSettings;
  /** Workers get the memory tools too. */
  memoryToolsForWorkers: boolean;
  /** Autonomy, tool allow/deny lists, who may start workers and approve (docs/security.md). */
  policy: AgentPolicy;
  /** `false` turns streaming off (`[[agents]] streaming` / `[defaults] streaming`); absent means on. */
  streaming?: boolean;
}

export interface AgentProcessSettings {
  queueMode: 'followup' | 'collect' | 'steer' | 'interrupt';
  maxBranches: number;
  maxWorkers: number;
  workerTimeLimitMs: number;
  workerMaxLlmCalls: number;
  branchMaxLlmCalls: number;
  requireReplyTool: boolean;
}

/** The kinds of process that call a model. */
export type ProcessType = 'channel' | 'branch' | 'worker' | 'compactor' | 'cortex';
export const PROCESS_TYPES: readonly ProcessType[] = ['channel', 'branch', 'worker', 'compactor', 'cortex'];

export interface FallbackEntry {
  model: ModelRef;
  /** This entry may be used even when the config marks it as more expensive than the primary. */
  allowMoreExpensive: boolean;
}

export interface FallbackChain {
  models: FallbackEntry[];
  /** Every entry of the chain may be more expensive than the primary. */
  allowMoreExpensive: boolean;
}

export interface RoutingConfig {
  /** Default model per process type (channel: only for agents without their own `model`). */
  processes: Partial<Record<ProcessType, ModelRef>>;
  /** Task type (e.g. `coding`) → model, for workers and branches. */
  tasks: Record<string, ModelRef>;
  /** `provider/model` of a primary → its ordered fallbacks. */
  fallbacks: Record<string, FallbackChain>;
  /** Per-attempt timeout of an LLM request, unless its provider sets `timeout_ms`. */
  attemptTimeoutMs: number;
  /** How long a model that answered 429 without retry-after is skipped. */
  rateLimitCooldownMs: number;
  /** Budget of one LLM call across its activity retries, counted from the first schedule. */
  totalTimeoutMs: number;
}

/** Optional per-model facts from `[models."provider/model"]`. */
export interface ModelSettings {
  /** Lower is cheaper; compared when both models have one. */
  costRank?: number;
  /** USD per million tokens; compared (input + output) when both models have prices and no rank. */
  inputPerMtok?: number;
  outputPerMtok?: number;
  /** Context window in tokens (`context_window`); else the built-in table in lib/compaction/context-window.ts. */
  contextWindow?: number;
}

/** `sandbox` (default `bwrap`), `allowUnsandboxedRoot`, `network`: lib/sandbox/config.ts. */
export interface ToolsConfig extends SandboxSettings {
  /** Default timeout of a shell command the model starts without one. */
  shellTimeoutSeconds: number;
  /** Tool output beyond this many bytes is cut, with a note saying how much. */
  maxOutputBytes: number;
  /**
   * Where workers' shell and file tools run: `local` in the worker process, `external` in a tools
   * service holding no secrets (workers/tools.ts, docs/security.md). SPACEBOT_TOOLS_SERVICE overrides.
   */
  service: 'local' | 'external';
}

export interface SpacebotConfig {
  /** The file the config was read from, if any; named in error messages. */
  source?: string;
  dataDir: string;
  server: { port: number; host: string; bodyLimitBytes: number; apiToken?: string; temporalUiUrl?: string; limits: ApiLimits };
  /** `encryptHistory`: payloads in Temporal history are AES-GCM encrypted (lib/temporal/payload-codec.ts). */
  temporal: { address?: string; namespace: string; taskQueue: string; devServerPort: number; devUiPort: number; encryptHistory: boolean; versioning: VersioningConfig };
  database: { url?: string; poolSize: number };
  /** `[[heartbeats]]` and `[heartbeat_defaults]`: see docs/heartbeats.md. */
  heartbeats: HeartbeatsConfig;
  providers: ProvidersConfig;
  routing: RoutingConfig;
  /** Keyed by `provider/model`. */
  models: Record<string, ModelSettings>;
  continueAsNewAfterTurns: number;
  /** `[defaults] max_pending_messages`: a conversation's bound on unanswered messages (past it: 429). */
  maxPendingMessages: number;
  historyTurns: number;
  agents: AgentConfig[];
  /** `[pricing]` (and `[models]` prices): see docs/costs.md. */
  pricing: PricingConfig;
  /** `[budgets]`: see docs/costs.md. */
  budgets: BudgetsConfig;
  /** `[adapters.<kind>.<instance>]` (enabled ones), `[[bindings]]` and `[gateway]`: see docs/adapters.md. */
  adapters: AdapterInstanceConfig[];
  bindings: BindingConfig[];
  gateway: GatewayConfig;
  /** `[cortex]`: see docs/memory.md. */
  cortex: CortexConfig;
  /** `[ingest]`: caps on ingested documents (lib/ingest/limits.ts, docs/memory.md). */
  ingest: IngestLimits;
  /** `[network]`: what outbound fetches and the workers' egress proxy may reach besides public addresses (docs/security.md). */
  network: NetworkConfig;
  /** `[memory]` (the embedder): see docs/memory.md. */
  memory: MemoryConfig;
  /** `[tools]`: sandboxing, shell timeout and output cap of the workers' task tools. */
  tools: ToolsConfig;
  /** `[worker]`: slots per task queue, shutdown grace, sticky-queue timeout (docs/processes.md). */
  worker: WorkerTuning;
}

export function formatModelRef(ref: ModelRef): string {
  return `${ref.provider}/${ref.model}`;
}

/** `[temporal]` Worker Versioning settings (lib/temporal/worker-versioning.ts, docs/runs.md#versioned-deploys). */
export interface VersioningConfig {
  enabled: boolean;
  deploymentName: string;
  /** Configured (SPACEBOT_BUILD_ID or `build_id`); absent: derived from the package version and the workflow code. */
  buildId?: string;
  /** A worker whose build was never current makes it current once it polls. */
  setCurrentVersion: boolean;
}
