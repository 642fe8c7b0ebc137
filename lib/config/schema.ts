import { z } from 'zod';
import { networkSchema } from '../net/config.js';
import { ingestSchema } from '../ingest/limits.js';
import { PROCESS_TYPES, PROVIDER_IDS, type ProcessType } from './types.js';
import { heartbeatConfigSchema, heartbeatDefaultsSchema } from '../heartbeats/config.js';
import { apiLimitsSchemaFields } from './api-limits.js';
import { budgetsSchema, pricingSchema } from '../costs/config.js';
import { adaptersSchema, bindingSchema, gatewaySchema } from '../gateway/config.js';
import { cortexSchema } from '../cortex/config.js';
import { memorySchema } from '../memory/embedders/config.js';
import { sandboxSchemaFields } from '../sandbox/config.js';
import { agentPolicyShape } from '../policy/config.js';
import { workerTuningSchema } from '../runtime/worker-tuning.js';

/**
 * The shape of `spacebot.toml`. Every object is strict so a misspelt key stops start-up with its
 * path named instead of being silently ignored. Keys are snake_case as is usual in TOML.
 */

const modelRef = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]*\/.+$/,
    `expected "provider/model", e.g. "anthropic/claude-sonnet-5-5"; known providers: ${PROVIDER_IDS.join(', ')}`,
  );

const providerSchema = z
  .object({
    /** Required for custom providers; presets and native providers know their own. */
    kind: z.enum(['openai', 'anthropic']).optional(),
    api_key: z.string().min(1).optional(),
    base_url: z.url().optional(),
    /** Per-attempt request timeout for this provider. */
    timeout_ms: z.number().int().min(100).max(600_000).optional(),
  })
  .strict();

const fallbackEntry = z.union([modelRef, z.object({ model: modelRef, allow_more_expensive: z.boolean().optional() }).strict()]);
const fallbackChain = z.union([
  z.array(fallbackEntry),
  z.object({ models: z.array(fallbackEntry), allow_more_expensive: z.boolean().optional() }).strict(),
]);

const routingSchema = z
  .object({
    ...(Object.fromEntries(PROCESS_TYPES.map((p) => [p, modelRef.optional()])) as Record<ProcessType, z.ZodOptional<typeof modelRef>>),
    tasks: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "-" and "_"'), modelRef).optional(),
    fallbacks: z.record(modelRef, fallbackChain).optional(),
    /** Per-attempt timeout of one LLM request (providers may override with timeout_ms). */
    attempt_timeout_ms: z.number().int().min(100).max(600_000).optional(),
    /** Cooldown after a 429 that carried no retry-after. */
    rate_limit_cooldown_ms: z.number().int().min(0).max(3_600_000).optional(),
    /**
     * How long one LLM call may keep failing over, across activity retries, before the user is told.
     * At most the LLM activity's schedule-to-close timeout (10 min, workflows/activity-options.ts).
     */
    total_timeout_ms: z.number().int().min(1_000).max(600_000).optional(),
  })
  .strict();

const modelSettingsSchema = z
  .object({
    cost_rank: z.number().min(0).optional(),
    input_per_mtok: z.number().min(0).optional(),
    output_per_mtok: z.number().min(0).optional(),
    /** The model's context window in tokens; overrides lib/compaction/context-window.ts. */
    context_window: z.number().int().min(256).max(100_000_000).optional(),
  })
  .strict();

/**
 * How an agent's channels run their processes; allowed per agent and in `[defaults]`. See
 * docs/processes.md.
 */
const processSettingsShape = {
  /** What happens to messages arriving while a turn runs: followup, collect, steer (default) or interrupt. */
  queue_mode: z.enum(['followup', 'collect', 'steer', 'interrupt']).optional(),
  max_branches: z.number().int().min(0).max(50).optional(),
  max_workers: z.number().int().min(0).max(50).optional(),
  worker_time_limit_minutes: z.number().min(1).max(24 * 60).optional(),
  worker_max_llm_calls: z.number().int().min(1).max(500).optional(),
  branch_max_llm_calls: z.number().int().min(1).max(100).optional(),
  /** Workers get memory_save/recall/delete too (branches always have them). */
  memory_tools_for_workers: z.boolean().optional(),
  /** The channel speaks only through `reply`/`skip`: bare text is nudged (twice) before it is sent. */
  require_reply_tool: z.boolean().optional(),
};

const agentSchema = z
  .object({
    ...processSettingsShape,
    /** Autonomy and tool policy: lib/policy/config.ts, docs/security.md. */
    ...agentPolicyShape,
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", at most 63'),
    name: z.string().min(1).optional(),
    model: modelRef.optional(),
    /** Directory with CHANNEL.md and friends that override the shipped prompts. */
    prompts_dir: z.string().optional(),
    /** The agent's workspace; identity files (SOUL.md, IDENTITY.md, USER.md) are read from it. */
    workspace: z.string().optional(),
    max_llm_calls_per_turn: z.number().int().min(1).max(50).optional(),
    max_output_tokens: z.number().int().min(16).max(128_000).optional(),
    /** Show answers while the model writes them (edit-in-place, webhook SSE); default true. */
    streaming: z.boolean().optional(),
  })
  .strict();

export const configFileSchema = z
  .object({
    server: z
      .object({
        port: z.number().int().min(0).max(65_535).optional(),
        host: z.string().optional(),
        data_dir: z.string().optional(),
        body_limit_bytes: z.number().int().min(1024).optional(),
        temporal_ui_url: z.url().optional(),
        ...apiLimitsSchemaFields,
      })
      .strict()
      .optional(),
    temporal: z
      .object({
        address: z.string().optional(),
        namespace: z.string().optional(),
        task_queue: z.string().optional(),
        /** Ports of the embedded dev server (used only without an address). */
        dev_server_port: z.number().int().min(1).max(65_535).optional(),
        dev_ui_port: z.number().int().min(1).max(65_535).optional(),
        /** Encrypt payloads (user text, tool output) in Temporal history with the master key (docs/security.md#history-at-rest). */
        encrypt_history: z.boolean().optional(),
        /** Worker Versioning (docs/runs.md#versioned-deploys): workers join a Worker Deployment under a build id. */
        worker_versioning: z.boolean().optional(),
        /** The Worker Deployment's name; Temporal joins it to the build id with a dot, so it holds none. */
        deployment_name: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,100}$/, 'letters, digits, "_" and "-" (no dots), at most 100')
          .optional(),
        /** This build's id (default: package version + a hash of the workflow code); SPACEBOT_BUILD_ID overrides. */
        build_id: z.string().optional(),
        /** A worker starting with a build that was never current makes it current (default true). */
        set_current_version: z.boolean().optional(),
      })
      .strict()
      .optional(),
    database: z.object({ url: z.string().optional(), pool_size: z.number().int().min(1).optional() }).strict().optional(),
    /** `[[heartbeats]]` and `[heartbeat_defaults]`: see lib/heartbeats/config.ts and docs/heartbeats.md. */
    heartbeats: z.array(heartbeatConfigSchema).optional(),
    heartbeat_defaults: heartbeatDefaultsSchema.optional(),
    /** Native (anthropic, openai), presets by name, or custom names with a `kind`. */
    providers: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'provider names: lowercase letters, digits, "-" and "_"'), providerSchema).optional(),
    routing: routingSchema.optional(),
    /** Keyed by "provider/model". */
    models: z.record(modelRef, modelSettingsSchema).optional(),
    defaults: z
      .object({
        model: modelRef.optional(),
        max_llm_calls_per_turn: z.number().int().min(1).max(50).optional(),
        max_output_tokens: z.number().int().min(16).max(128_000).optional(),
        continue_as_new_after_turns: z.number().int().min(1).optional(),
        /** Messages a conversation holds unanswered, at most; past it: 429 with Retry-After (docs/processes.md). */
        max_pending_messages: z.number().int().min(1).max(200).optional(),
        history_turns: z.number().int().min(1).max(1000).optional(),
        /** Default of every agent's `streaming`. */
        streaming: z.boolean().optional(),
        ...processSettingsShape,
      })
      .strict()
      .optional(),
    agents: z.array(agentSchema).optional(),
    /** Prices and budgets: see lib/costs/config.ts and docs/costs.md. */
    pricing: pricingSchema.optional(),
    budgets: budgetsSchema.optional(),
    /** Chat platforms, bindings and the gateway: see lib/gateway/config.ts and docs/adapters.md. */
    adapters: adaptersSchema.optional(),
    bindings: z.array(bindingSchema).optional(),
    gateway: gatewaySchema.optional(),
    /** `[cortex]`: memory maintenance (lib/cortex/config.ts, docs/memory.md). */
    cortex: cortexSchema.optional(),
    /** `[memory]`: the embedder (lib/memory/embedders/config.ts, docs/memory.md). */
    memory: memorySchema.optional(),
    /** `[ingest]`: caps on documents turned into memories (lib/ingest/limits.ts, docs/memory.md). */
    ingest: ingestSchema.optional(),
    /** `[network]`: allow-list of the outbound URL guard and the workers' egress proxy (lib/net/config.ts, docs/security.md). */
    network: networkSchema.optional(),
    /** `[worker]`: slots per task queue, shutdown grace, sticky-queue timeout (lib/runtime/worker-tuning.ts, docs/processes.md). */
    worker: workerTuningSchema.optional(),
    /** `[tools]`: how workers' task tools run (lib/tools/workspace/). */
    tools: z
      .object({
        /** sandbox, allow_unsandboxed_root, network: lib/sandbox/config.ts, docs/security.md. */
        ...sandboxSchemaFields,
        shell_timeout_seconds: z.number().int().min(1).max(1800).optional(),
        max_output_bytes: z.number().int().min(1024).max(1_048_576).optional(),
        /** `local` (default): the worker runs shell and file tools; `external`: a tools service does (workers/tools.ts). */
        service: z.enum(['local', 'external']).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ConfigFile = z.infer<typeof configFileSchema>;
